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
