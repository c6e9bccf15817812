// Package mautrix_test is an interop suite: a real Matrix client library,
// maunium.net/go/mautrix v0.26.0, drives the mock homeserver (package mock)
// over loopback HTTP, and every assertion is made on what the library
// returns: its typed responses (RespRegister, RespLogin, RespWhoami,
// RespDevicesInfo, RespUserInteractive, RespVersions...) and its error values
// (mautrix.HTTPError wrapping a RespError, matched with errors.Is against
// mautrix.MUnknownToken and friends, soft_logout read from
// RespError.ExtraData).
//
// It proves that a client written against the Matrix spec, not against the
// mock, can register with m.login.dummy UIA, log in with refresh tokens,
// manage devices, refresh (including refresh token reuse), see its access
// token expire on the mock's virtual clock and recover, recover from a soft
// logout on the same device, delete devices through m.login.password UIA,
// log out, notice a hard logout, discover the server, and do all this from
// many goroutines at once. No test sleeps: time moves only through
// hs.Clock().
//
// Where mautrix v0.26.0 has no method (POST /refresh) or drops what is needed
// (the body of a UIA 401 from DeleteDevice), the test goes through the
// library's own generic Client.MakeRequest and decodes into the library's
// types.
package mautrix_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock/journal"
)

// TestRegister: RegisterDummy runs the m.login.dummy UIA flow and gets a
// user, device and access token; the same name again is M_USER_IN_USE;
// RegisterAvailable tells free, taken and invalid names apart; a
// registration with refresh_token true gets a working refresh token.
func TestRegister(t *testing.T) {
	hs := startHS(t)
	cli := newClient(t, hs, "")
	ctx := t.Context()

	// The first step of the flow, seen through the library's Register.
	_, uia, err := cli.Register(ctx, &mautrix.ReqRegister{Username: "bob", Password: "builder"})
	if uia == nil {
		t.Fatalf("Register without auth: no UIA answer (err %v)", err)
	}
	if !uia.HasSingleStageFlow(mautrix.AuthTypeDummy) || len(uia.Flows) != 1 || uia.Session == "" || len(uia.Completed) != 0 {
		t.Fatalf("register challenge = %+v, want the single flow [m.login.dummy], a session and nothing completed", uia)
	}

	req := &mautrix.ReqRegister{Username: "bob", Password: "builder", InitialDeviceDisplayName: "bob's laptop"}
	resp, err := cli.RegisterDummy(ctx, req)
	if err != nil {
		t.Fatalf("RegisterDummy: %v", err)
	}
	if resp.UserID != "@bob:localhost" || resp.DeviceID == "" || resp.AccessToken == "" {
		t.Fatalf("RegisterDummy = user %q, device %q, token %q; want @bob:localhost, a device and a token", resp.UserID, resp.DeviceID, resp.AccessToken)
	}
	if resp.RefreshToken != "" || resp.ExpiresInMS != 0 {
		t.Errorf("registration without refresh_token: got refresh token %q, expires_in_ms %d; want neither", resp.RefreshToken, resp.ExpiresInMS)
	}
	if resp.HomeServer != "localhost" {
		t.Errorf("home_server = %q, want localhost", resp.HomeServer)
	}

	// The new token works and names the new device, with its display name.
	bob := newClient(t, hs, resp.AccessToken)
	who, err := bob.Whoami(ctx)
	if err != nil {
		t.Fatalf("Whoami with the registration token: %v", err)
	}
	if who.UserID != resp.UserID || who.DeviceID != resp.DeviceID {
		t.Errorf("Whoami = %s on %s, want %s on %s", who.UserID, who.DeviceID, resp.UserID, resp.DeviceID)
	}
	dev, err := bob.GetDeviceInfo(ctx, resp.DeviceID)
	if err != nil {
		t.Fatalf("GetDeviceInfo: %v", err)
	}
	if dev.DisplayName != "bob's laptop" {
		t.Errorf("display name = %q, want %q", dev.DisplayName, "bob's laptop")
	}

	// The same name again fails at once, before any UIA.
	_, err = cli.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "bob", Password: "other"})
	wantError(t, err, mautrix.MUserInUse, http.StatusBadRequest)
	// The fixture user is taken too.
	_, _, err = cli.Register(ctx, &mautrix.ReqRegister{Username: alice, Password: "x"})
	wantError(t, err, mautrix.MUserInUse, http.StatusBadRequest)

	avail, err := cli.RegisterAvailable(ctx, "carol")
	if err != nil || avail == nil || !avail.Available {
		t.Errorf("RegisterAvailable(carol) = %+v, %v; want available", avail, err)
	}
	_, err = cli.RegisterAvailable(ctx, "bob")
	wantError(t, err, mautrix.MUserInUse, http.StatusBadRequest)
	_, err = cli.RegisterAvailable(ctx, "Not Valid!")
	wantError(t, err, mautrix.MInvalidUsername, http.StatusBadRequest)

	// Registration can ask for a refresh token and name the device.
	withRefresh, err := cli.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "dave", Password: "pw", DeviceID: "DAVEPHONE", RefreshToken: true})
	if err != nil {
		t.Fatalf("RegisterDummy with refresh_token: %v", err)
	}
	if withRefresh.UserID != "@dave:localhost" || withRefresh.DeviceID != "DAVEPHONE" || withRefresh.RefreshToken == "" || withRefresh.ExpiresInMS != accessLifetimeMS {
		t.Fatalf("RegisterDummy with refresh_token = %+v, want @dave:localhost on DAVEPHONE, a refresh token, expires_in_ms %d", withRefresh, accessLifetimeMS)
	}
	dave := newClient(t, hs, withRefresh.AccessToken)
	fresh := mustRefresh(t, dave, withRefresh.RefreshToken)
	dave.AccessToken = fresh.AccessToken
	if who, err := dave.Whoami(ctx); err != nil || who.UserID != "@dave:localhost" || who.DeviceID != "DAVEPHONE" {
		t.Errorf("Whoami after refreshing the registration's token = %+v, %v", who, err)
	}

	if n := count(hs, journal.Filter{Operation: "register", Status: http.StatusOK}); n != 2 {
		t.Errorf("journal: %d successful registrations, want 2", n)
	}
}

// TestLoginWithRefreshToken: a password login with refresh_token true gets
// an expiring access token and a refresh token, and StoreCredentials puts
// them in the client.
func TestLoginWithRefreshToken(t *testing.T) {
	hs := startHS(t)
	cli := newClient(t, hs, "")
	ctx := t.Context()

	flows, err := cli.GetLoginFlows(ctx)
	if err != nil {
		t.Fatalf("GetLoginFlows: %v", err)
	}
	if !flows.HasFlow(mautrix.AuthTypePassword) || !flows.HasFlow(mautrix.AuthTypeToken) {
		t.Errorf("login flows = %+v, want m.login.password and m.login.token", flows.Flows)
	}

	req := passwordLogin("", true)
	req.InitialDeviceDisplayName = "mautrix interop"
	resp, err := cli.Login(ctx, req)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if resp.UserID != aliceID || resp.DeviceID == "" || resp.AccessToken == "" {
		t.Fatalf("Login = user %q, device %q, token %q", resp.UserID, resp.DeviceID, resp.AccessToken)
	}
	if resp.RefreshToken == "" || resp.RefreshToken == resp.AccessToken {
		t.Errorf("refresh token = %q (access token %q), want a distinct refresh token", resp.RefreshToken, resp.AccessToken)
	}
	if resp.ExpiresInMS != accessLifetimeMS {
		t.Errorf("expires_in_ms = %d, want %d", resp.ExpiresInMS, accessLifetimeMS)
	}
	if resp.WellKnown == nil || resp.WellKnown.Homeserver.BaseURL != hs.URL {
		t.Errorf("well_known = %+v, want m.homeserver base_url %q", resp.WellKnown, hs.URL)
	}
	if cli.UserID != aliceID || cli.DeviceID != resp.DeviceID || cli.AccessToken != resp.AccessToken {
		t.Errorf("StoreCredentials: client has %q/%q/%q, want %q/%q/%q", cli.UserID, cli.DeviceID, cli.AccessToken, aliceID, resp.DeviceID, resp.AccessToken)
	}
	whoami(t, cli, resp.DeviceID)

	// A login without refresh_token gets a token that does not expire.
	_, plain := login(t, hs, "", false)
	if plain.RefreshToken != "" || plain.ExpiresInMS != 0 {
		t.Errorf("login without refresh_token: refresh token %q, expires_in_ms %d; want neither", plain.RefreshToken, plain.ExpiresInMS)
	}

	// The full user ID works as the identifier too.
	full := passwordLogin("", false)
	full.Identifier.User = string(aliceID)
	if r, err := newClient(t, hs, "").Login(ctx, full); err != nil || r.UserID != aliceID {
		t.Errorf("Login as %s = %+v, %v", aliceID, r, err)
	}

	bad := passwordLogin("", true)
	bad.Password = "looking-glass"
	_, err = newClient(t, hs, "").Login(ctx, bad)
	wantError(t, err, mautrix.MForbidden, http.StatusForbidden)

	if n := count(hs, journal.Filter{Operation: "login", Status: http.StatusOK}); n != 3 {
		t.Errorf("journal: %d successful logins, want 3", n)
	}
}

// TestLoginToken: a token from POST /login/get_token (no mautrix method;
// sent with MakeRequest) logs in through the library's Login with
// m.login.token, which sends an empty identifier the server must ignore.
func TestLoginToken(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, _ := login(t, hs, "", false)

	caps, err := cli.Capabilities(ctx)
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if caps.GetLoginToken == nil || !caps.GetLoginToken.Enabled {
		t.Errorf("m.get_login_token = %+v, want enabled", caps.GetLoginToken)
	}

	// get_token asks for the password each time (no UIA grace period).
	getToken := cli.BuildClientURL("v1", "login", "get_token")
	uia := uiaChallenge(t, cli, http.MethodPost, getToken, struct{}{})
	if !uia.HasSingleStageFlow(mautrix.AuthTypePassword) || uia.Session == "" {
		t.Fatalf("get_token challenge = %+v, want the single flow [m.login.password] and a session", uia)
	}
	var tok struct {
		LoginToken  string `json:"login_token"`
		ExpiresInMS int64  `json:"expires_in_ms"`
	}
	withAuth := map[string]any{"auth": passwordStage(uia.Session, alicePassword)}
	if _, err := cli.MakeRequest(ctx, http.MethodPost, getToken, withAuth, &tok); err != nil {
		t.Fatalf("get_token: %v", err)
	}
	if tok.LoginToken == "" || tok.ExpiresInMS != int64(2*time.Minute/time.Millisecond) {
		t.Fatalf("get_token = %+v, want a token living 120000 ms", tok)
	}

	other := newClient(t, hs, "")
	resp, err := other.Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypeToken, Token: tok.LoginToken, RefreshToken: true, StoreCredentials: true})
	if err != nil {
		t.Fatalf("Login with m.login.token: %v", err)
	}
	if resp.UserID != aliceID || resp.RefreshToken == "" || resp.ExpiresInMS != accessLifetimeMS {
		t.Errorf("token login = %+v", resp)
	}
	whoami(t, other, resp.DeviceID)

	// A login token works once.
	_, err = newClient(t, hs, "").Login(ctx, &mautrix.ReqLogin{Type: mautrix.AuthTypeToken, Token: tok.LoginToken})
	wantError(t, err, mautrix.MForbidden, http.StatusForbidden)
}

// TestWhoamiAndDevices: whoami names the user and device; the device list,
// one device and a rename read back through the library.
func TestWhoamiAndDevices(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli := newClient(t, hs, "")
	req := passwordLogin("", true)
	req.InitialDeviceDisplayName = "first name"
	resp, err := cli.Login(ctx, req)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	dev := resp.DeviceID

	whoami(t, cli, dev)

	hs.Clock().Advance(time.Minute) // the next request is seen a minute later
	list, err := cli.GetDevicesInfo(ctx)
	if err != nil {
		t.Fatalf("GetDevicesInfo: %v", err)
	}
	want := mautrix.RespDeviceInfo{DeviceID: dev, DisplayName: "first name", LastSeenIP: "127.0.0.1", LastSeenTS: epoch.Add(time.Minute).UnixMilli()}
	if len(list.Devices) != 1 || list.Devices[0] != want {
		t.Fatalf("GetDevicesInfo = %+v, want [%+v]", list.Devices, want)
	}

	one, err := cli.GetDeviceInfo(ctx, dev)
	if err != nil {
		t.Fatalf("GetDeviceInfo: %v", err)
	}
	if *one != want {
		t.Errorf("GetDeviceInfo = %+v, want %+v", *one, want)
	}

	if err := cli.SetDeviceInfo(ctx, dev, &mautrix.ReqDeviceInfo{DisplayName: "renamed by mautrix"}); err != nil {
		t.Fatalf("SetDeviceInfo: %v", err)
	}
	one, err = cli.GetDeviceInfo(ctx, dev)
	if err != nil {
		t.Fatalf("GetDeviceInfo after rename: %v", err)
	}
	if one.DisplayName != "renamed by mautrix" {
		t.Errorf("display name after rename = %q, want %q", one.DisplayName, "renamed by mautrix")
	}
	if d := hs.Devices(alice); len(d) != 1 || d[0].DisplayName != "renamed by mautrix" {
		t.Errorf("mock devices after rename = %+v", d)
	}

	_, err = cli.GetDeviceInfo(ctx, "NOSUCHDEVICE")
	wantError(t, err, mautrix.MNotFound, http.StatusNotFound)
	err = cli.SetDeviceInfo(ctx, "NOSUCHDEVICE", &mautrix.ReqDeviceInfo{DisplayName: "x"})
	wantError(t, err, mautrix.MNotFound, http.StatusNotFound)

	// Without a token the library gets M_MISSING_TOKEN.
	_, err = newClient(t, hs, "").Whoami(ctx)
	wantError(t, err, mautrix.MMissingToken, http.StatusUnauthorized)
}

// TestRefresh: POST /refresh gives a new pair; the old refresh token may be
// reused until the new pair is used, and after that it is 401
// M_UNKNOWN_TOKEN with soft_logout false.
func TestRefresh(t *testing.T) {
	hs := startHS(t)
	cli, first := login(t, hs, "", true)
	dev := first.DeviceID

	second := mustRefresh(t, cli, first.RefreshToken)
	if second.AccessToken == first.AccessToken {
		t.Fatalf("refresh returned the old access token %q", first.AccessToken)
	}

	// Before the new pair is used the old refresh token still works (the
	// client may have lost the answer); the pair it gives replaces the last.
	third := mustRefresh(t, cli, first.RefreshToken)
	if third.AccessToken == second.AccessToken || third.RefreshToken == second.RefreshToken {
		t.Fatalf("repeated refresh returned the same pair %+v", third)
	}

	cli.AccessToken = third.AccessToken
	whoami(t, cli, dev) // uses the new pair: the old refresh token is now revoked

	_, err := refresh(t, cli, first.RefreshToken)
	wantUnknownToken(t, err, false)

	// The current refresh token is unaffected, and chains on.
	fourth := mustRefresh(t, cli, third.RefreshToken)
	cli.AccessToken = fourth.AccessToken
	whoami(t, cli, dev)

	_, err = refresh(t, cli, "mrt_never_issued")
	wantUnknownToken(t, err, false)

	if n := count(hs, journal.Filter{Operation: "refresh", Status: http.StatusOK}); n != 3 {
		t.Errorf("journal: %d successful refreshes, want 3", n)
	}
	if n := count(hs, journal.Filter{Operation: "refresh", Errcode: "M_UNKNOWN_TOKEN", Status: http.StatusUnauthorized}); n != 2 {
		t.Errorf("journal: %d refreshes refused with 401 M_UNKNOWN_TOKEN, want 2", n)
	}
}

// TestExpiry: on the virtual clock the access token works until its
// lifetime is over, then whoami is 401 M_UNKNOWN_TOKEN with soft_logout
// true; a refresh (sent with the expired token in the header, as mautrix
// does) recovers, also after hs.ExpireAccessToken. Once the refresh token
// has expired too (24h), only a new login on the same device recovers.
func TestExpiry(t *testing.T) {
	hs := startHS(t)
	cli, resp := login(t, hs, "", true)
	dev := resp.DeviceID

	hs.Clock().Advance(5*time.Minute - time.Millisecond)
	whoami(t, cli, dev) // one millisecond left

	hs.Clock().Advance(time.Millisecond)
	_, err := cli.Whoami(t.Context())
	wantUnknownToken(t, err, true)
	_, err = cli.GetDevicesInfo(t.Context())
	wantUnknownToken(t, err, true)

	fresh := mustRefresh(t, cli, resp.RefreshToken)
	cli.AccessToken = fresh.AccessToken
	whoami(t, cli, dev)

	// The new token's lifetime counts from the refresh.
	hs.Clock().Advance(5*time.Minute - time.Millisecond)
	whoami(t, cli, dev)
	hs.Clock().Advance(time.Millisecond)
	_, err = cli.Whoami(t.Context())
	wantUnknownToken(t, err, true)

	// ExpireAccessToken makes a fresh token expire at once; refresh recovers.
	fresh = mustRefresh(t, cli, fresh.RefreshToken)
	cli.AccessToken = fresh.AccessToken
	whoami(t, cli, dev)
	if err := hs.ExpireAccessToken(alice, string(dev)); err != nil {
		t.Fatalf("ExpireAccessToken: %v", err)
	}
	_, err = cli.Whoami(t.Context())
	wantUnknownToken(t, err, true)
	fresh = mustRefresh(t, cli, fresh.RefreshToken)
	cli.AccessToken = fresh.AccessToken
	whoami(t, cli, dev)

	// The refresh token itself lives 24h: then only a new login helps. The
	// access token's failure says soft_logout true, the refresh token's
	// false; logging in again on the same device recovers it.
	hs.Clock().Advance(24 * time.Hour)
	_, err = cli.Whoami(t.Context())
	wantUnknownToken(t, err, true)
	_, err = refresh(t, cli, fresh.RefreshToken)
	wantUnknownToken(t, err, false)
	if _, err := cli.Login(t.Context(), passwordLogin(dev, true)); err != nil {
		t.Fatalf("Login after the refresh token expired: %v", err)
	}
	whoami(t, cli, dev)

	// A token from a login without refresh_token never expires (by default).
	plain, p := login(t, hs, "", false)
	hs.Clock().Advance(365 * 24 * time.Hour)
	whoami(t, plain, p.DeviceID)
}

// TestSoftLogoutRecovery: after a soft logout the access and refresh tokens
// say soft_logout true; logging in again with the same device_id restores
// the same device, once.
func TestSoftLogoutRecovery(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli := newClient(t, hs, "")
	req := passwordLogin("", true)
	req.InitialDeviceDisplayName = "kept name"
	resp, err := cli.Login(ctx, req)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	dev := resp.DeviceID
	_, other := login(t, hs, "", false) // a second device, to see the list is not just this one

	if err := hs.SoftLogout(alice, string(dev)); err != nil {
		t.Fatalf("SoftLogout: %v", err)
	}
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, true)
	_, err = refresh(t, cli, resp.RefreshToken)
	wantUnknownToken(t, err, true)

	relogin := passwordLogin(dev, true)
	relogin.InitialDeviceDisplayName = "ignored for a known device"
	again, err := cli.Login(ctx, relogin)
	if err != nil {
		t.Fatalf("Login again on %s: %v", dev, err)
	}
	if again.DeviceID != dev {
		t.Fatalf("Login with device_id %s answered device %s", dev, again.DeviceID)
	}
	if again.AccessToken == resp.AccessToken || again.RefreshToken == resp.RefreshToken {
		t.Errorf("Login again reissued the old tokens")
	}
	if cli.AccessToken != again.AccessToken {
		t.Errorf("StoreCredentials did not store the new access token")
	}
	whoami(t, cli, dev)

	ids := deviceIDs(t, cli)
	slices.Sort(ids)
	want := []id.DeviceID{dev, other.DeviceID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("GetDevicesInfo = %v, want %v (the device once)", ids, want)
	}
	info, err := cli.GetDeviceInfo(ctx, dev)
	if err != nil || info.DisplayName != "kept name" {
		t.Errorf("GetDeviceInfo(%s) = %+v, %v; want display name %q kept", dev, info, err, "kept name")
	}

	// The tokens from before the soft logout stay dead: the new login ended
	// them (they are no longer known, so not soft).
	old := newClient(t, hs, resp.AccessToken)
	_, err = old.Whoami(ctx)
	wantUnknownToken(t, err, false)
	_, err = refresh(t, old, resp.RefreshToken)
	wantUnknownToken(t, err, false)

	// The new refresh token works.
	fresh := mustRefresh(t, cli, again.RefreshToken)
	cli.AccessToken = fresh.AccessToken
	whoami(t, cli, dev)
}

// TestUIADeleteDevice: deleting a device needs m.login.password UIA. The
// library sees the challenge (flows, session), a wrong password as 401
// M_FORBIDDEN inside the UIA body, and success; the deleted device's token
// is then M_UNKNOWN_TOKEN with soft_logout false. DeleteDevices runs the same
// flow with the library's own ReqUIAuthLogin.
func TestUIADeleteDevice(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, main := login(t, hs, "", true)
	victim, second := login(t, hs, "", true)
	if main.DeviceID == second.DeviceID {
		t.Fatalf("two logins got the same device %s", main.DeviceID)
	}
	url := cli.BuildClientURL("v3", "devices", second.DeviceID)

	// The library's DeleteDevice without auth: a bare 401. The challenge has
	// no errcode, so mautrix parses no RespError, and it keeps no body.
	err := cli.DeleteDevice(ctx, second.DeviceID, &mautrix.ReqDeleteDevice{})
	var he mautrix.HTTPError
	if !errors.As(err, &he) || !he.IsStatus(http.StatusUnauthorized) || he.RespError != nil {
		t.Fatalf("DeleteDevice without auth = %v; want a bare HTTP 401 (UIA challenge)", err)
	}

	uia := uiaChallenge(t, cli, http.MethodDelete, url, &mautrix.ReqDeleteDevice{})
	if len(uia.Flows) != 1 || !uia.HasSingleStageFlow(mautrix.AuthTypePassword) {
		t.Errorf("flows = %+v, want the single flow [m.login.password]", uia.Flows)
	}
	if uia.Session == "" || len(uia.Completed) != 0 || uia.ErrCode != "" {
		t.Errorf("challenge = %+v, want a session, nothing completed and no errcode", uia)
	}

	// Through the library's DeleteDevice from here on. A wrong password:
	// 401, and the UIA body carries errcode M_FORBIDDEN and the same session.
	err = cli.DeleteDevice(ctx, second.DeviceID, &mautrix.ReqDeleteDevice{Auth: passwordStage(uia.Session, "looking-glass")})
	re := wantError(t, err, mautrix.MForbidden, http.StatusUnauthorized)
	if s, _ := re.ExtraData["session"].(string); s != uia.Session {
		t.Errorf("session after a wrong password = %q, want %q", s, uia.Session)
	}
	if _, ok := re.ExtraData["flows"].([]any); !ok {
		t.Errorf("the M_FORBIDDEN answer has no UIA flows: %v", re.ExtraData)
	}
	whoami(t, victim, second.DeviceID) // not deleted yet

	if err := cli.DeleteDevice(ctx, second.DeviceID, &mautrix.ReqDeleteDevice{Auth: passwordStage(uia.Session, alicePassword)}); err != nil {
		t.Fatalf("DeleteDevice with the password: %v", err)
	}
	_, err = victim.Whoami(ctx)
	wantUnknownToken(t, err, false)
	_, err = refresh(t, victim, second.RefreshToken)
	wantUnknownToken(t, err, false)
	if ids := deviceIDs(t, cli); !slices.Equal(ids, []id.DeviceID{main.DeviceID}) {
		t.Errorf("GetDevicesInfo after the deletion = %v, want [%s]", ids, main.DeviceID)
	}
	if ids := mockDeviceIDs(hs); !slices.Equal(ids, []id.DeviceID{main.DeviceID}) {
		t.Errorf("mock devices after the deletion = %v, want [%s]", ids, main.DeviceID)
	}
	// The completed session is over: it does not authorise another deletion.
	err = cli.DeleteDevice(ctx, main.DeviceID, &mautrix.ReqDeleteDevice{Auth: passwordStage(uia.Session, alicePassword)})
	if err == nil {
		t.Errorf("DeleteDevice with a completed UIA session succeeded")
	}
	whoami(t, cli, main.DeviceID)

	// Bulk deletion with the library's ReqUIAuthLogin (legacy "user" field).
	c3, r3 := login(t, hs, "", false)
	c4, r4 := login(t, hs, "", false)
	bulk := &mautrix.ReqDeleteDevices{Devices: []id.DeviceID{r3.DeviceID, r4.DeviceID}}
	uia = uiaChallenge(t, cli, http.MethodPost, cli.BuildClientURL("v3", "delete_devices"), bulk)
	if !uia.HasSingleStageFlow(mautrix.AuthTypePassword) || uia.Session == "" {
		t.Fatalf("delete_devices challenge = %+v", uia)
	}
	bulk.Auth = mautrix.ReqUIAuthLogin{
		BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: uia.Session},
		User:         alice,
		Password:     alicePassword,
	}
	if err := cli.DeleteDevices(ctx, bulk); err != nil {
		t.Fatalf("DeleteDevices: %v", err)
	}
	for _, c := range []*mautrix.Client{c3, c4} {
		_, err := c.Whoami(ctx)
		wantUnknownToken(t, err, false)
	}
	if ids := deviceIDs(t, cli); !slices.Equal(ids, []id.DeviceID{main.DeviceID}) {
		t.Errorf("GetDevicesInfo after DeleteDevices = %v, want [%s]", ids, main.DeviceID)
	}
}

// TestLogout: Logout ends the token and its device (401 M_UNKNOWN_TOKEN,
// soft_logout false, refresh token too); LogoutAll ends every device.
func TestLogout(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, resp := login(t, hs, "", true)
	keep, kept := login(t, hs, "", false)

	out, err := cli.Logout(ctx)
	if err != nil || out == nil {
		t.Fatalf("Logout = %v, %v", out, err)
	}
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, false)
	_, err = refresh(t, cli, resp.RefreshToken)
	wantUnknownToken(t, err, false)
	_, err = cli.Logout(ctx) // twice: the token is gone
	wantUnknownToken(t, err, false)
	if ids := deviceIDs(t, keep); !slices.Equal(ids, []id.DeviceID{kept.DeviceID}) {
		t.Errorf("devices after Logout = %v, want [%s]", ids, kept.DeviceID)
	}

	// logout/all from one of three devices ends all of them.
	a, _ := login(t, hs, "", true)
	b, _ := login(t, hs, "", false)
	if n := len(hs.Devices(alice)); n != 3 {
		t.Fatalf("%d devices before LogoutAll, want 3", n)
	}
	if out, err := a.LogoutAll(ctx); err != nil || out == nil {
		t.Fatalf("LogoutAll = %v, %v", out, err)
	}
	for _, c := range []*mautrix.Client{a, b, keep} {
		_, err := c.Whoami(ctx)
		wantUnknownToken(t, err, false)
	}
	if d := hs.Devices(alice); len(d) != 0 {
		t.Errorf("devices after LogoutAll = %+v, want none", d)
	}
	if n := count(hs, journal.Filter{Operation: "logout", Status: http.StatusOK}); n != 1 {
		t.Errorf("journal: %d successful logouts, want 1", n)
	}
	if n := count(hs, journal.Filter{Operation: "logout_all", Status: http.StatusOK}); n != 1 {
		t.Errorf("journal: %d successful logout/all, want 1", n)
	}
}

// TestHardLogout: after hs.HardLogout the access and refresh tokens are
// M_UNKNOWN_TOKEN with soft_logout false; logging in again works.
func TestHardLogout(t *testing.T) {
	hs := startHS(t)
	cli, resp := login(t, hs, "", true)
	dev := resp.DeviceID
	whoami(t, cli, dev)

	if err := hs.HardLogout(alice, string(dev)); err != nil {
		t.Fatalf("HardLogout: %v", err)
	}
	_, err := cli.Whoami(t.Context())
	wantUnknownToken(t, err, false)
	_, err = refresh(t, cli, resp.RefreshToken)
	wantUnknownToken(t, err, false)
	if d := hs.Devices(alice); len(d) != 0 {
		t.Errorf("devices after HardLogout = %+v, want none", d)
	}

	// A hard logout is recovered from only by a full login.
	if _, err := cli.Login(t.Context(), passwordLogin(dev, true)); err != nil {
		t.Fatalf("Login after HardLogout: %v", err)
	}
	whoami(t, cli, dev)
}

// TestVersions: Versions parses the mock's /versions: v1.1 to v1.18 and the
// refresh token feature.
func TestVersions(t *testing.T) {
	hs := startHS(t)
	cli := newClient(t, hs, "")
	v, err := cli.Versions(t.Context())
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	v118 := mautrix.MustParseSpecVersion("v1.18")
	if !v.Contains(v118) || !v.Contains(mautrix.SpecV11) || !v.Contains(mautrix.SpecV13) {
		t.Errorf("versions %v lack v1.1, v1.3 or v1.18", v.Versions)
	}
	if got := v.GetLatest(); got != v118 {
		t.Errorf("latest version = %s, want v1.18", got)
	}
	if len(v.Versions) != 18 {
		t.Errorf("%d versions, want 18 (v1.1 to v1.18)", len(v.Versions))
	}
	if !v.Supports(mautrix.UnstableFeature{UnstableFlag: refreshFeature}) || !v.UnstableFeatures[refreshFeature] {
		t.Errorf("unstable_features = %v, want %s", v.UnstableFeatures, refreshFeature)
	}
	if cli.SpecVersions != v {
		t.Errorf("Versions did not store the answer in Client.SpecVersions")
	}
	var names []string
	for _, s := range v.Versions {
		names = append(names, s.String())
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "v1.1,v1.2,") || !strings.HasSuffix(got, ",v1.17,v1.18") {
		t.Errorf("versions = %s", got)
	}
}
