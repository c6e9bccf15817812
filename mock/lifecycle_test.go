package mock_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

const whoami = "/_matrix/client/v3/account/whoami"

// wantUnknownToken checks a 401 M_UNKNOWN_TOKEN with the given soft_logout.
func wantUnknownToken(t *testing.T, a answer, soft bool) {
	t.Helper()
	a.wantError(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	if a.body["soft_logout"] != soft {
		t.Fatalf("soft_logout = %v in %s, want %v", a.body["soft_logout"], a.raw, soft)
	}
}

func refresh(t *testing.T, hs *mock.Server, rt string) answer {
	t.Helper()
	return call(t, hs, "POST", "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": rt})
}

func TestLoginAndExpiry(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(epoch), mock.WithAccessTokenLifetime(time.Minute))
	withRefresh := login(t, hs, "alice", "wonderland", map[string]any{"refresh_token": true, "initial_device_display_name": "Phone"})
	if withRefresh.body["expires_in_ms"] != 60000.0 || withRefresh.body["user_id"] != "@alice:localhost" || withRefresh.body["home_server"] != "localhost" {
		t.Fatalf("login answer %s", withRefresh.raw)
	}
	plain := login(t, hs, "@alice:localhost", "wonderland", nil)
	if _, ok := plain.body["expires_in_ms"]; ok {
		t.Fatalf("a login without refresh_token got expires_in_ms: %s", plain.raw)
	}
	if _, ok := plain.body["refresh_token"]; ok {
		t.Fatalf("a login without refresh_token got one: %s", plain.raw)
	}
	at, rt := withRefresh.str(t, "access_token"), withRefresh.str(t, "refresh_token")

	hs.Clock().Advance(time.Minute - time.Millisecond)
	call(t, hs, "GET", whoami, at, nil).wantStatus(t, 200)
	hs.Clock().Advance(time.Millisecond)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), true)
	wantUnknownToken(t, call(t, hs, "GET", "/_matrix/client/v3/devices", at, nil), true)

	hs.Clock().Advance(1000 * time.Hour) // the plain token never expires
	call(t, hs, "GET", whoami, plain.str(t, "access_token"), nil).wantStatus(t, 200)

	// Refresh tokens live 24h by default: this one has expired by now.
	a := refresh(t, hs, rt)
	wantUnknownToken(t, a, false)

	// The device is listed with its name, and last seen on the clock.
	a = call(t, hs, "GET", "/_matrix/client/v3/devices/"+withRefresh.str(t, "device_id"), plain.str(t, "access_token"), nil)
	a.wantStatus(t, 200)
	if a.body["display_name"] != "Phone" || a.body["last_seen_ts"] != float64(epoch.Add(time.Minute-time.Millisecond).UnixMilli()) || a.body["last_seen_ip"] != "127.0.0.1" {
		t.Fatalf("device %s", a.raw)
	}
}

func TestAccessTokenInQuery(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	a := call(t, hs, "GET", whoami+"?access_token="+at, "", nil)
	a.wantStatus(t, 200)
	if a.body["user_id"] != "@alice:localhost" {
		t.Fatalf("whoami %s", a.raw)
	}
}

// TestRefreshRotation follows Synapse's recorded refresh-token rules
// (shared/facts/synapse-1.67-auth.md) over HTTP.
func TestRefreshRotation(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	first := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
	at1, rt1 := first.str(t, "access_token"), first.str(t, "refresh_token")

	second := refresh(t, hs, rt1)
	second.wantStatus(t, 200)
	if second.body["expires_in_ms"] != 300000.0 {
		t.Fatalf("refresh answer %s", second.raw)
	}
	at2 := second.str(t, "access_token")
	call(t, hs, "GET", whoami, at1, nil).wantStatus(t, 200) // the old access token still works

	// Reusing RT1 before AT2 is used: a new pair replaces the unused one.
	again := refresh(t, hs, rt1)
	again.wantStatus(t, 200)
	at2b, rt2b := again.str(t, "access_token"), again.str(t, "refresh_token")
	wantUnknownToken(t, call(t, hs, "GET", whoami, at2, nil), false)
	wantUnknownToken(t, refresh(t, hs, second.str(t, "refresh_token")), false)

	// Once AT2b is used, RT1 is revoked.
	call(t, hs, "GET", whoami, at2b, nil).wantStatus(t, 200)
	wantUnknownToken(t, refresh(t, hs, rt1), false)

	// Normal rotation goes on, also at the /v1 path clients fall back to.
	third := call(t, hs, "POST", "/_matrix/client/v1/refresh", "", map[string]any{"refresh_token": rt2b})
	third.wantStatus(t, 200)
	call(t, hs, "GET", whoami, third.str(t, "access_token"), nil).wantStatus(t, 200)
	if n := hs.Journal().Count(journal.Filter{Operation: "refresh", Status: 200}); n != 3 {
		t.Fatalf("journal counts %d successful refreshes, want 3", n)
	}
	if n := hs.Journal().Count(journal.Filter{Path: "/_matrix/client/v1/refresh"}); n != 1 {
		t.Fatalf("journal counts %d requests at /v1/refresh, want 1", n)
	}
	// An access token is no refresh token.
	wantUnknownToken(t, refresh(t, hs, third.str(t, "access_token")), false)
}

func TestRefreshOptions(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithOldAccessTokenRevokedOnRefresh(), mock.WithSoftLogoutOnFailedRefresh())
	first := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
	refresh(t, hs, first.str(t, "refresh_token")).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, first.str(t, "access_token"), nil), false)
	wantUnknownToken(t, refresh(t, hs, "garbage"), true)

	all := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch), mock.WithExpiringTokensForAll())
	plain := login(t, all, "alice", "pw", nil)
	if plain.body["expires_in_ms"] != 300000.0 {
		t.Fatalf("login answer %s", plain.raw)
	}
	all.Clock().Advance(5 * time.Minute)
	wantUnknownToken(t, call(t, all, "GET", whoami, plain.str(t, "access_token"), nil), true)
}

func TestLoginOnSameDevice(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	first := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE", "initial_device_display_name": "Phone", "refresh_token": true})
	if first.body["device_id"] != "PHONE" {
		t.Fatalf("login %s", first.raw)
	}
	if err := hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, first.str(t, "access_token"), nil), true)
	wantUnknownToken(t, refresh(t, hs, first.str(t, "refresh_token")), true)

	// Logging in again with the device ID restores the device and ends its old tokens.
	second := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE", "initial_device_display_name": "Other"})
	if second.body["device_id"] != "PHONE" {
		t.Fatalf("login %s", second.raw)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, first.str(t, "access_token"), nil), false)
	devices := hs.Devices("alice")
	if len(devices) != 1 || devices[0].ID != "PHONE" || devices[0].DisplayName != "Phone" {
		t.Fatalf("devices %+v, want PHONE named Phone once", devices)
	}
}

func TestLoginToken(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	newToken := func() string {
		a := call(t, hs, "POST", "/_matrix/client/v1/login/get_token", at, map[string]any{})
		a.wantStatus(t, 401) // always re-prompted
		auth := map[string]any{"type": "m.login.password", "user": "alice", "password": "pw", "session": a.str(t, "session")}
		a = call(t, hs, "POST", "/_matrix/client/v1/login/get_token", at, map[string]any{"auth": auth})
		a.wantStatus(t, 200)
		if a.body["expires_in_ms"] != 120000.0 {
			t.Fatalf("get_token %s", a.raw)
		}
		return a.str(t, "login_token")
	}
	lt := newToken()
	body := map[string]any{"type": "m.login.token", "token": lt}
	a := call(t, hs, "POST", "/_matrix/client/v3/login", "", body)
	a.wantStatus(t, 200)
	if a.body["user_id"] != "@alice:localhost" {
		t.Fatalf("token login %s", a.raw)
	}
	call(t, hs, "POST", "/_matrix/client/v3/login", "", body).wantError(t, 403, "M_FORBIDDEN") // single use

	lt = newToken()
	hs.Clock().Advance(2 * time.Minute)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.token", "token": lt}).wantError(t, 403, "M_FORBIDDEN")
}

func TestRegister(t *testing.T) {
	hs := mock.Start(t, mock.WithVirtualClock(epoch))
	reg := "/_matrix/client/v3/register"
	body := map[string]any{"username": "carol", "password": "pw", "refresh_token": true, "initial_device_display_name": "Laptop"}
	a := call(t, hs, "POST", reg, "", body)
	a.wantStatus(t, 401)
	if !strings.Contains(a.raw, `"flows":[{"stages":["m.login.dummy"]}]`) || !strings.Contains(a.raw, `"params":{}`) {
		t.Fatalf("UIA challenge %s", a.raw)
	}
	if _, ok := a.body["completed"]; ok {
		t.Fatalf("a fresh UIA session lists completed stages: %s", a.raw)
	}
	session := a.str(t, "session")
	if len(hs.Users()) != 0 {
		t.Fatal("the challenge created a user")
	}

	body["auth"] = map[string]any{"type": "m.login.password", "session": session}
	call(t, hs, "POST", reg, "", body).wantError(t, 400, "M_UNRECOGNIZED")
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": "made-up"}
	call(t, hs, "POST", reg, "", body).wantError(t, 400, "M_UNKNOWN")
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": session}
	a = call(t, hs, "POST", reg, "", body)
	a.wantStatus(t, 200)
	if a.body["user_id"] != "@carol:localhost" || a.body["expires_in_ms"] != 300000.0 {
		t.Fatalf("register %s", a.raw)
	}
	a.str(t, "refresh_token")
	call(t, hs, "GET", whoami, a.str(t, "access_token"), nil).wantStatus(t, 200)
	if d := hs.Devices("carol"); len(d) != 1 || d[0].DisplayName != "Laptop" {
		t.Fatalf("devices %+v", d)
	}
	// The session is used up; the name is taken; the new user can log in.
	call(t, hs, "POST", reg, "", body).wantError(t, 400, "M_USER_IN_USE")
	call(t, hs, "GET", "/_matrix/client/v3/register/available?username=carol", "", nil).wantError(t, 400, "M_USER_IN_USE")
	login(t, hs, "carol", "pw", nil)
	// Localparts are lowercased, as homeservers do: Carol is carol.
	call(t, hs, "POST", reg, "", map[string]any{"username": "Carol", "password": "pw"}).wantError(t, 400, "M_USER_IN_USE")
	call(t, hs, "GET", "/_matrix/client/v3/register/available?username=Carol", "", nil).wantError(t, 400, "M_USER_IN_USE")

	for _, name := range []string{"a b", "1234", "@carol:elsewhere", strings.Repeat("x", 300)} {
		call(t, hs, "POST", reg, "", map[string]any{"username": name, "password": "pw"}).wantError(t, 400, "M_INVALID_USERNAME")
		call(t, hs, "GET", "/_matrix/client/v3/register/available?username="+url.QueryEscape(name), "", nil).wantError(t, 400, "M_INVALID_USERNAME")
	}
	ok := call(t, hs, "GET", "/_matrix/client/v3/register/available?username=dave", "", nil)
	ok.wantStatus(t, 200)
	if ok.body["available"] != true {
		t.Fatalf("available %s", ok.raw)
	}
	// The flows come before the password: a client discovers them with {}.
	a = call(t, hs, "POST", reg, "", map[string]any{"username": "dave"})
	a.wantStatus(t, 401)
	if !strings.Contains(a.raw, `"flows":[{"stages":["m.login.dummy"]}]`) {
		t.Fatalf("register without a password: %s", a.raw)
	}
	dummy := map[string]any{"type": "m.login.dummy", "session": a.str(t, "session")}
	call(t, hs, "POST", reg, "", map[string]any{"username": "dave", "auth": dummy}).wantError(t, 400, "M_MISSING_PARAM")
	call(t, hs, "POST", reg, "", map[string]any{"username": "dave", "password": "pw", "auth": dummy}).wantStatus(t, 200)

	// inhibit_login, and a generated username; auth without a session starts one.
	a = call(t, hs, "POST", reg, "", map[string]any{"password": "pw", "inhibit_login": true, "auth": map[string]any{"type": "m.login.dummy"}})
	a.wantStatus(t, 200)
	if _, ok := a.body["access_token"]; ok || !strings.HasPrefix(a.str(t, "user_id"), "@u") {
		t.Fatalf("inhibit_login register %s", a.raw)
	}
	if d := hs.Devices(a.str(t, "user_id")); len(d) != 0 {
		t.Fatalf("inhibit_login made devices %+v", d)
	}
}

func TestGuests(t *testing.T) {
	reg := "/_matrix/client/v3/register?kind=guest"
	call(t, mock.Start(t), "POST", reg, "", "{}").wantError(t, 403, "M_GUEST_ACCESS_FORBIDDEN")

	hs := mock.Start(t, mock.WithGuestAccess())
	a := call(t, hs, "POST", reg, "", "{}")
	a.wantStatus(t, 200)
	w := call(t, hs, "GET", whoami, a.str(t, "access_token"), nil)
	if w.body["is_guest"] != true || w.body["user_id"] != a.body["user_id"] {
		t.Fatalf("guest whoami %s", w.raw)
	}
}

func TestDevicesAndUIA(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"})
	laptop := login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOP"})
	at := phone.str(t, "access_token")

	call(t, hs, "PUT", "/_matrix/client/v3/devices/LAPTOP", at, map[string]any{"display_name": "Work laptop"}).wantStatus(t, 200)
	a := call(t, hs, "GET", "/_matrix/client/v3/devices", at, nil)
	if !strings.Contains(a.raw, `"device_id":"LAPTOP","display_name":"Work laptop"`) || !strings.Contains(a.raw, `"device_id":"PHONE"`) {
		t.Fatalf("devices %s", a.raw)
	}
	// Bob cannot see or touch Alice's devices.
	bob := login(t, hs, "bob", "pw", nil).str(t, "access_token")
	call(t, hs, "GET", "/_matrix/client/v3/devices/LAPTOP", bob, nil).wantError(t, 404, "M_NOT_FOUND")

	del := "/_matrix/client/v3/devices/LAPTOP"
	a = call(t, hs, "DELETE", del, at, nil)
	a.wantStatus(t, 401)
	if !strings.Contains(a.raw, `"flows":[{"stages":["m.login.password"]}]`) {
		t.Fatalf("challenge %s", a.raw)
	}
	session := a.str(t, "session")
	auth := func(password string) map[string]any {
		return map[string]any{"auth": map[string]any{
			"type": "m.login.password", "session": session, "password": password,
			"identifier": map[string]any{"type": "m.id.user", "user": "alice"},
		}}
	}
	a = call(t, hs, "DELETE", del, at, auth("wrong"))
	a.wantStatus(t, 401)
	if a.body["errcode"] != "M_FORBIDDEN" || a.body["session"] != session {
		t.Fatalf("wrong password: %s", a.raw)
	}
	// Bob cannot finish Alice's session.
	call(t, hs, "DELETE", "/_matrix/client/v3/devices/"+login(t, hs, "bob", "pw", nil).str(t, "device_id"), bob, auth("pw")).wantError(t, 400, "M_UNKNOWN")
	call(t, hs, "GET", whoami, laptop.str(t, "access_token"), nil).wantStatus(t, 200)

	call(t, hs, "DELETE", del, at, auth("pw")).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, laptop.str(t, "access_token"), nil), false)
	if d := hs.Devices("alice"); len(d) != 1 || d[0].ID != "PHONE" {
		t.Fatalf("devices after delete %+v", d)
	}
	call(t, hs, "DELETE", del, at, auth("pw")).wantError(t, 404, "M_NOT_FOUND")

	// delete_devices, with the legacy user field in the auth stage.
	tablet := login(t, hs, "alice", "pw", map[string]any{"device_id": "TABLET"})
	a = call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{"devices": []string{"TABLET", "GONE"}})
	a.wantStatus(t, 401)
	a = call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{
		"devices": []string{"TABLET", "GONE"},
		"auth":    map[string]any{"type": "m.login.password", "session": a.str(t, "session"), "user": "@alice:localhost", "password": "pw"},
	})
	a.wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, tablet.str(t, "access_token"), nil), false)
}

func TestLogout(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	one := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
	two := login(t, hs, "alice", "pw", nil)
	three := login(t, hs, "alice", "pw", nil)

	// Logout works with an expired token, as on Synapse.
	hs.Clock().Advance(time.Hour)
	call(t, hs, "POST", "/_matrix/client/v3/logout", one.str(t, "access_token"), nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, one.str(t, "access_token"), nil), false)
	wantUnknownToken(t, refresh(t, hs, one.str(t, "refresh_token")), false)
	wantUnknownToken(t, call(t, hs, "POST", "/_matrix/client/v3/logout", one.str(t, "access_token"), nil), false)

	call(t, hs, "POST", "/_matrix/client/v3/logout/all", two.str(t, "access_token"), "{}").wantStatus(t, 200)
	for _, a := range []answer{two, three} {
		wantUnknownToken(t, call(t, hs, "GET", whoami, a.str(t, "access_token"), nil), false)
	}
	if d := hs.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices after logout/all: %+v", d)
	}
}

func TestScriptedSessionChanges(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	s, err := hs.AddSession("alice", "PHONE", "alice-phone", "alice-phone-r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.AccessToken != "alice-phone" || s.DeviceID != "PHONE" {
		t.Fatalf("session %+v", s)
	}
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	if err := hs.ExpireAccessToken("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-phone", nil), true)
	r := refresh(t, hs, "alice-phone-r")
	r.wantStatus(t, 200)
	if err := hs.RevokeRefreshToken("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	call(t, hs, "GET", whoami, r.str(t, "access_token"), nil).wantStatus(t, 200)
	wantUnknownToken(t, refresh(t, hs, r.str(t, "refresh_token")), false)
	if err := hs.HardLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, r.str(t, "access_token"), nil), false)
	if err := hs.SoftLogout("alice", "PHONE"); err != mock.ErrNotFound {
		t.Fatalf("SoftLogout of a deleted device: %v, want ErrNotFound", err)
	}
	if _, err := hs.AddSession("nobody", "", "", "", 0); err != mock.ErrNotFound {
		t.Fatalf("AddSession for an unknown user: %v", err)
	}
}

// TestConcurrentClients has many clients log in, refresh and call whoami at
// once; every answer must be right and the journal must count them all.
func TestConcurrentClients(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	const clients, calls = 32, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() { errs <- clientSession(hs, calls) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := hs.Journal().Count(journal.Filter{Operation: "getTokenOwner", Status: 200}); n != clients*calls {
		t.Fatalf("journal counts %d successful whoami, want %d", n, clients*calls)
	}
	if d := hs.Devices("alice"); len(d) != clients {
		t.Fatalf("%d devices, want %d", len(d), clients)
	}
}

// clientSession logs in, calls whoami calls times and refreshes half-way.
func clientSession(hs *mock.Server, calls int) error {
	a, err := send(hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", map[string]any{"refresh_token": true}))
	if err != nil || a.status != 200 {
		return fmt.Errorf("login: %v %s", err, a.raw)
	}
	at, rt := a.body["access_token"].(string), a.body["refresh_token"].(string)
	for j := range calls {
		if j == calls/2 {
			r, err := send(hs, "POST", "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": rt})
			if err != nil || r.status != 200 {
				return fmt.Errorf("refresh: %v %s", err, r.raw)
			}
			at, rt = r.body["access_token"].(string), r.body["refresh_token"].(string)
		}
		w, err := send(hs, "GET", whoami, at, nil)
		if err != nil || w.status != 200 || w.body["device_id"] != a.body["device_id"] {
			return fmt.Errorf("whoami: %v %s", err, w.raw)
		}
	}
	return nil
}
