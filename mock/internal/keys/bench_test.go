package keys

import (
	"encoding/json"
	"fmt"
	"testing"
)

// A sync with nothing new for the device, in a store whose change log
// holds 1,000 entries: the cost of every idle long-poll's look.
func BenchmarkSyncIdle(b *testing.B) {
	s, _ := newWorld()
	for i := range 1000 {
		if _, err := s.Upload(fmt.Sprint("@u", i, ":x"), "D", UploadRequest{DeviceKeys: deviceKeys(fmt.Sprint("@u", i, ":x"), "D")}); err != nil {
			b.Fatal(err)
		}
	}
	since := s.Pos()
	b.ReportAllocs()
	for b.Loop() {
		if u := s.Sync("@alice:x", "A1", since); !u.Empty() {
			b.Fatal("not idle")
		}
	}
}

// One to-device message sent, then delivered and acknowledged by syncs.
func BenchmarkToDeviceRoundTrip(b *testing.B) {
	s, _ := newWorld()
	msg := map[string]map[string]json.RawMessage{"@alice:x": {"A1": json.RawMessage(`{"k":"v"}`)}}
	since := s.Pos()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if err := s.SendToDevice("@bob:x", "B1", fmt.Sprint(n), "m.test", msg); err != nil {
			b.Fatal(err)
		}
		u := s.Sync("@alice:x", "A1", since)
		if len(u.ToDevice) != 1 {
			b.Fatalf("%d messages", len(u.ToDevice))
		}
		since = u.Pos
	}
}
