package mock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

const controlToken = "let-me-in"

// control sends a control API request with the control token.
func control(t *testing.T, hs *mock.Server, method, path string, body any) answer {
	t.Helper()
	return call(t, hs, method, path, controlToken, body)
}

func TestControlIsOffByDefault(t *testing.T) {
	hs := mock.Start(t)
	call(t, hs, "GET", "/_mock/clock", controlToken, nil).wantError(t, 404, "M_UNRECOGNIZED")
}

func TestControlNeedsItsToken(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"))
	call(t, hs, "GET", "/_mock/clock", "", nil).wantError(t, 401, "M_MISSING_TOKEN")
	call(t, hs, "GET", "/_mock/clock", "let-me-in-please", nil).wantError(t, 403, "M_FORBIDDEN")
	// A user's access token is no control token.
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	call(t, hs, "GET", "/_mock/users", at, nil).wantError(t, 403, "M_FORBIDDEN")
	control(t, hs, "GET", "/_mock/nope", nil).wantError(t, 404, "M_UNRECOGNIZED")
	control(t, hs, "DELETE", "/_mock/clock", nil).wantStatus(t, 405)
}

func TestControlClock(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithVirtualClock(epoch))
	a := control(t, hs, "GET", "/_mock/clock", nil)
	a.wantStatus(t, 200)
	if a.body["now"] != "2026-01-01T00:00:00Z" || a.body["now_ms"] != float64(epoch.UnixMilli()) || a.body["virtual"] != true {
		t.Fatalf("clock %s", a.raw)
	}
	a = control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": "90s"})
	if a.body["now"] != "2026-01-01T00:01:30Z" {
		t.Fatalf("after advance: %s", a.raw)
	}
	if !hs.Clock().Now().Equal(epoch.Add(90 * time.Second)) {
		t.Fatalf("Go clock reads %v", hs.Clock().Now())
	}
	a = control(t, hs, "POST", "/_mock/clock/set", map[string]any{"time": "2027-05-06T07:08:09Z"})
	if a.body["now"] != "2027-05-06T07:08:09Z" {
		t.Fatalf("after set: %s", a.raw)
	}
	control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": "soon"}).wantError(t, 400, "M_INVALID_PARAM")
	control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": "1m", "extra": 1}).wantError(t, 400, "M_BAD_JSON")
	// The clock does not go back by advance, and a number is not a
	// duration: both say so in words, and the clock stays.
	before := hs.Clock().Now()
	back := control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": "-1m"})
	back.wantError(t, 400, "M_INVALID_PARAM")
	if msg, _ := back.body["error"].(string); !strings.Contains(msg, "must not be negative") || !strings.Contains(msg, "/_mock/clock/set") {
		t.Errorf("negative advance: %s", back.raw)
	}
	number := control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": 60})
	number.wantError(t, 400, "M_INVALID_PARAM")
	if msg, _ := number.body["error"].(string); !strings.Contains(msg, `"by" must be a duration string such as "6m"`) || strings.Contains(msg, "Go struct") {
		t.Errorf("number: %s", number.raw)
	}
	if !hs.Clock().Now().Equal(before) {
		t.Errorf("the clock moved from %v to %v", before, hs.Clock().Now())
	}
	control(t, hs, "POST", "/_mock/clock/set", map[string]any{}).wantError(t, 400, "M_MISSING_PARAM")
}

func TestControlSessions(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	first := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE", "refresh_token": true, "initial_device_display_name": "Phone"})
	at := first.str(t, "access_token")

	a := control(t, hs, "GET", "/_mock/users", nil)
	if a.raw != `{"users":["@alice:localhost"]}` {
		t.Fatalf("users %s", a.raw)
	}
	a = control(t, hs, "GET", "/_mock/users/alice/devices", nil)
	want := `{"devices":[{"device_id":"PHONE","display_name":"Phone","access_expires_ts":` +
		jsonNumber(epoch.Add(5*time.Minute).UnixMilli()) + `,"access_expired":false,"has_refresh_token":true,"soft_logged_out":false}],"user_id":"@alice:localhost"}`
	if a.raw != want {
		t.Fatalf("devices\n got %s\nwant %s", a.raw, want)
	}
	control(t, hs, "GET", "/_mock/users/nobody/devices", nil).wantError(t, 404, "M_NOT_FOUND")

	control(t, hs, "POST", "/_mock/users/@alice:localhost/devices/PHONE/expire", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), true)
	second := refresh(t, hs, first.str(t, "refresh_token"))
	second.wantStatus(t, 200)
	control(t, hs, "POST", "/_mock/users/alice/devices/PHONE/soft_logout", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, second.str(t, "access_token"), nil), true)
	if a := control(t, hs, "GET", "/_mock/users/alice/devices", nil); !strings.Contains(a.raw, `"soft_logged_out":true`) {
		t.Fatalf("devices after soft logout %s", a.raw)
	}
	control(t, hs, "POST", "/_mock/users/alice/devices/PHONE/hard_logout", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, second.str(t, "access_token"), nil), false)
	control(t, hs, "POST", "/_mock/users/alice/devices/PHONE/expire", nil).wantError(t, 404, "M_NOT_FOUND")
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestControlJournal(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"))
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	call(t, hs, "GET", whoami, at, nil)
	call(t, hs, "GET", whoami, "", nil)
	control(t, hs, "GET", "/_mock/clock", nil) // control requests are not journaled

	a := control(t, hs, "GET", "/_mock/journal", nil)
	if n := len(a.body["entries"].([]any)); n != 3 {
		t.Fatalf("journal has %d entries, want 3: %s", n, a.raw)
	}
	a = control(t, hs, "GET", "/_mock/journal?operation=getTokenOwner&user=alice&status=200", nil)
	entries := a.body["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("filtered journal %s", a.raw)
	}
	e := entries[0].(map[string]any)
	if e["method"] != "GET" || e["path"] != whoami || e["user_id"] != "@alice:localhost" || e["status"] != 200.0 {
		t.Fatalf("entry %v", e)
	}
	a = control(t, hs, "GET", "/_mock/journal?errcode=M_MISSING_TOKEN", nil)
	if n := len(a.body["entries"].([]any)); n != 1 {
		t.Fatalf("M_MISSING_TOKEN entries %s", a.raw)
	}
	control(t, hs, "GET", "/_mock/journal?status=abc", nil).wantError(t, 400, "M_INVALID_PARAM")
}

func TestControlWait(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"))
	done := make(chan answer, 1)
	go func() {
		a, err := send(hs, "GET", "/_mock/journal/wait?operation=login&count=2&timeout=30s", controlToken, nil)
		if err != nil {
			a.raw = err.Error()
		}
		done <- a
	}()
	// The waiter may start before or after the logins: it answers either way.
	login(t, hs, "alice", "pw", nil)
	login(t, hs, "alice", "pw", nil)
	a := <-done
	a.wantStatus(t, 200)
	if n := len(a.body["entries"].([]any)); n != 2 {
		t.Fatalf("wait answered %s", a.raw)
	}
	a = control(t, hs, "GET", "/_mock/journal/wait?operation=refresh&timeout=20ms", nil)
	a.wantError(t, 408, "M_UNKNOWN")
	if !strings.Contains(a.raw, "0 of 1") {
		t.Fatalf("timeout answer %s", a.raw)
	}
	control(t, hs, "GET", "/_mock/journal/wait?timeout=1h", nil).wantError(t, 400, "M_INVALID_PARAM")
	control(t, hs, "GET", "/_mock/journal/wait?count=0", nil).wantError(t, 400, "M_INVALID_PARAM")
}

func TestControlScenarioAndReset(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken))
	const sc = `
description: one user with a fixed token
server: {name: example.org}
clock: {mode: virtual, start: 2030-01-01T00:00:00Z}
users:
  - id: alice
    password: pw
    devices: [{id: PHONE, access_token: alice-phone}]
rules:
  - name: expire-on-second-whoami
    when: {request: {operation: getTokenOwner}, nth: 2}
    then: {expire_access_token: {}}
`
	req, _ := http.NewRequest("PUT", hs.URL+"/_mock/scenario?name=alice.yaml", strings.NewReader(sc))
	req.Header.Set("Authorization", "Bearer "+controlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"source":"alice.yaml"`) {
		t.Fatalf("load: %d %s", resp.StatusCode, body)
	}
	if a := control(t, hs, "GET", "/_mock/clock", nil); a.body["now"] != "2030-01-01T00:00:00Z" {
		t.Fatalf("clock after load %s", a.raw)
	}
	a := call(t, hs, "GET", whoami, "alice-phone", nil)
	if a.body["user_id"] != "@alice:example.org" || a.body["device_id"] != "PHONE" {
		t.Fatalf("whoami %s", a.raw)
	}
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-phone", nil), true)
	if a := control(t, hs, "GET", "/_mock/scenario", nil); !strings.Contains(a.raw, `{"index":0,"name":"expire-on-second-whoami","line":10,"summary":"request operation=getTokenOwner, nth 2 → expire_access_token","fired":1}`) {
		t.Fatalf("scenario state %s", a.raw)
	}

	// Reset: the token works again, counts start over, the journal is empty.
	control(t, hs, "POST", "/_mock/clock/advance", map[string]any{"by": "1h"})
	control(t, hs, "POST", "/_mock/reset", nil).wantStatus(t, 200)
	if a := control(t, hs, "GET", "/_mock/journal", nil); a.raw != `{"entries":[],"dropped":0}` {
		t.Fatalf("journal after reset %s", a.raw)
	}
	if a := control(t, hs, "GET", "/_mock/clock", nil); a.body["now"] != "2030-01-01T00:00:00Z" {
		t.Fatalf("clock after reset %s", a.raw)
	}
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)

	// A bad scenario is refused with its place, and changes nothing.
	req, _ = http.NewRequest("PUT", hs.URL+"/_mock/scenario?name=bad.yaml", strings.NewReader("tokens:\n  acces_lifetime: 5m\n"))
	req.Header.Set("Authorization", "Bearer "+controlToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "bad.yaml:2:3") {
		t.Fatalf("bad scenario: %d %s", resp.StatusCode, body)
	}
	// The rule fired again on the second whoami since the reset.
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-phone", nil), true)
}
