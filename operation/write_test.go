package operation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

type answer struct {
	UserID   string  `json:"user_id"`
	DeviceID *string `json:"device_id,omitempty"`
	Note     string  `json:"note"`
}

var sample = answer{UserID: "@alice:example.org", DeviceID: new("PHONE"), Note: "<&> are escaped"}

// encoderWrite is what oapi-codegen's Visit methods do, which WriteJSON
// replaces in generated code.
func encoderWrite(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// TestWriteJSONSameBytes checks that WriteJSON sends what the Visit method
// it replaces sent: status, headers and body, byte for byte.
func TestWriteJSONSameBytes(t *testing.T) {
	fast, slow := httptest.NewRecorder(), httptest.NewRecorder()
	if err := WriteJSON(fast, 401, sample); err != nil {
		t.Fatal(err)
	}
	if err := encoderWrite(slow, 401, sample); err != nil {
		t.Fatal(err)
	}
	if fast.Code != slow.Code || !bytes.Equal(fast.Body.Bytes(), slow.Body.Bytes()) ||
		fast.Header().Get("Content-Type") != slow.Header().Get("Content-Type") || len(fast.Header()) != len(slow.Header()) {
		t.Errorf("WriteJSON: %d %v %q\nEncoder:   %d %v %q", fast.Code, fast.Header(), fast.Body, slow.Code, slow.Header(), slow.Body)
	}
	// A later Add must not change the shared value.
	fast.Header().Add("Content-Type", "text/plain")
	if jsonContentType[0] != "application/json" || len(jsonContentType) != 1 {
		t.Errorf("shared header value changed: %v", jsonContentType)
	}
}

// discard is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the writers alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkWriteJSON(b *testing.B) { benchmarkWriter(b, WriteJSON) }

// BenchmarkEncoderWrite is the baseline for BenchmarkWriteJSON: the form
// oapi-codegen generates.
func BenchmarkEncoderWrite(b *testing.B) { benchmarkWriter(b, encoderWrite) }

func benchmarkWriter(b *testing.B, write func(http.ResponseWriter, int, any) error) {
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if err := write(w, 200, sample); err != nil {
			b.Fatal(err)
		}
	}
}
