package mock_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// uiaSteps runs a UIA endpoint's flow for alice (password pw) with body:
// the challenge, a wrong password that keeps the session, and success. It
// returns the successful answer.
func uiaSteps(t *testing.T, hs *mock.Server, method, path, token string, body map[string]any) answer {
	t.Helper()
	session := wantChallenge(t, call(t, hs, method, path, token, body))
	with := func(password string) map[string]any {
		b := map[string]any{"auth": passwordStage(session, password)}
		for k, v := range body {
			b[k] = v
		}
		return b
	}
	a := call(t, hs, method, path, token, with("wrong"))
	if wantChallenge(t, a) != session || a.body["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("wrong password: %s, want a retry in session %s", a.raw, session)
	}
	return call(t, hs, method, path, token, with("pw"))
}

func TestChangePassword(t *testing.T) {
	const path = "/_matrix/client/v3/account/password"
	t.Run("logout others", func(t *testing.T) {
		hs := mock.Start(t, mock.WithUser("alice", "pw"))
		phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
		laptop := login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOP", "refresh_token": true})
		// A stage without the new password is refused before it runs.
		session := wantChallenge(t, call(t, hs, "POST", path, phone, map[string]any{}))
		call(t, hs, "POST", path, phone, map[string]any{"auth": passwordStage(session, "pw")}).wantError(t, 400, "M_MISSING_PARAM")
		call(t, hs, "POST", path, phone, map[string]any{"auth": passwordStage(session, "pw"), "new_password": "new"}).wantStatus(t, 200)

		call(t, hs, "GET", whoami, phone, nil).wantStatus(t, 200)
		wantUnknownToken(t, call(t, hs, "GET", whoami, laptop.str(t, "access_token"), nil), false)
		wantUnknownToken(t, refresh(t, hs, laptop.str(t, "refresh_token")), false)
		call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, 403, "M_FORBIDDEN")
		login(t, hs, "alice", "new", nil)
	})
	t.Run("keep devices", func(t *testing.T) {
		hs := mock.Start(t, mock.WithUser("alice", "pw"))
		phone := login(t, hs, "alice", "pw", nil).str(t, "access_token")
		laptop := login(t, hs, "alice", "pw", nil).str(t, "access_token")
		session := wantChallenge(t, call(t, hs, "POST", path, phone, map[string]any{}))
		keep := map[string]any{"new_password": "new", "logout_devices": false, "auth": passwordStage(session, "pw")}
		call(t, hs, "POST", path, phone, keep).wantStatus(t, 200)
		call(t, hs, "POST", path, phone, keep).wantError(t, 400, "M_UNKNOWN") // the session is over
		call(t, hs, "GET", whoami, laptop, nil).wantStatus(t, 200)
		login(t, hs, "alice", "new", nil)
	})
	t.Run("without an access token", func(t *testing.T) {
		hs := mock.Start(t, mock.WithUser("alice", "pw"))
		phone := login(t, hs, "alice", "pw", nil).str(t, "access_token")
		uiaSteps(t, hs, "POST", path, "", map[string]any{"new_password": "new"}).wantStatus(t, 200)
		wantUnknownToken(t, call(t, hs, "GET", whoami, phone, nil), false)
		login(t, hs, "alice", "new", nil)
	})
	t.Run("turned off", func(t *testing.T) {
		hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithoutPasswordChanges())
		phone := login(t, hs, "alice", "pw", nil).str(t, "access_token")
		call(t, hs, "POST", path, phone, map[string]any{"new_password": "new"}).wantError(t, 403, "M_FORBIDDEN")
		login(t, hs, "alice", "pw", nil)
	})
}

func TestDeactivateAccount(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
	laptop := login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOP", "refresh_token": true})
	page := accountSignIn(t, hs, "", "alice", "pw")

	a := uiaSteps(t, hs, "POST", "/_matrix/client/v3/account/deactivate", phone, map[string]any{"erase": true})
	a.wantStatus(t, 200)
	if a.body["id_server_unbind_result"] != "no-support" {
		t.Fatalf("answer %s", a.raw)
	}
	for _, at := range []string{phone, laptop.str(t, "access_token")} {
		wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), false)
	}
	wantUnknownToken(t, refresh(t, hs, laptop.str(t, "refresh_token")), false)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, 403, "M_USER_DEACTIVATED")
	call(t, hs, "GET", "/_matrix/client/v3/register/available?username=alice", "", nil).wantError(t, 400, "M_USER_IN_USE")
	getAccount(t, hs, "", page).wantPage(t, 200, `value="signin"`) // the page session ended too
	login(t, hs, "bob", "pw", nil)
}

func TestThreePIDEndpoints(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	bob := login(t, hs, "bob", "pw", nil).str(t, "access_token")
	const base = "/_matrix/client/v3/account/3pid"
	requestToken := func(token, secret, email string) answer {
		return call(t, hs, "POST", base+"/email/requestToken", token, map[string]any{"client_secret": secret, "email": email, "send_attempt": 1})
	}
	call(t, hs, "POST", base+"/email/requestToken", at, map[string]any{"client_secret": "bad secret!", "email": "a@example.org", "send_attempt": 1}).wantError(t, 400, "M_INVALID_PARAM")
	sid := requestToken(at, "s3cret", "Alice@Example.org")
	sid.wantStatus(t, 200)
	add := map[string]any{"client_secret": "s3cret", "sid": sid.str(t, "sid")}
	uiaSteps(t, hs, "POST", base+"/add", at, add).wantStatus(t, 200)
	a := call(t, hs, "GET", base, at, nil)
	if !strings.Contains(a.raw, `"address":"alice@example.org"`) || !strings.Contains(a.raw, `"medium":"email"`) {
		t.Fatalf("3PIDs %s", a.raw)
	}
	requestToken(bob, "other", "ALICE@example.org").wantError(t, 400, "M_THREEPID_IN_USE")

	phone := call(t, hs, "POST", base+"/msisdn/requestToken", at, map[string]any{"client_secret": "s3cret", "country": "GB", "phone_number": "+44 7700 900000", "send_attempt": 1})
	phone.wantStatus(t, 200)
	wrong := map[string]any{"client_secret": "not-it", "sid": phone.str(t, "sid")}
	session := wantChallenge(t, call(t, hs, "POST", base+"/add", at, wrong))
	wrong["auth"] = passwordStage(session, "pw")
	call(t, hs, "POST", base+"/add", at, wrong).wantError(t, 400, "M_THREEPID_AUTH_FAILED")

	creds := map[string]any{"client_secret": "s3cret", "sid": "x", "id_server": "id.example.org", "id_access_token": "t"}
	call(t, hs, "POST", base+"/bind", at, creds).wantStatus(t, 200)
	call(t, hs, "POST", base+"/bind", at, map[string]any{"client_secret": "s3cret"}).wantError(t, 400, "M_MISSING_PARAM")
	call(t, hs, "POST", base, at, map[string]any{"three_pid_creds": creds}).wantStatus(t, 200)
	unbind := call(t, hs, "POST", base+"/unbind", at, map[string]any{"medium": "email", "address": "alice@example.org"})
	if unbind.wantStatus(t, 200); unbind.body["id_server_unbind_result"] != "no-support" {
		t.Fatalf("unbind %s", unbind.raw)
	}
	call(t, hs, "POST", base+"/delete", at, map[string]any{"medium": "fax", "address": "1"}).wantError(t, 400, "M_INVALID_PARAM")
	del := call(t, hs, "POST", base+"/delete", at, map[string]any{"medium": "email", "address": "ALICE@example.org"})
	if del.wantStatus(t, 200); del.body["id_server_unbind_result"] != "no-support" {
		t.Fatalf("delete %s", del.raw)
	}
	if a := call(t, hs, "GET", base, at, nil); a.raw != `{"threepids":[]}`+"\n" {
		t.Fatalf("3PIDs after delete %s", a.raw)
	}
	requestToken(bob, "other", "alice@example.org").wantStatus(t, 200) // free again
}

// crossSigningKey is a cross-signing key of alice's with the given public
// key.
func crossSigningKey(usage, public string) map[string]any {
	return map[string]any{"user_id": "@alice:localhost", "usage": []string{usage}, "keys": map[string]string{"ed25519:" + public: public}}
}

func TestCrossSigningReset(t *testing.T) {
	const path = "/_matrix/client/v3/keys/device_signing/upload"
	first := map[string]any{"master_key": crossSigningKey("master", "one")}
	second := map[string]any{"master_key": crossSigningKey("master", "two")}
	third := map[string]any{"master_key": crossSigningKey("master", "three")}

	t.Run("legacy session", func(t *testing.T) {
		hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"))
		at := login(t, hs, "alice", "pw", nil).str(t, "access_token")
		call(t, hs, "POST", path, at, first).wantStatus(t, 200)
		call(t, hs, "POST", path, at, first).wantStatus(t, 200) // the same keys again: no UIA
		uiaSteps(t, hs, "POST", path, at, second).wantStatus(t, 200)
		call(t, hs, "POST", path, at, second).wantStatus(t, 200) // stored: the reset happened
		call(t, hs, "POST", path, at, map[string]any{"master_key": map[string]any{"user_id": "@bob:localhost", "usage": []string{"master"}, "keys": map[string]string{"ed25519:x": "x"}}}).wantError(t, 400, "M_INVALID_PARAM")

		// A reset elsewhere (the control API, as a scenario effect would)
		// drops the keys: the next upload is a first one again.
		control(t, hs, "POST", "/_mock/users/alice/reset_cross_signing", nil).wantStatus(t, 200)
		control(t, hs, "POST", "/_mock/users/nobody/reset_cross_signing", nil).wantError(t, 404, "M_NOT_FOUND")
		call(t, hs, "POST", path, at, third).wantStatus(t, 200)
		if err := hs.ResetCrossSigning("alice"); err != nil {
			t.Fatal(err)
		}
		call(t, hs, "POST", path, at, first).wantStatus(t, 200)
	})
	t.Run("OAuth session", func(t *testing.T) {
		hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"), mock.WithUser("alice", "pw"))
		at := oauthSession(t, hs, "OAUTHDEV01").str(t, "access_token")
		call(t, hs, "POST", path, at, first).wantStatus(t, 200)
		a := call(t, hs, "POST", path, at, second)
		a.wantStatus(t, 401)
		reset := hs.URL + "/account/?" + url.Values{"action": {"org.matrix.cross_signing_reset"}}.Encode()
		if !strings.Contains(a.raw, `"flows":[{"stages":["m.oauth"]}]`) || !strings.Contains(a.raw, `"m.oauth":{"url":"`+reset+`"}`) {
			t.Fatalf("challenge %s, want m.oauth naming %s", a.raw, reset)
		}
		retry := map[string]any{"master_key": second["master_key"], "auth": map[string]any{"type": "m.oauth", "session": a.str(t, "session")}}
		call(t, hs, "POST", path, at, retry).wantStatus(t, 401) // not approved yet
		page := autoPageSession(t, hs)
		getAccount(t, hs, "?action=org.matrix.cross_signing_reset", page).submit(t, hs, page, url.Values{"action": {"reset"}}).wantStatus(t, 200)
		call(t, hs, "POST", path, at, retry).wantStatus(t, 200)
		call(t, hs, "POST", path, at, third).wantStatus(t, 200) // within the approval's ten minutes
	})
}
