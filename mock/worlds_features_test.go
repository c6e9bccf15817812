package mock_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// The tests in this file check that what a server offers its default world
// (the control page and timeline, the journal's events, the password
// limits, the OAuth pages' CSRF) each world has of its own.

// ruleWorld makes a world of ruleScenario on hs and returns it with the
// path prefix of its base URL.
func ruleWorld(t *testing.T, hs *mock.Server) (*mock.World, string) {
	t.Helper()
	w, err := hs.NewWorld(mock.WithScenarioData("rules.yaml", []byte(ruleScenario)))
	if err != nil {
		t.Fatal(err)
	}
	return w, strings.TrimPrefix(w.URL, hs.URL)
}

// TestWorldJournalEvents: a world's token changes, rule firings and clock
// moves go to its own journal, and none to the default world's; its Reset
// records its scenario's devices anew.
func TestWorldJournalEvents(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("rules.yaml", []byte(ruleScenario)))
	w, prefix := ruleWorld(t, hs)
	call(t, hs, "GET", prefix+whoami, "at", nil).wantStatus(t, 200)
	call(t, hs, "GET", prefix+whoami, "at", nil).wantStatus(t, 200) // the rule fires
	wantUnknownToken(t, call(t, hs, "GET", prefix+whoami, "at", nil), true)
	w.Clock().Advance(time.Minute)

	kinds := func(evs []journal.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, string(ev.Kind))
		}
		return out
	}
	wantLines(t, "the world's events", kinds(w.Journal().Events()),
		[]string{"token_issued", "rule_fired", "token_ended", "clock_moved"})
	wantLines(t, "the default world's events", kinds(hs.Journal().Events()), []string{"token_issued"})
	if err := w.Reset(); err != nil {
		t.Fatal(err)
	}
	wantLines(t, "the world's events after Reset", kinds(w.Journal().Events()), []string{"token_issued"})
}

// TestWorldControlPage: a world's control page is at its control_url/ui:
// it signs in with the server's control token, shows the world's devices
// and not the default world's, its forms and links stay under the world's
// prefix, its clock form moves the world's clock alone, and the world's
// timeline file is beside it. A dropped world's page is gone.
func TestWorldControlPage(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("bob", "pw"), mock.WithVirtualClock(epoch))
	login(t, hs, "bob", "pw", map[string]any{"device_id": "DESKTOP"})
	w, prefix := ruleWorld(t, hs)
	c := browserClient()
	pageURL := w.URL + "/_mock/ui"
	resp, page := fetch(t, c, "GET", pageURL, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `action="`+prefix+`/_mock/ui/session"`) {
		t.Fatalf("the world's sign-in page: %d, want a form posting under %s:\n%s", resp.StatusCode, prefix, page)
	}
	resp, _ = fetch(t, c, "POST", w.URL+"/_mock/ui/session", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {controlToken}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != prefix+"/_mock/ui" {
		t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "mxauth_control" && ck.Path != prefix+"/_mock/" {
			t.Errorf("session cookie path %q, want %q", ck.Path, prefix+"/_mock/")
		}
	}
	resp, page = fetch(t, c, "GET", pageURL, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-device="PHONE"`) || strings.Contains(page, "DESKTOP") {
		t.Fatalf("signed in: %d, want the world's PHONE and not the default world's DESKTOP", resp.StatusCode)
	}
	for _, path := range []string{"/_mock/ui/clock", "/_mock/ui/device", "/_mock/journal/timeline.html", "/_mock/journal"} {
		if !strings.Contains(page, `"`+prefix+path+`"`) {
			t.Errorf("the page does not reach %s under the world's prefix", path)
		}
	}
	advance := url.Values{"action": {"advance"}, "by": {"3m"}, "csrf": {csrfField.FindStringSubmatch(page)[1]}}
	if resp, _ := fetch(t, c, "POST", w.URL+"/_mock/ui/clock", advance, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("advance: %d", resp.StatusCode)
	}
	if got := w.Clock().Now().Sub(epoch); got != 3*time.Minute {
		t.Errorf("the world's clock moved %v, want 3m", got)
	}
	if !hs.Clock().Now().Equal(epoch) {
		t.Errorf("the default world's clock moved to %v", hs.Clock().Now())
	}
	if resp, file := fetch(t, c, "GET", w.URL+"/_mock/journal/timeline.html", nil, nil); resp.StatusCode != 200 || !strings.Contains(file, "PHONE") || strings.Contains(file, "DESKTOP") {
		t.Errorf("the world's timeline: %d, want the world's PHONE alone", resp.StatusCode)
	}
	if resp, _ := fetch(t, c, "GET", hs.URL+"/_mock/ui", nil, nil); resp.StatusCode != 200 {
		t.Errorf("the default world's page: %d", resp.StatusCode)
	}
	if err := w.Drop(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := fetch(t, c, "GET", pageURL, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a dropped world's page: %d, want 404", resp.StatusCode)
	}
}

// TestWorldPasswordLimitsApart: wrong passwords in one world count in
// that world alone.
func TestWorldPasswordLimitsApart(t *testing.T) {
	hs := mock.Start(t)
	opts := []mock.Option{mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch), mock.WithLimits(3, time.Minute)}
	a, err := hs.NewWorld(opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hs.NewWorld(opts...)
	if err != nil {
		t.Fatal(err)
	}
	inA, inB := strings.TrimPrefix(a.URL, hs.URL), strings.TrimPrefix(b.URL, hs.URL)
	for range 3 {
		call(t, hs, "POST", inA+"/_matrix/client/v3/login", "", loginBody("alice", "wrong", nil)).wantError(t, http.StatusForbidden, "M_FORBIDDEN")
	}
	call(t, hs, "POST", inA+"/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	call(t, hs, "POST", inB+"/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantStatus(t, http.StatusOK)
}

// TestWorldDeviceVerificationPage: a world's device verification page
// works in its two steps under the world's prefix, with a CSRF cookie for
// that prefix.
func TestWorldDeviceVerificationPage(t *testing.T) {
	hs := mock.Start(t)
	w, err := hs.NewWorld(mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(w.URL, hs.URL)
	reg := call(t, hs, "POST", prefix+"/oauth2/registration", "", map[string]any{
		"client_name": "Living-room TV", "client_uri": "https://client.example.org/", "application_type": "native",
		"redirect_uris": []string{loopback}, "token_endpoint_auth_method": "none", "response_types": []string{"code"},
		"grant_types": []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
	})
	reg.wantStatus(t, 201)
	client := reg.str(t, "client_id")
	d := form(t, hs, prefix+"/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
	d.wantStatus(t, http.StatusOK)
	if got := d.str(t, "verification_uri"); got != w.URL+"/oauth2/device" {
		t.Fatalf("verification_uri %q, want the world's page", got)
	}
	csrf, cookie := pageForm(t, w.URL+"/oauth2/device")
	if cookie.Path != prefix+"/" {
		t.Fatalf("CSRF cookie path %q, want %q", cookie.Path, prefix+"/")
	}
	confirm := postPage(t, w.URL+"/oauth2/device", url.Values{"csrf": {csrf}, "action": {"continue"},
		"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"pw"}}, cookie)
	confirm.wantPage(t, http.StatusOK, "Living-room TV", `action="`+prefix+`/oauth2/device"`)
	_, rest, _ := strings.Cut(confirm.raw, `name="confirmation" value="`)
	ticket, _, _ := strings.Cut(rest, `"`)
	postPage(t, w.URL+"/oauth2/device", url.Values{"csrf": {csrf}, "confirmation": {ticket}, "action": {"approve"}}, cookie).
		wantPage(t, http.StatusOK, "Device connected")
	w.Clock().Advance(10 * time.Second)
	tok := form(t, hs, prefix+"/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}})
	call(t, hs, "GET", prefix+whoami, tok.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
}

// TestWorldRooms: the rooms Go API and control operations act on one
// world: a room made in a world, by Go or over its control API (both its
// control_url and /_mock/worlds/{id}), reaches that world's /sync and
// nothing of it reaches the default world.
func TestWorldRooms(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw-alice"), mock.WithUser("bob", "pw-bob"), mock.WithControl(controlToken))
	w, err := hs.NewWorld() // as hs was set up: alice and bob

	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(w.URL, hs.URL)
	bob := call(t, hs, "POST", prefix+"/_matrix/client/v3/login", "", loginBody("bob", "pw-bob", nil)).str(t, "access_token")

	room, err := w.CreateRoom("alice", mock.CreateRoomRequest{Invite: []string{"@bob:localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.JoinRoom("bob", room); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SendMessage("alice", room, "by Go"); err != nil {
		t.Fatal(err)
	}
	r := "/rooms/" + url.PathEscape(room)
	control(t, hs, "POST", prefix+"/_mock"+r+"/send", map[string]any{"user": "alice", "body": "by control_url"}).str(t, "event_id")
	control(t, hs, "POST", "/_mock/worlds/"+w.ID+r+"/send", map[string]any{"user": "alice", "body": "by world ID"}).str(t, "event_id")
	got := call(t, hs, "GET", prefix+"/_matrix/client/v3/sync", bob, nil)
	got.wantStatus(t, http.StatusOK)
	for _, want := range []string{"by Go", "by control_url", "by world ID"} {
		if !strings.Contains(got.raw, want) {
			t.Errorf("bob's sync in the world lacks %q", want)
		}
	}
	if rooms := hs.JoinedRooms("alice"); len(rooms) != 0 {
		t.Errorf("the default world's alice is in %v, want no room", rooms)
	}
	control(t, hs, "POST", "/_mock"+r+"/send", map[string]any{"user": "alice", "body": "x"}).wantError(t, http.StatusNotFound, "M_NOT_FOUND")
}

// TestWorldAccountOperations: the account operations of the control API
// (deactivate, password) act on the world they are sent to, through its
// control_url or /_mock/worlds/{id}, and the default world keeps its user.
func TestWorldAccountOperations(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithControl(controlToken))
	gone, err := hs.NewWorld()
	if err != nil {
		t.Fatal(err)
	}
	moved, err := hs.NewWorld()
	if err != nil {
		t.Fatal(err)
	}
	inGone, inMoved := strings.TrimPrefix(gone.URL, hs.URL), strings.TrimPrefix(moved.URL, hs.URL)
	control(t, hs, "POST", inGone+"/_mock/users/alice/deactivate", map[string]any{}).wantStatus(t, http.StatusOK)
	control(t, hs, "POST", "/_mock/worlds/"+moved.ID+"/users/alice/password", map[string]any{"password": "new"}).wantStatus(t, http.StatusOK)
	call(t, hs, "POST", inGone+"/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, http.StatusForbidden, "M_USER_DEACTIVATED")
	call(t, hs, "POST", inMoved+"/_matrix/client/v3/login", "", loginBody("alice", "new", nil)).wantStatus(t, http.StatusOK)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantStatus(t, http.StatusOK)
}
