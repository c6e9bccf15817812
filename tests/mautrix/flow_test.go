package mautrix_test

import (
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
)

// TestFullLegacyFlow is the whole legacy session life of one client, in
// order, on one server: register, log in with a refresh token, whoami,
// devices, rename, refresh, refresh-token reuse, expiry, soft-logout
// recovery on the same device, UIA device deletion, logout, and 401 after.
func TestFullLegacyFlow(t *testing.T) {
	hs := mock.Start(t, mock.WithVirtualClock(epoch))
	ctx := t.Context()

	// Register carol with the dummy stage.
	reg := newClient(t, hs, "")
	if _, err := reg.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "carol", Password: "pw", InhibitLogin: true}); err != nil {
		t.Fatalf("RegisterDummy: %v", err)
	}
	carol := id.UserID("@carol:localhost")

	// Log in with a refresh token on PHONE.
	cli := newClient(t, hs, "")
	loginReq := &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"},
		Password:         "pw",
		DeviceID:         "PHONE",
		RefreshToken:     true,
		StoreCredentials: true,
	}
	login, err := cli.Login(ctx, loginReq)
	if err != nil || login.RefreshToken == "" || login.ExpiresInMS != accessLifetimeMS {
		t.Fatalf("Login: %+v, %v", login, err)
	}
	if who, err := cli.Whoami(ctx); err != nil || who.UserID != carol || who.DeviceID != "PHONE" {
		t.Fatalf("Whoami: %+v, %v", who, err)
	}

	// Devices, and a rename.
	if err := cli.SetDeviceInfo(ctx, "PHONE", &mautrix.ReqDeviceInfo{DisplayName: "Carol's phone"}); err != nil {
		t.Fatalf("SetDeviceInfo: %v", err)
	}
	devices, err := cli.GetDevicesInfo(ctx)
	if err != nil || len(devices.Devices) != 1 || devices.Devices[0].DisplayName != "Carol's phone" {
		t.Fatalf("GetDevicesInfo: %+v, %v", devices, err)
	}

	// Refresh, use the new pair, then reuse the old refresh token.
	oldRefresh := login.RefreshToken
	r := mustRefresh(t, cli, oldRefresh)
	cli.AccessToken = r.AccessToken
	if _, err := cli.Whoami(ctx); err != nil {
		t.Fatalf("Whoami after refresh: %v", err)
	}
	_, err = refresh(t, cli, oldRefresh)
	wantUnknownToken(t, err, false)

	// The access token expires on the virtual clock; a refresh recovers.
	hs.Clock().Advance(5 * time.Minute)
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, true)
	r = mustRefresh(t, cli, r.RefreshToken)
	cli.AccessToken = r.AccessToken
	if _, err := cli.Whoami(ctx); err != nil {
		t.Fatalf("Whoami after recovering from expiry: %v", err)
	}

	// Soft logout: log in again with the same device ID; the device stays.
	if err := hs.SoftLogout("carol", "PHONE"); err != nil {
		t.Fatal(err)
	}
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, true)
	if again, err := cli.Login(ctx, loginReq); err != nil || again.DeviceID != "PHONE" {
		t.Fatalf("Login on the same device: %+v, %v", again, err)
	}
	devices, err = cli.GetDevicesInfo(ctx)
	if err != nil || len(devices.Devices) != 1 || devices.Devices[0].DeviceID != "PHONE" || devices.Devices[0].DisplayName != "Carol's phone" {
		t.Fatalf("devices after soft-logout recovery: %+v, %v", devices, err)
	}

	// A second device, deleted through UIA with the password.
	tablet := newClient(t, hs, "")
	loginReq.DeviceID, loginReq.RefreshToken = "TABLET", false
	if _, err := tablet.Login(ctx, loginReq); err != nil {
		t.Fatal(err)
	}
	url := cli.BuildClientURL("v3", "devices", "TABLET")
	uia := uiaChallenge(t, cli, http.MethodDelete, url, struct{}{})
	stage := passwordStage(uia.Session, "pw")
	stage.Identifier.User = "carol"
	if err := cli.DeleteDevice(ctx, "TABLET", &mautrix.ReqDeleteDevice{Auth: stage}); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	_, err = tablet.Whoami(ctx)
	wantUnknownToken(t, err, false)

	// Log out: the token is refused for good.
	if _, err := cli.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, false)
}
