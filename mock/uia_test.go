package mock_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// passwordStage is a UIA m.login.password stage for alice in session.
func passwordStage(session, password string) map[string]any {
	return map[string]any{
		"type": "m.login.password", "session": session, "password": password,
		"identifier": map[string]any{"type": "m.id.user", "user": "alice"},
	}
}

// wantChallenge checks a 401 UIA answer offering m.login.password, with
// params, and returns its session.
func wantChallenge(t *testing.T, a answer) string {
	t.Helper()
	a.wantStatus(t, 401)
	if !strings.Contains(a.raw, `"flows":[{"stages":["m.login.password"]}]`) || !strings.Contains(a.raw, `"params":{}`) {
		t.Fatalf("got %s, want a challenge for m.login.password", a.raw)
	}
	return a.str(t, "session")
}

// TestUIABoundToRequest: a UIA session completes only the request it was
// started for. Before the fix, a challenge for DELETE /devices/A completed
// POST /delete_devices for [B].
func TestUIABoundToRequest(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	at := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
	a := login(t, hs, "alice", "pw", map[string]any{"device_id": "A"}).str(t, "access_token")
	b := login(t, hs, "alice", "pw", map[string]any{"device_id": "B"}).str(t, "access_token")
	changed := func(ans answer) {
		t.Helper()
		ans.wantError(t, 403, "M_FORBIDDEN")
		if ans.body["error"] != "Requested operation has changed during the UI authentication session" {
			t.Fatalf("message %s", ans.raw)
		}
	}

	session := wantChallenge(t, call(t, hs, "DELETE", "/_matrix/client/v3/devices/A", at, nil))
	changed(call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{"devices": []string{"B"}, "auth": passwordStage(session, "pw")}))
	changed(call(t, hs, "DELETE", "/_matrix/client/v3/devices/B", at, map[string]any{"auth": passwordStage(session, "pw")}))
	call(t, hs, "GET", whoami, b, nil).wantStatus(t, 200)
	// The refusals left the session as it was: it still deletes A.
	call(t, hs, "DELETE", "/_matrix/client/v3/devices/A", at, map[string]any{"auth": passwordStage(session, "pw")}).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, a, nil), false)

	// For delete_devices the list is part of the request, in any order.
	c := login(t, hs, "alice", "pw", map[string]any{"device_id": "C"}).str(t, "access_token")
	session = wantChallenge(t, call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{"devices": []string{"C", "GONE"}}))
	changed(call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{"devices": []string{"B", "C"}, "auth": passwordStage(session, "pw")}))
	call(t, hs, "GET", whoami, b, nil).wantStatus(t, 200)
	call(t, hs, "POST", "/_matrix/client/v3/delete_devices", at, map[string]any{"devices": []string{"GONE", "C", "C"}, "auth": passwordStage(session, "pw")}).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, c, nil), false)
	call(t, hs, "GET", whoami, b, nil).wantStatus(t, 200)
}

// TestGetTokenUIA: get_token asks for the password every time. Before the
// fix it issued a login token without user-interactive auth.
func TestGetTokenUIA(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	const getToken = "/_matrix/client/v1/login/get_token"
	for range 2 { // no grace period: the second token needs the password again
		session := wantChallenge(t, call(t, hs, "POST", getToken, at, map[string]any{}))
		a := call(t, hs, "POST", getToken, at, map[string]any{"auth": passwordStage(session, "wrong")})
		if wantChallenge(t, a) != session || a.body["errcode"] != "M_FORBIDDEN" {
			t.Fatalf("wrong password: %s, want a retry in session %s", a.raw, session)
		}
		a = call(t, hs, "POST", getToken, at, map[string]any{"auth": passwordStage(session, "pw")})
		a.wantStatus(t, 200)
		lt := a.str(t, "login_token")
		// The session is over once it succeeded.
		call(t, hs, "POST", getToken, at, map[string]any{"auth": passwordStage(session, "pw")}).wantError(t, 400, "M_UNKNOWN")
		second := call(t, hs, "POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.token", "token": lt})
		if second.wantStatus(t, 200); second.body["user_id"] != "@alice:localhost" {
			t.Fatalf("token login %s", second.raw)
		}
	}
}

// oauthSession logs alice in through the auto-approved OAuth 2.0 flow on
// device and returns the token endpoint's answer.
func oauthSession(t *testing.T, hs *mock.Server, device string) answer {
	t.Helper()
	client := register(t, hs, nil)
	tokens := exchange(t, hs, client, codeFor(t, hs, client, device))
	tokens.wantStatus(t, 200)
	return tokens
}

// TestOAuthSessionsRefusedUIA: every UIA endpoint refuses an OAuth 2.0
// session with 403 M_FORBIDDEN naming the account page and the action to
// use there (with the names the metadata advertises), and get_token
// refuses it too. Before the fix get_token minted a legacy session for it.
func TestOAuthSessionsRefusedUIA(t *testing.T) {
	for _, names := range []string{"stable", "msc"} {
		t.Run(names, func(t *testing.T) {
			hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
server: {auth: [legacy, oauth]}
oauth: {auto_approve: alice, action_names: `+names+`}
users: [{id: alice, password: pw, devices: [{id: PHONE, access_token: alice-phone}]}]
`)))
			at := oauthSession(t, hs, "OAUTHDEV01").str(t, "access_token")
			deleteAction := map[string]string{"stable": "org.matrix.device_delete", "msc": "org.matrix.session_end"}[names]
			listAction := map[string]string{"stable": "org.matrix.devices_list", "msc": "org.matrix.sessions_list"}[names]
			tests := []struct {
				method, path string
				body         any
				want         string
			}{
				{"DELETE", "/_matrix/client/v3/devices/PHONE", map[string]any{}, hs.URL + "/account/?" + url.Values{"action": {deleteAction}, "device_id": {"PHONE"}}.Encode()},
				{"POST", "/_matrix/client/v3/delete_devices", map[string]any{"devices": []string{"PHONE"}}, hs.URL + "/account/?action=" + listAction},
				{"POST", "/_matrix/client/v1/login/get_token", map[string]any{}, "through OAuth 2.0 instead"},
				{"POST", "/_matrix/client/v3/account/password", map[string]any{"new_password": "x"}, "cannot change the password with user-interactive auth: use the account management page, " + hs.URL + "/account/?action=org.matrix.profile"},
				{"POST", "/_matrix/client/v3/account/deactivate", map[string]any{}, hs.URL + "/account/?action=org.matrix.account_deactivate"},
				{"POST", "/_matrix/client/v3/account/3pid/add", map[string]any{"sid": "x", "client_secret": "y"}, "cannot add a third-party identifier with user-interactive auth: use the account management page, " + hs.URL + "/account/"},
			}
			for _, tt := range tests {
				a := call(t, hs, tt.method, tt.path, at, tt.body)
				a.wantError(t, 403, "M_FORBIDDEN")
				if msg := a.body["error"].(string); !strings.Contains(msg, tt.want) {
					t.Errorf("%s %s: message %q does not name %s", tt.method, tt.path, msg, tt.want)
				}
			}
			call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
		})
	}
}

// TestLegacyRefreshRefusesOAuthTokens: POST /refresh refuses a refresh
// token from the OAuth 2.0 token endpoint, which stays usable there. Before
// the fix it refreshed it, with no client binding.
func TestLegacyRefreshRefusesOAuthTokens(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	client := register(t, hs, nil)
	tokens := exchange(t, hs, client, codeFor(t, hs, client, "OAUTHDEV01"))
	rt := tokens.str(t, "refresh_token")
	a := refresh(t, hs, rt)
	wantUnknownToken(t, a, false)
	if !strings.Contains(a.raw, "token endpoint") {
		t.Errorf("message %s does not say where to refresh", a.raw)
	}
	call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil).wantStatus(t, 200)
	next := form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
	next.wantStatus(t, 200)
}

// TestRegistrationAndLoginAsHomeservers: the empty registration body gets
// the flows, localparts are lowercased, and logins match the user ID
// ignoring case, with whoami giving the stored ID. Before the fixes: 400
// M_MISSING_PARAM, M_INVALID_USERNAME and 403 M_FORBIDDEN.
func TestRegistrationAndLoginAsHomeservers(t *testing.T) {
	hs := mock.Start(t)
	const reg = "/_matrix/client/v3/register"
	a := call(t, hs, "POST", reg, "", map[string]any{})
	a.wantStatus(t, 401)
	if !strings.Contains(a.raw, `"flows":[{"stages":["m.login.dummy"]}]`) || !strings.Contains(a.raw, `"params":{}`) {
		t.Fatalf("register {}: %s", a.raw)
	}
	dummy := map[string]any{"type": "m.login.dummy", "session": a.str(t, "session")}
	a = call(t, hs, "POST", reg, "", map[string]any{"username": "user-UPPER", "password": "pw", "auth": dummy})
	a.wantStatus(t, 200)
	if a.body["user_id"] != "@user-upper:localhost" {
		t.Fatalf("registered %s", a.raw)
	}
	for _, name := range []string{"USER-UPPER", "@User-Upper:localhost", "user-upper"} {
		at := login(t, hs, name, "pw", nil).str(t, "access_token")
		if w := call(t, hs, "GET", whoami, at, nil); w.body["user_id"] != "@user-upper:localhost" {
			t.Fatalf("login as %s: whoami %s", name, w.raw)
		}
	}
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("USER-UPPER", "PW", nil)).wantError(t, 403, "M_FORBIDDEN")
}

// TestCapabilities: the full set a client reads before offering actions;
// what needs user-interactive auth is off for an OAuth 2.0 session, and
// m.change_password is off when the scenario turns password changes off.
// Before, m.room_versions, m.3pid_changes, m.set_displayname and
// m.set_avatar_url were missing and m.change_password was always false.
func TestCapabilities(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
server: {auth: [legacy, oauth]}
oauth: {auto_approve: alice}
users: [{id: alice, password: pw}]
`)))
	const caps = "/_matrix/client/v3/capabilities"
	legacy := call(t, hs, "GET", caps, login(t, hs, "alice", "pw", nil).str(t, "access_token"), nil)
	legacy.wantStatus(t, 200)
	for _, want := range []string{
		`"m.change_password":{"enabled":true}`, `"m.3pid_changes":{"enabled":true}`, `"m.get_login_token":{"enabled":true}`,
		`"m.set_displayname":{"enabled":true}`, `"m.set_avatar_url":{"enabled":true}`, `"default":"10"`, `"11":"stable"`, `"1":"stable"`,
	} {
		if !strings.Contains(legacy.raw, want) {
			t.Errorf("legacy session's capabilities %s lack %s", legacy.raw, want)
		}
	}
	viaOAuth := call(t, hs, "GET", caps, oauthSession(t, hs, "OAUTHDEV01").str(t, "access_token"), nil)
	for _, want := range []string{`"m.change_password":{"enabled":false}`, `"m.3pid_changes":{"enabled":false}`, `"m.get_login_token":{"enabled":false}`, `"m.set_displayname":{"enabled":true}`} {
		if !strings.Contains(viaOAuth.raw, want) {
			t.Errorf("OAuth session's capabilities %s lack %s", viaOAuth.raw, want)
		}
	}

	off := mock.Start(t, mock.WithScenario(writeScenario(t, "server: {password_changes: false}\nusers: [{id: alice, password: pw}]\n")))
	a := call(t, off, "GET", caps, login(t, off, "alice", "pw", nil).str(t, "access_token"), nil)
	if !strings.Contains(a.raw, `"m.change_password":{"enabled":false}`) || !strings.Contains(a.raw, `"m.3pid_changes":{"enabled":true}`) {
		t.Errorf("capabilities with password changes off: %s", a.raw)
	}
}
