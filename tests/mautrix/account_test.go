package mautrix_test

import (
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
)

// TestUIASessionBoundToRequest: a UIA session started for one device's
// deletion does not complete the deletion of another device through the
// library's DeleteDevices; the same session still deletes its own device.
func TestUIASessionBoundToRequest(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, _ := login(t, hs, "", false)
	_, second := login(t, hs, "", false)
	third, thirdResp := login(t, hs, "", false)

	uia := uiaChallenge(t, cli, http.MethodDelete, cli.BuildClientURL("v3", "devices", second.DeviceID), &mautrix.ReqDeleteDevice{})
	err := cli.DeleteDevices(ctx, &mautrix.ReqDeleteDevices{
		Devices: []id.DeviceID{thirdResp.DeviceID},
		Auth:    passwordStage(uia.Session, alicePassword),
	})
	re := wantError(t, err, mautrix.MForbidden, http.StatusForbidden)
	if re.Err != "Requested operation has changed during the UI authentication session" {
		t.Errorf("message %q", re.Err)
	}
	whoami(t, third, thirdResp.DeviceID)
	if err := cli.DeleteDevice(ctx, second.DeviceID, &mautrix.ReqDeleteDevice{Auth: passwordStage(uia.Session, alicePassword)}); err != nil {
		t.Fatalf("DeleteDevice with its own session: %v", err)
	}
}

// TestRegisterAndLoginLikeAHomeserver: the library discovers the
// registration flows with an empty body, a capitalised localpart is
// registered lowercased, and logins match the user ID ignoring case.
func TestRegisterAndLoginLikeAHomeserver(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli := newClient(t, hs, "")
	_, uia, err := cli.Register(ctx, &mautrix.ReqRegister{})
	if uia == nil || !uia.HasSingleStageFlow(mautrix.AuthTypeDummy) || uia.Session == "" {
		t.Fatalf("Register({}) = %+v, %v; want the flows", uia, err)
	}
	resp, err := cli.RegisterDummy(ctx, &mautrix.ReqRegister{Username: "User-N", Password: "pw"})
	if err != nil || resp.UserID != "@user-n:localhost" {
		t.Fatalf("RegisterDummy(User-N) = %+v, %v; want @user-n:localhost", resp, err)
	}
	for _, name := range []string{"USER-N", "@User-N:localhost"} {
		other := newClient(t, hs, "")
		got, err := other.Login(ctx, &mautrix.ReqLogin{
			Type:             mautrix.AuthTypePassword,
			Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: name},
			Password:         "pw",
			StoreCredentials: true,
		})
		if err != nil || got.UserID != "@user-n:localhost" {
			t.Fatalf("Login as %s = %+v, %v", name, got, err)
		}
		who, err := other.Whoami(ctx)
		if err != nil || who.UserID != "@user-n:localhost" {
			t.Fatalf("Whoami after logging in as %s = %+v, %v", name, who, err)
		}
	}
}

// TestCapabilities: the library reads every capability a client checks
// before offering the matching action, and sees password changes off when
// the server turns them off.
func TestCapabilities(t *testing.T) {
	for _, changes := range []bool{true, false} {
		var opts []mock.Option
		if !changes {
			opts = append(opts, mock.WithoutPasswordChanges())
		}
		hs := startHS(t, opts...)
		cli, _ := login(t, hs, "", false)
		caps, err := cli.Capabilities(t.Context())
		if err != nil {
			t.Fatalf("Capabilities: %v", err)
		}
		if caps.RoomVersions == nil || caps.RoomVersions.Default != "10" || !caps.RoomVersions.IsStable("10") || !caps.RoomVersions.IsStable("1") || caps.RoomVersions.IsStable("99") {
			t.Errorf("m.room_versions = %+v", caps.RoomVersions)
		}
		for name, c := range map[string]*mautrix.CapBooleanTrue{
			"m.set_displayname": caps.SetDisplayname, "m.set_avatar_url": caps.SetAvatarURL,
			"m.3pid_changes": caps.ThreePIDChanges, "m.get_login_token": caps.GetLoginToken,
		} {
			if c == nil || !c.Enabled { // IsEnabled would take a missing capability for true
				t.Errorf("%s = %+v, want enabled", name, c)
			}
		}
		if caps.ChangePassword == nil || caps.ChangePassword.Enabled != changes {
			t.Errorf("with password changes %v: m.change_password = %+v", changes, caps.ChangePassword)
		}
	}
}

// xsKeys is a full set of alice's cross-signing keys, each public key
// prefixed with seed.
func xsKeys(seed string) *mautrix.UploadCrossSigningKeysReq {
	key := func(usage id.CrossSigningUsage) mautrix.CrossSigningKeys {
		pub := id.Ed25519(seed + string(usage))
		return mautrix.CrossSigningKeys{UserID: aliceID, Usage: []id.CrossSigningUsage{usage}, Keys: map[id.KeyID]id.Ed25519{id.NewKeyID(id.KeyAlgorithmEd25519, string(pub)): pub}}
	}
	return &mautrix.UploadCrossSigningKeysReq{Master: key(id.XSUsageMaster), SelfSigning: key(id.XSUsageSelfSigning), UserSigning: key(id.XSUsageUserSigning)}
}

// TestCrossSigningReset: the library's UploadCrossSigningKeys uploads the
// first keys without UIA, and replaces them through its UIA callback with
// the password stage; the callback sees the m.login.password flow.
func TestCrossSigningReset(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, _ := login(t, hs, "", false)
	noUIA := func(*mautrix.RespUserInteractive) any {
		t.Error("UIA asked for an upload that needs none")
		return nil
	}
	if err := cli.UploadCrossSigningKeys(ctx, xsKeys("first"), noUIA); err != nil {
		t.Fatalf("first upload: %v", err)
	}
	if err := cli.UploadCrossSigningKeys(ctx, xsKeys("first"), noUIA); err != nil {
		t.Fatalf("the same keys again: %v", err)
	}
	var flows *mautrix.RespUserInteractive
	err := cli.UploadCrossSigningKeys(ctx, xsKeys("second"), func(uia *mautrix.RespUserInteractive) any {
		flows = uia
		return passwordStage(uia.Session, alicePassword)
	})
	if err != nil {
		t.Fatalf("reset with the password: %v", err)
	}
	if flows == nil || !flows.HasSingleStageFlow(mautrix.AuthTypePassword) || flows.Session == "" {
		t.Fatalf("reset challenge = %+v, want the m.login.password flow and a session", flows)
	}
	if err := cli.UploadCrossSigningKeys(ctx, xsKeys("second"), noUIA); err != nil {
		t.Fatalf("the new keys again: %v", err)
	}
	err = cli.UploadCrossSigningKeys(ctx, xsKeys("third"), func(uia *mautrix.RespUserInteractive) any {
		return passwordStage(uia.Session, "wrong")
	})
	wantError(t, err, mautrix.MForbidden, http.StatusUnauthorized)
}

// TestPasswordChangeAndDeactivation: a password change through the
// library's request method, with UIA, logs out the other client (which
// sees M_UNKNOWN_TOKEN, soft_logout false) and keeps this one; then the
// account is deactivated and the library's login sees M_USER_DEACTIVATED.
func TestPasswordChangeAndDeactivation(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, resp := login(t, hs, "", false)
	other, _ := login(t, hs, "", false)
	url := cli.BuildClientURL("v3", "account", "password")
	uia := uiaChallenge(t, cli, http.MethodPost, url, map[string]any{"new_password": "looking-glass"})
	if !uia.HasSingleStageFlow(mautrix.AuthTypePassword) {
		t.Fatalf("password change challenge = %+v", uia)
	}
	body := map[string]any{"new_password": "looking-glass", "auth": passwordStage(uia.Session, alicePassword)}
	if _, err := cli.MakeRequest(ctx, http.MethodPost, url, body, nil); err != nil {
		t.Fatalf("password change: %v", err)
	}
	whoami(t, cli, resp.DeviceID)
	_, err := other.Whoami(ctx)
	wantUnknownToken(t, err, false)
	_, err = newClient(t, hs, "").Login(ctx, passwordLogin("", false))
	wantError(t, err, mautrix.MForbidden, http.StatusForbidden)

	url = cli.BuildClientURL("v3", "account", "deactivate")
	uia = uiaChallenge(t, cli, http.MethodPost, url, struct{}{})
	body = map[string]any{"auth": authPassword{
		BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: uia.Session},
		Identifier:   mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: alice},
		Password:     "looking-glass",
	}}
	if _, err := cli.MakeRequest(ctx, http.MethodPost, url, body, nil); err != nil {
		t.Fatalf("deactivation: %v", err)
	}
	_, err = cli.Whoami(ctx)
	wantUnknownToken(t, err, false)
	req := passwordLogin("", false)
	req.Password = "looking-glass"
	_, err = newClient(t, hs, "").Login(ctx, req)
	wantError(t, err, mautrix.MUserDeactivated, http.StatusForbidden)
}

// TestThreePIDs: an e-mail address goes on the account through the
// library's request method (requestToken, then add with the password
// stage), is listed, and is deleted.
func TestThreePIDs(t *testing.T) {
	hs := startHS(t)
	ctx := t.Context()
	cli, _ := login(t, hs, "", false)
	var token struct {
		SID string `json:"sid"`
	}
	_, err := cli.MakeRequest(ctx, http.MethodPost, cli.BuildClientURL("v3", "account", "3pid", "email", "requestToken"),
		map[string]any{"client_secret": "s3cret", "email": "alice@example.org", "send_attempt": 1}, &token)
	if err != nil || token.SID == "" {
		t.Fatalf("requestToken: %+v, %v", token, err)
	}
	add := cli.BuildClientURL("v3", "account", "3pid", "add")
	body := map[string]any{"client_secret": "s3cret", "sid": token.SID}
	uia := uiaChallenge(t, cli, http.MethodPost, add, body)
	if !uia.HasSingleStageFlow(mautrix.AuthTypePassword) {
		t.Fatalf("add challenge = %+v", uia)
	}
	body["auth"] = passwordStage(uia.Session, alicePassword)
	if _, err := cli.MakeRequest(ctx, http.MethodPost, add, body, nil); err != nil {
		t.Fatalf("add: %v", err)
	}
	var list struct {
		ThreePIDs []struct{ Medium, Address string } `json:"threepids"`
	}
	if _, err := cli.MakeRequest(ctx, http.MethodGet, cli.BuildClientURL("v3", "account", "3pid"), nil, &list); err != nil || len(list.ThreePIDs) != 1 || list.ThreePIDs[0].Address != "alice@example.org" {
		t.Fatalf("3PIDs = %+v, %v", list, err)
	}
	del := map[string]any{"medium": "email", "address": "alice@example.org"}
	if _, err := cli.MakeRequest(ctx, http.MethodPost, cli.BuildClientURL("v3", "account", "3pid", "delete"), del, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
}
