package mock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// TestScenarioAccountEffects: a password change made on the phone (a
// request rule naming the device) ends the laptop and keeps the phone;
// a time rule deactivates the account later.
func TestScenarioAccountEffects(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
users:
  - id: alice
    password: wonderland
    devices:
      - {id: PHONE, access_token: alice-phone}
      - {id: LAPTOP, access_token: alice-laptop, refresh_token: alice-laptop-r}
rules:
  - name: password-changed-on-phone
    when: {request: {operation: getTokenOwner, device: PHONE}, nth: 2}
    then: {change_password: {device: PHONE, password: looking-glass}}
  - name: deactivated
    when: {at: 10m}
    then: {deactivate: {user: alice}}
`)))
	call(t, hs, "GET", whoami, "alice-laptop", nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200) // the change happens here
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-laptop", nil), false)
	wantUnknownToken(t, refresh(t, hs, "alice-laptop-r"), false)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "wonderland", nil)).wantError(t, 403, "M_FORBIDDEN")
	login(t, hs, "alice", "looking-glass", nil)

	hs.Clock().Advance(10 * time.Minute)
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-phone", nil), false)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "looking-glass", nil)).wantError(t, 403, "M_USER_DEACTIVATED")
	if d := hs.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices after deactivation: %+v", d)
	}
}

// TestGoAccountAPI: ChangePassword and Deactivate act as the effects do,
// with the Go API's errors.
func TestGoAccountAPI(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
	laptop := login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOP"}).str(t, "access_token")

	if err := hs.ChangePassword("alice", "new", "", false); err != nil {
		t.Fatal(err)
	}
	call(t, hs, "GET", whoami, phone, nil).wantStatus(t, 200) // logout_devices false keeps every device
	phone = login(t, hs, "alice", "new", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
	if err := hs.ChangePassword("@alice:localhost", "newer", "PHONE", true); err != nil {
		t.Fatal(err)
	}
	call(t, hs, "GET", whoami, phone, nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, laptop, nil), false)

	bob := login(t, hs, "bob", "pw", nil).str(t, "access_token")
	if err := hs.Deactivate("bob"); err != nil {
		t.Fatal(err)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, bob, nil), false)
	if err := hs.ChangePassword("bob", "x", "", true); !errors.Is(err, mock.ErrUserDeactivated) {
		t.Errorf("ChangePassword on a deactivated user: %v", err)
	}
	if _, err := hs.Login("bob", "", false); !errors.Is(err, mock.ErrUserDeactivated) {
		t.Errorf("Login of a deactivated user: %v", err)
	}
	if _, err := hs.AddUser("bob", "pw"); !errors.Is(err, mock.ErrUserInUse) {
		t.Errorf("AddUser of a deactivated user's ID: %v", err)
	}
	for name, err := range map[string]error{
		"ChangePassword": hs.ChangePassword("nobody", "x", "", true),
		"Deactivate":     hs.Deactivate("nobody"),
	} {
		if !errors.Is(err, mock.ErrNotFound) {
			t.Errorf("%s(nobody) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestControlAccount(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"))
	phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
	laptop := login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOP"}).str(t, "access_token")

	control(t, hs, "POST", "/_mock/users/alice/password", map[string]any{}).wantError(t, 400, "M_MISSING_PARAM")
	control(t, hs, "POST", "/_mock/users/alice/password", map[string]any{"password": "x", "extra": 1}).wantError(t, 400, "M_BAD_JSON")
	control(t, hs, "POST", "/_mock/users/nobody/password", map[string]any{"password": "x"}).wantError(t, 404, "M_NOT_FOUND")
	control(t, hs, "POST", "/_mock/users/alice/password", map[string]any{"password": "new", "logout_devices": false}).wantStatus(t, 200)
	call(t, hs, "GET", whoami, laptop, nil).wantStatus(t, 200)
	control(t, hs, "POST", "/_mock/users/alice/password", map[string]any{"password": "newer", "device": "PHONE"}).wantStatus(t, 200)
	call(t, hs, "GET", whoami, phone, nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, laptop, nil), false)
	login(t, hs, "alice", "newer", nil)

	control(t, hs, "POST", "/_mock/users/nobody/deactivate", nil).wantError(t, 404, "M_NOT_FOUND")
	control(t, hs, "POST", "/_mock/users/alice/deactivate", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, phone, nil), false)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "newer", nil)).wantError(t, 403, "M_USER_DEACTIVATED")
	control(t, hs, "POST", "/_mock/users/alice/password", map[string]any{"password": "again"}).wantError(t, 403, "M_USER_DEACTIVATED")
}

// TestScenarioCrossSigningReset: a reset_cross_signing rule drops the
// keys, so that the next upload of other keys needs no UIA.
func TestScenarioCrossSigningReset(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
users:
  - id: alice
    password: pw
    devices: [{id: PHONE, access_token: alice-phone}]
rules:
  - name: reset-elsewhere
    when: {request: {operation: getTokenOwner}, nth: 2}
    then: {reset_cross_signing: {}}
`)))
	const path = "/_matrix/client/v3/keys/device_signing/upload"
	call(t, hs, "POST", path, "alice-phone", map[string]any{"master_key": crossSigningKey("master", "one")}).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	wantChallenge(t, call(t, hs, "POST", path, "alice-phone", map[string]any{"master_key": crossSigningKey("master", "two")}))
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200) // the keys are reset here
	call(t, hs, "POST", path, "alice-phone", map[string]any{"master_key": crossSigningKey("master", "two")}).wantStatus(t, 200)
}
