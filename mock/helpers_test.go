package mock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request to the server and decodes the JSON answer. body may
// be a string (sent as is) or any value (sent as JSON); token, when not
// empty, goes in the Authorization header.
func call(t *testing.T, hs *mock.Server, method, path, token string, body any) answer {
	t.Helper()
	a, err := send(hs, method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// send is call for goroutines other than the test's: it returns errors.
func send(hs *mock.Server, method, path, token string, body any) (answer, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return answer{}, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, hs.URL+path, r)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp)
}

// decodeAnswer reads an answer, decoding a JSON body.
func decodeAnswer(resp *http.Response) (answer, error) {
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return a, fmt.Errorf("%s %s: answer is not a JSON object: %v: %s", resp.Request.Method, resp.Request.URL.Path, err, raw)
		}
	}
	return a, nil
}

// wantError checks that a is a Matrix error with this status and errcode,
// sent as JSON.
func (a answer) wantError(t *testing.T, status int, errcode string) {
	t.Helper()
	if a.status != status || a.body["errcode"] != errcode {
		t.Fatalf("got %d %s, want %d with errcode %s", a.status, a.raw, status, errcode)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer has Content-Type %q, want application/json", ct)
	}
	if _, ok := a.body["error"].(string); !ok {
		t.Errorf("error answer %s has no error message", a.raw)
	}
}

// wantStatus checks the status of a successful answer.
func (a answer) wantStatus(t *testing.T, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("got %d %s, want %d", a.status, a.raw, status)
	}
}

// str returns a string field of the answer, failing the test if missing.
func (a answer) str(t *testing.T, key string) string {
	t.Helper()
	s, ok := a.body[key].(string)
	if !ok || s == "" {
		t.Fatalf("answer %s has no string %q", a.raw, key)
	}
	return s
}

// login logs in with a password and returns the answer.
func login(t *testing.T, hs *mock.Server, user, password string, extra map[string]any) answer {
	t.Helper()
	a := call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody(user, password, extra))
	a.wantStatus(t, http.StatusOK)
	return a
}

// loginBody is a password login request.
func loginBody(user, password string, extra map[string]any) map[string]any {
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}
