package baseline

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCeilingAnswersAlike checks the premise of the ceiling: to each
// measured request it answers as the Server does, with the same status,
// headers and JSON fields of the same types and lengths (the mock's tests
// check the Server against the mock), so that the two differ only in the
// work behind the answer.
func TestCeilingAnswersAlike(t *testing.T) {
	const serverName, baseURL = "localhost", "http://127.0.0.1:8008"
	versions := []string{"v1.11", "v1.12"}
	base := New(serverName, baseURL, versions)
	user := base.AddUser("bench", "pw")
	access, _ := base.Login(user, "WHOAMI", false)
	_, refresh := base.Login(user, "REFRESH", true)
	_, oauthRefresh := base.Login(user, "OAUTH", true)
	client := base.AddClient()
	loginBody := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bench"},"password":"pw","device_id":"LOGIN","refresh_token":true}`

	requests := map[string]func() *http.Request{
		"versions": func() *http.Request { return httptest.NewRequest(http.MethodGet, "/_matrix/client/versions", nil) },
		"whoami": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/account/whoami", nil)
			r.Header.Set("Authorization", "Bearer "+access)
			return r
		},
		"whoami without a token": func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/account/whoami", nil)
		},
		"login": func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/login", strings.NewReader(loginBody))
		},
		"refresh": func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/refresh", strings.NewReader(`{"refresh_token":"`+refresh+`"}`))
		},
		"oauth-refresh": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token",
				strings.NewReader("grant_type=refresh_token&client_id="+client+"&refresh_token="+oauthRefresh))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
	}
	ceiling := Ceiling(serverName, user, baseURL, versions)
	for _, name := range slices.Sorted(maps.Keys(requests)) {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		base.Handler().ServeHTTP(want, requests[name]())
		ceiling.ServeHTTP(got, requests[name]())
		if got.Code != want.Code {
			t.Errorf("%s: status %d from the ceiling, %d from the baseline", name, got.Code, want.Code)
		}
		if !maps.EqualFunc(got.Header(), want.Header(), slices.Equal) {
			t.Errorf("%s: headers differ:\nceiling  %v\nbaseline %v", name, got.Header(), want.Header())
		}
		if g, w := shape(t, got.Body.Bytes()), shape(t, want.Body.Bytes()); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: answers differ in shape:\nceiling  %s\nbaseline %s", name, got.Body, want.Body)
		}
	}
}

// shape decodes a JSON object and replaces what may differ between the
// two: tokens by their lengths; the device ID is dropped.
func shape(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	delete(v, "device_id")
	for k, x := range v {
		if s, ok := x.(string); ok && strings.HasSuffix(k, "_token") {
			v[k] = len(s)
		}
	}
	return v
}
