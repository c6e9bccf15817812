package state

import (
	"errors"
	"testing"
)

// TestVerifyPassword: a password login matches the user ID ignoring case and
// gives the stored ID, as homeservers do; ambiguity matches nobody.
func TestVerifyPassword(t *testing.T) {
	s, _ := newStore(t, Config{ServerName: "Example.org"})
	if _, err := s.AddUser("user-n", "pw"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, password, want string
		err                  error
	}{
		{"alice", "wonderland", "@alice:Example.org", nil},
		{"ALICE", "wonderland", "@alice:Example.org", nil},
		{"@USER-N:Example.org", "pw", "@user-n:Example.org", nil},
		{"@User-N:example.ORG", "pw", "@user-n:Example.org", nil},
		{"USER-N", "PW", "", ErrForbidden},
		{"bob", "pw", "", ErrForbidden},
		{"@user-n:elsewhere.org", "pw", "", ErrForbidden},
	}
	for _, tt := range tests {
		got, err := s.VerifyPassword(tt.user, tt.password)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("VerifyPassword(%q, %q) = %q, %v; want %q, %v", tt.user, tt.password, got, err, tt.want, tt.err)
		}
	}
	// CheckPassword takes the stored ID only.
	if err := s.CheckPassword("ALICE", "wonderland"); !errors.Is(err, ErrForbidden) {
		t.Errorf("CheckPassword(ALICE) = %v, want ErrForbidden", err)
	}

	// Two stored IDs that differ in case only (possible through Restore):
	// the exact one matches, a third spelling matches neither.
	r, _ := newStore(t, Config{})
	err := r.Restore(Snapshot{ServerName: "localhost", Users: []SnapshotUser{
		{ID: "@Bob:localhost", Password: "one"}, {ID: "@BOB:localhost", Password: "two"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.VerifyPassword("@BOB:localhost", "two"); got != "@BOB:localhost" || err != nil {
		t.Errorf("exact match among two: %q, %v", got, err)
	}
	if _, err := r.VerifyPassword("@bob:localhost", "one"); !errors.Is(err, ErrForbidden) {
		t.Errorf("ambiguous match: %v, want ErrForbidden", err)
	}
}

// TestChangePassword: the new password replaces the old one; with
// logoutDevices every other device ends (hard: soft_logout false) and the
// kept one stays.
func TestChangePassword(t *testing.T) {
	tests := []struct {
		name          string
		keep          string
		logoutDevices bool
		alive         map[string]bool // device → still works
	}{
		{"logout others", "PHONE", true, map[string]bool{"PHONE": true, "LAPTOP": false, "OAUTH": false}},
		{"changed elsewhere", "", true, map[string]bool{"PHONE": false, "LAPTOP": false, "OAUTH": false}},
		{"keep devices", "PHONE", false, map[string]bool{"PHONE": true, "LAPTOP": true, "OAUTH": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, Config{})
			if _, err := s.AddUser("bob", "builder"); err != nil {
				t.Fatal(err)
			}
			sessions := map[string]Session{
				"PHONE":  login(t, s, LoginRequest{DeviceID: "PHONE", WithRefresh: true}),
				"LAPTOP": login(t, s, LoginRequest{DeviceID: "LAPTOP", WithRefresh: true}),
				"OAUTH":  login(t, s, LoginRequest{DeviceID: "OAUTH", WithRefresh: true, ViaOAuth: true}),
			}
			bob := login(t, s, LoginRequest{UserID: "bob"})
			if err := s.SoftLogout("alice", "LAPTOP"); err != nil {
				t.Fatal(err)
			}
			if err := s.ChangePassword("@alice:localhost", "new-secret", tt.keep, tt.logoutDevices); err != nil {
				t.Fatal(err)
			}
			for dev, alive := range tt.alive {
				sess := sessions[dev]
				switch {
				case !alive:
					wantAuth(t, s, sess.AccessToken, false, CauseUnknown, false)
					wantRefreshFails(t, s, sess.RefreshToken, CauseUnknown, false)
					if _, err := s.Device("alice", dev); !errors.Is(err, ErrNotFound) {
						t.Errorf("device %s after the change: %v", dev, err)
					}
				case dev == "LAPTOP":
					wantAuth(t, s, sess.AccessToken, false, CauseSoftLogout, true)
				default:
					wantAuth(t, s, sess.AccessToken, true, 0, false)
				}
			}
			wantAuth(t, s, bob.AccessToken, true, 0, false)
			if err := s.CheckPassword("alice", "wonderland"); !errors.Is(err, ErrForbidden) {
				t.Errorf("old password: %v", err)
			}
			if err := s.CheckPassword("alice", "new-secret"); err != nil {
				t.Errorf("new password: %v", err)
			}
		})
	}
	s, _ := newStore(t, Config{})
	if err := s.ChangePassword("nobody", "pw", "", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if err := s.ChangePassword("alice", "", "", false); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckPassword("alice", ""); !errors.Is(err, ErrForbidden) {
		t.Errorf("an empty password matched: %v", err)
	}
}

// TestDeactivate: every session ends for good, no new one starts, the ID
// stays taken, and the state survives a snapshot.
func TestDeactivate(t *testing.T) {
	s, clk := newStore(t, Config{})
	phone := login(t, s, LoginRequest{DeviceID: "PHONE", WithRefresh: true})
	web := login(t, s, LoginRequest{DeviceID: "WEB", ViaOAuth: true, WithRefresh: true})
	loginToken, _ := s.NewLoginToken("alice")
	if err := s.Deactivate("alice"); err != nil {
		t.Fatal(err)
	}
	for _, sess := range []Session{phone, web} {
		wantAuth(t, s, sess.AccessToken, false, CauseUnknown, false)
		wantRefreshFails(t, s, sess.RefreshToken, CauseUnknown, false)
	}
	if got := s.Devices("alice"); len(got) != 0 {
		t.Errorf("devices after deactivation: %v", got)
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		for _, pw := range []string{"wonderland", "wrong", ""} {
			if _, err := s.VerifyPassword("alice", pw); !errors.Is(err, ErrUserDeactivated) {
				t.Errorf("VerifyPassword(%q) = %v, want ErrUserDeactivated", pw, err)
			}
		}
		if _, err := s.Login(LoginRequest{UserID: "alice"}); !errors.Is(err, ErrUserDeactivated) {
			t.Errorf("Login = %v, want ErrUserDeactivated", err)
		}
		if _, err := s.AddSession("alice", "FIXED", "", "", 0); !errors.Is(err, ErrUserDeactivated) {
			t.Errorf("AddSession = %v, want ErrUserDeactivated", err)
		}
		if err := s.ChangePassword("alice", "again", "", true); !errors.Is(err, ErrUserDeactivated) {
			t.Errorf("ChangePassword = %v, want ErrUserDeactivated", err)
		}
		if _, err := s.Register("alice", "pw", false); !errors.Is(err, ErrUserInUse) {
			t.Errorf("Register = %v, want ErrUserInUse", err)
		}
		if err := s.UsernameAvailable("ALICE"); !errors.Is(err, ErrUserInUse) {
			t.Errorf("UsernameAvailable = %v, want ErrUserInUse", err)
		}
	}
	check(t, s)
	// A login token issued before still names the user, whose login fails.
	if user, err := s.RedeemLoginToken(loginToken); err != nil {
		t.Fatal(err)
	} else if _, err := s.Login(LoginRequest{UserID: user}); !errors.Is(err, ErrUserDeactivated) {
		t.Errorf("login with an earlier login token: %v", err)
	}
	if err := s.Deactivate("alice"); err != nil {
		t.Errorf("deactivating twice: %v", err)
	}
	if err := s.Deactivate("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}

	check(t, roundTrip(t, s, clk))
}

// TestUIABoundToRequest: a session goes on only with the request it was
// started for. Before the binding, a session started for DELETE
// /devices/A completed POST /delete_devices for [B].
func TestUIABoundToRequest(t *testing.T) {
	s, clk := newStore(t, Config{})
	const alice = "@alice:localhost"
	deleteA := UIARequest{Method: "DELETE", Path: "/_matrix/client/v3/devices/A"}
	bulkA := UIARequest{Method: "POST", Path: "/_matrix/client/v3/delete_devices", Fingerprint: `["A"]`}
	bulkB := bulkA
	bulkB.Fingerprint = `["B"]`
	id := s.StartUIA("delete_devices", alice, deleteA)
	bulk := s.StartUIA("delete_devices", alice, bulkA)
	tests := []struct {
		name, session, purpose, user string
		req                          UIARequest
		err                          error
	}{
		{"same request", id, "delete_devices", alice, deleteA, nil},
		{"another path", id, "delete_devices", alice, bulkB, ErrUIARequestChanged},
		{"another method", id, "delete_devices", alice, UIARequest{Method: "POST", Path: deleteA.Path}, ErrUIARequestChanged},
		{"other devices", bulk, "delete_devices", alice, bulkB, ErrUIARequestChanged},
		{"same devices", bulk, "delete_devices", alice, bulkA, nil},
		{"another purpose", id, "change_password", alice, deleteA, ErrUnknownUIASession},
		{"another user", id, "delete_devices", "@bob:localhost", deleteA, ErrUnknownUIASession},
		{"unknown session", "nope", "delete_devices", alice, deleteA, ErrUnknownUIASession},
	}
	for _, tt := range tests {
		if err := s.ResumeUIA(tt.session, tt.purpose, tt.user, tt.req); !errors.Is(err, tt.err) {
			t.Errorf("%s: ResumeUIA = %v, want %v", tt.name, err, tt.err)
		}
	}
	// A refused request leaves the session as it was.
	if err := s.CompleteStage(id, "m.login.password"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.UIASession(id); err != nil || u.Request != deleteA {
		t.Fatalf("session after refusals: %+v, %v", u, err)
	}
	clk.Advance(UIASessionLifetime)
	if err := s.ResumeUIA(id, "delete_devices", alice, deleteA); !errors.Is(err, ErrUnknownUIASession) {
		t.Errorf("expired session: %v", err)
	}
}
