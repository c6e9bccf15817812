package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// reply is an HTTP answer: status, headers, raw body, and the body decoded
// when it is JSON.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// request sends method path to hs with body (nil: none; []byte or string:
// or io.Reader: as is, with contentType; anything else: as JSON) and token (empty: none).
func request(t *testing.T, hs *mock.Server, method, path, token string, body any, contentType string) reply {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, hs.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return a
}

// jsonCall sends a JSON request (or none, for a nil body).
func jsonCall(t *testing.T, hs *mock.Server, method, path, token string, body any) reply {
	t.Helper()
	return request(t, hs, method, path, token, body, "")
}

// want checks the status and, for an error, the errcode ("" for success).
func (a reply) want(t *testing.T, status int, errcode string) {
	t.Helper()
	if a.status != status || errcode != "" && a.body["errcode"] != errcode {
		t.Fatalf("got %d %s, want %d %s", a.status, a.raw, status, errcode)
	}
}

// path returns the value at a path of object members in the decoded body,
// nil when absent.
func (a reply) path(keys ...string) any {
	var v any = a.body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// session is a logged-in device.
type session struct {
	user, device, token string
}

// loginAs logs user in with password on device (empty: a new one).
func loginAs(t *testing.T, hs *mock.Server, user, password, device string) session {
	t.Helper()
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}
	if device != "" {
		body["device_id"] = device
	}
	a := jsonCall(t, hs, "POST", "/_matrix/client/v3/login", "", body)
	a.want(t, http.StatusOK, "")
	return session{user: a.body["user_id"].(string), device: a.body["device_id"].(string), token: a.body["access_token"].(string)}
}
