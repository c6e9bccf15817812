package session_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/session"
)

func TestParseError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   *session.Error
	}{
		{"success", 200, nil, `{"errcode":"M_FORBIDDEN"}`, nil},
		{"not JSON", 502, nil, `<html>Bad gateway</html>`, nil},
		{"no errcode", 400, nil, `{"error":"Something went wrong"}`, nil},
		{"soft logout", 401, nil, `{"errcode":"M_UNKNOWN_TOKEN","error":"expired","soft_logout":true}`,
			&session.Error{StatusCode: 401, Errcode: "M_UNKNOWN_TOKEN", Message: "expired", SoftLogout: true}},
		{"retry_after_ms", 429, http.Header{"Retry-After": {"9"}}, `{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`,
			&session.Error{StatusCode: 429, Errcode: "M_LIMIT_EXCEEDED", RetryAfter: 1500 * time.Millisecond}},
		{"Retry-After seconds", 429, http.Header{"Retry-After": {"2"}}, `{"errcode":"M_LIMIT_EXCEEDED"}`,
			&session.Error{StatusCode: 429, Errcode: "M_LIMIT_EXCEEDED", RetryAfter: 2 * time.Second}},
		{"OAuth 2.0", 400, nil, `{"error":"invalid_grant","error_description":"used","error_uri":"https://as.example/e"}`,
			&session.Error{StatusCode: 400, Errcode: "invalid_grant", Message: "used", ErrorURI: "https://as.example/e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.header, Body: io.NopCloser(strings.NewReader(tt.body))}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			got := session.ParseError(resp)
			if got != nil {
				if string(got.Body) != tt.body {
					t.Fatalf("Body %q, want %q", got.Body, tt.body)
				}
				got.Body = nil
			}
			if (got == nil) != (tt.want == nil) || got != nil && !reflect.DeepEqual(*got, *tt.want) {
				t.Fatalf("ParseError = %+v, want %+v", got, tt.want)
			}
			if rest, _ := io.ReadAll(resp.Body); string(rest) != tt.body {
				t.Fatalf("body after ParseError %q, want it intact", rest)
			}
		})
	}
}

func TestErrorsIs(t *testing.T) {
	e := &session.Error{StatusCode: 401, Errcode: "M_UNKNOWN_TOKEN"}
	if !errors.Is(e, session.ErrUnknownToken) || errors.Is(e, session.ErrForbidden) {
		t.Fatal("Error.Is does not match on errcode")
	}
	out := &session.LoggedOutError{Soft: true, Cause: e}
	if !errors.Is(out, session.ErrLoggedOut) || !errors.Is(out, session.ErrUnknownToken) {
		t.Fatal("LoggedOutError does not match ErrLoggedOut and its cause")
	}
	if got := out.Error(); got != "session: soft-logged-out: M_UNKNOWN_TOKEN (HTTP 401): Unauthorized" {
		t.Fatalf("message %q", got)
	}
}

// TestTokenOnlyWhereItBelongs: the access token goes to the homeserver's
// operations that take one, never to others or to another origin.
func TestTokenOnlyWhereItBelongs(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Host+r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	})
	hs := httptest.NewServer(record)
	defer hs.Close()
	other := httptest.NewServer(record)
	defer other.Close()
	s, err := session.New(session.Config{HomeserverURL: hs.URL + "/", Credentials: session.Credentials{AccessToken: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.HTTPClient()
	for _, u := range []string{
		hs.URL + "/_matrix/client/v3/account/whoami",
		hs.URL + "/_matrix/client/versions",
		hs.URL + "/_matrix/client/v3/login",
		hs.URL + "/.well-known/matrix/client",
		other.URL + "/_matrix/client/v3/account/whoami",
	} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	host := strings.TrimPrefix(hs.URL, "http://")
	want := map[string]string{
		host + "/_matrix/client/v3/account/whoami":                                     "Bearer secret",
		host + "/_matrix/client/versions":                                              "Bearer secret", // optional auth: sent
		host + "/_matrix/client/v3/login":                                              "",
		host + "/.well-known/matrix/client":                                            "",
		strings.TrimPrefix(other.URL, "http://") + "/_matrix/client/v3/account/whoami": "",
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s got Authorization %q, want %q", k, seen[k], v)
		}
	}
}
