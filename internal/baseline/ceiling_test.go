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
		"sync": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?since=s0_k0&timeout=0", nil)
			r.Header.Set("Authorization", "Bearer "+access)
			return r
		},
		"sync without a token": func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?timeout=0", nil)
		},
		"send": func() *http.Request {
			r := httptest.NewRequest(http.MethodPut, "/_matrix/client/v3/rooms/%21any%3Alocalhost/send/m.room.message/txn1",
				strings.NewReader(`{"msgtype":"m.text","body":"hello"}`))
			r.Header.Set("Authorization", "Bearer "+access)
			return r
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
// two: tokens and event IDs by their lengths; the device ID is dropped.
func shape(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	delete(v, "device_id")
	for k, x := range v {
		if s, ok := x.(string); ok && (strings.HasSuffix(k, "_token") || k == "event_id") {
			v[k] = len(s)
		}
	}
	return v
}

// TestServerSend checks the baseline's message send: a transaction ID sent
// again on the same device gets the same event ID, a new one a new event
// ID, and a body that is not JSON is refused.
func TestServerSend(t *testing.T) {
	base := New("localhost", "", nil)
	access, _ := base.Login(base.AddUser("bench", "pw"), "SEND", false)
	send := func(txn, body string) (int, string) {
		r := httptest.NewRequest(http.MethodPut, "/_matrix/client/v3/rooms/%21r%3Alocalhost/send/m.room.message/"+txn, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+access)
		w := httptest.NewRecorder()
		base.Handler().ServeHTTP(w, r)
		var answer struct {
			EventID string `json:"event_id"`
			Errcode string `json:"errcode"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &answer)
		return w.Code, answer.EventID + answer.Errcode
	}
	code1, first := send("t1", `{"body":"a"}`)
	code2, again := send("t1", `{"body":"a"}`)
	code3, other := send("t2", `{"body":"b"}`)
	if code1 != 200 || code2 != 200 || code3 != 200 || first == "" || again != first || other == first {
		t.Errorf("sends: %d %q, again %d %q, new transaction %d %q", code1, first, code2, again, code3, other)
	}
	if code, errcode := send("t3", "not json"); code != http.StatusBadRequest || errcode != "M_NOT_JSON" {
		t.Errorf("not JSON: %d %q, want 400 M_NOT_JSON", code, errcode)
	}
}
