package state

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestLoginLifetimes(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		withRefresh bool
		wantExpiry  time.Duration // 0: never
	}{
		{"refresh, default lifetime", Config{}, true, 5 * time.Minute},
		{"refresh, configured lifetime", Config{AccessTokenLifetime: 3 * time.Second}, true, 3 * time.Second},
		{"refresh, never expires", Config{AccessTokenLifetime: -1}, true, 0},
		{"no refresh never expires", Config{}, false, 0},
		{"no refresh, ExpireNonRefreshable", Config{ExpireNonRefreshable: true}, false, 5 * time.Minute},
		{"no refresh, ExpireNonRefreshable, configured", Config{ExpireNonRefreshable: true, AccessTokenLifetime: time.Minute}, false, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, tt.cfg)
			sess := login(t, s, LoginRequest{WithRefresh: tt.withRefresh})
			if got := sess.RefreshToken != ""; got != tt.withRefresh {
				t.Errorf("refresh token issued = %v, want %v", got, tt.withRefresh)
			}
			if sess.ExpiresIn != tt.wantExpiry {
				t.Errorf("ExpiresIn = %v, want %v", sess.ExpiresIn, tt.wantExpiry)
			}
			if sess.UserID != "@alice:localhost" || sess.IsGuest {
				t.Errorf("session = %+v", sess)
			}
			if tt.wantExpiry == 0 {
				clk.Advance(1000 * time.Hour)
				wantAuth(t, s, sess.AccessToken, true, 0, false)
				return
			}
			clk.Advance(tt.wantExpiry - time.Nanosecond)
			wantAuth(t, s, sess.AccessToken, true, 0, false)
			clk.Advance(time.Nanosecond)
			wantAuth(t, s, sess.AccessToken, false, CauseExpired, true)
		})
	}
}

func TestTokenAndDeviceFormats(t *testing.T) {
	for _, det := range []bool{false, true} {
		s, _ := newStore(t, Config{Deterministic: det})
		sess := login(t, s, LoginRequest{WithRefresh: true})
		lt, _ := s.NewLoginToken("alice")
		for _, c := range []struct{ re, s string }{
			{`^mat_[A-Za-z0-9_-]{43}$`, sess.AccessToken},
			{`^mrt_[A-Za-z0-9_-]{43}$`, sess.RefreshToken},
			{`^mlt_[A-Za-z0-9_-]{43}$`, lt},
			{`^[A-Za-z0-9_-]{43}$`, s.NewUIASession("register", "")},
			{`^[A-Z]{10}$`, sess.DeviceID},
		} {
			if !regexp.MustCompile(c.re).MatchString(c.s) {
				t.Errorf("deterministic=%v: %q does not match %s", det, c.s, c.re)
			}
		}
	}
}

// step is one request of a scripted exchange. Tokens are named as in the
// Synapse transcripts (AT1, RT1, ...); a successful login or refresh names
// the new pair by newAT and newRT.
type step struct {
	op         string // "login", "auth", "refresh", "logout", "advance"
	tok        string
	newAT      string
	newRT      string
	fail       bool
	cause      Cause
	soft       bool
	advanceBy  time.Duration
	wantDevice bool // for "devices": whether the device still exists
}

func run(t *testing.T, s *Store, advance func(time.Duration), steps []step) {
	t.Helper()
	toks := map[string]string{}
	device := ""
	for i, st := range steps {
		var sess Session
		var err error
		switch st.op {
		case "login":
			sess, err = s.Login(LoginRequest{UserID: "alice", WithRefresh: true})
			device = sess.DeviceID
		case "auth":
			_, err = s.Authenticate(toks[st.tok], "127.0.0.1")
		case "refresh":
			sess, err = s.Refresh(toks[st.tok])
		case "logout":
			_, err = s.Logout(toks[st.tok])
		case "advance":
			advance(st.advanceBy)
			continue
		case "devices":
			if _, err := s.Device("alice", device); (err == nil) != st.wantDevice {
				t.Fatalf("step %d: device exists = %v, want %v", i, err == nil, st.wantDevice)
			}
			continue
		}
		desc := fmt.Sprintf("step %d: %s %s", i, st.op, st.tok)
		if st.fail {
			if err == nil {
				t.Fatalf("%s succeeded, want cause %d", desc, st.cause)
			}
			if c, soft := tokenCause(t, err); c != st.cause || soft != st.soft {
				t.Fatalf("%s: cause %d soft_logout %v, want %d %v", desc, c, soft, st.cause, st.soft)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if st.newAT != "" {
			toks[st.newAT], toks[st.newRT] = sess.AccessToken, sess.RefreshToken
		}
	}
}

func ok(op, tok string) step { return step{op: op, tok: tok} }
func issue(op, tok, at, rt string) step {
	return step{op: op, tok: tok, newAT: at, newRT: rt}
}
func fails(op, tok string, cause Cause, soft bool) step {
	return step{op: op, tok: tok, fail: true, cause: cause, soft: soft}
}

// TestSynapseRefreshChain replays the refresh-token reuse phases of
// /work/shared/facts/synapse-1.67-auth.md. Where Synapse answers 403
// M_FORBIDDEN the store reports CauseExpired or CauseRevoked.
func TestSynapseRefreshChain(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"phase main", []step{
			issue("login", "", "AT1", "RT1"),
			ok("auth", "AT1"),
			issue("refresh", "RT1", "AT2", "RT2"),
			ok("auth", "AT1"),                       // old access token kept
			issue("refresh", "RT1", "AT2b", "RT2b"), // reuse before AT2 was used
			ok("auth", "AT2b"),
			fails("auth", "AT2", CauseUnknown, false), // superseded, never used
			ok("auth", "AT1"),
			fails("refresh", "RT1", CauseRevoked, false), // Synapse: 403 "isn't valid anymore"
			fails("refresh", "RT2", CauseUnknown, false), // "refresh token does not exist"
			issue("refresh", "RT2b", "AT3", "RT3"),       // normal rotation; deletes RT1 and AT1
			fails("auth", "AT1", CauseUnknown, false),    // Synapse: 200 from its cache if AT1 had been used, else 401
			ok("auth", "AT2b"),                           // parent of the current pair
			issue("refresh", "RT2b", "AT3b", "RT3b"),     // again, before AT3 was used
			fails("auth", "AT3", CauseUnknown, false),    // replaced
			fails("refresh", "RT3", CauseUnknown, false), // replaced
			fails("refresh", "RT1", CauseUnknown, false), // deleted
			ok("auth", "AT3b"),
			ok("logout", "AT3b"),
			fails("auth", "AT3b", CauseUnknown, false),
			fails("refresh", "RT3b", CauseUnknown, false),
			fails("logout", "AT3b", CauseUnknown, false),
		}},
		{"phase cache, case ii: never-used tokens", []step{
			issue("login", "", "BT1", "BR1"),
			issue("refresh", "BR1", "BT2", "BR2"),
			issue("refresh", "BR2", "BT3", "BR3"),
			fails("auth", "BT1", CauseUnknown, false),
			ok("auth", "BT2"),
		}},
		{"refreshing the new refresh token revokes the old one", []step{
			issue("login", "", "AT1", "RT1"),
			issue("refresh", "RT1", "AT2", "RT2"),
			issue("refresh", "RT2", "AT3", "RT3"),
			fails("refresh", "RT1", CauseUnknown, false),
			ok("auth", "AT2"),
			ok("auth", "AT3"),
		}},
		{"phase expiry (3s access, 8s refresh)", []step{
			issue("login", "", "AT1", "RT1"),
			ok("auth", "AT1"),
			{op: "advance", advanceBy: 3 * time.Second},
			fails("auth", "AT1", CauseExpired, true),
			issue("refresh", "RT1", "AT2", "RT2"),
			ok("auth", "AT2"),
			fails("auth", "AT1", CauseExpired, true), // still known, still soft
			{op: "advance", advanceBy: 9 * time.Second},
			fails("auth", "AT2", CauseExpired, true),
			fails("refresh", "RT2", CauseExpired, false), // Synapse: 403 "has expired"
			ok("logout", "AT2"),                          // an expired token may log out
			{op: "devices", wantDevice: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, Config{AccessTokenLifetime: 3 * time.Second, RefreshTokenLifetime: 8 * time.Second})
			run(t, s, clk.Advance, tt.steps)
		})
	}
}

func TestRefreshOptions(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"old access token kept until it expires", Config{}, []step{
			issue("login", "", "AT1", "RT1"),
			issue("refresh", "RT1", "AT2", "RT2"),
			ok("auth", "AT2"),
			ok("auth", "AT1"),
			{op: "advance", advanceBy: 5 * time.Minute},
			fails("auth", "AT1", CauseExpired, true),
		}},
		{"RevokeOldAccessOnRefresh", Config{RevokeOldAccessOnRefresh: true}, []step{
			issue("login", "", "AT1", "RT1"),
			issue("refresh", "RT1", "AT2", "RT2"),
			fails("auth", "AT1", CauseUnknown, false),
			issue("refresh", "RT1", "AT2b", "RT2b"), // reuse still allowed
			fails("auth", "AT2", CauseUnknown, false),
			ok("auth", "AT2b"),
		}},
		{"refresh tokens that never expire", Config{RefreshTokenLifetime: -1}, []step{
			issue("login", "", "AT1", "RT1"),
			{op: "advance", advanceBy: 10000 * time.Hour},
			issue("refresh", "RT1", "AT2", "RT2"),
			ok("auth", "AT2"),
		}},
		{"refresh token lifetime 24h by default", Config{}, []step{
			issue("login", "", "AT1", "RT1"),
			{op: "advance", advanceBy: 24*time.Hour - time.Second},
			issue("refresh", "RT1", "AT2", "RT2"),
			{op: "advance", advanceBy: 24 * time.Hour},
			fails("refresh", "RT2", CauseExpired, false),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, tt.cfg)
			run(t, s, clk.Advance, tt.steps)
		})
	}
}

func TestFailedRefreshSoftLogout(t *testing.T) {
	causes := []struct {
		cause Cause
		token func(t *testing.T, s *Store, adv func(time.Duration)) string
	}{
		{CauseUnknown, func(*testing.T, *Store, func(time.Duration)) string { return "mrt_garbage" }},
		{CauseExpired, func(t *testing.T, s *Store, adv func(time.Duration)) string {
			rt := login(t, s, LoginRequest{WithRefresh: true}).RefreshToken
			adv(25 * time.Hour)
			return rt
		}},
		{CauseRevoked, func(t *testing.T, s *Store, _ func(time.Duration)) string {
			rt := login(t, s, LoginRequest{WithRefresh: true}).RefreshToken
			next, err := s.Refresh(rt)
			if err != nil {
				t.Fatal(err)
			}
			wantAuth(t, s, next.AccessToken, true, 0, false)
			return rt
		}},
		{CauseSoftLogout, func(t *testing.T, s *Store, _ func(time.Duration)) string {
			sess := login(t, s, LoginRequest{WithRefresh: true})
			if err := s.SoftLogout("alice", sess.DeviceID); err != nil {
				t.Fatal(err)
			}
			return sess.RefreshToken
		}},
	}
	for _, configured := range []bool{false, true} {
		for _, c := range causes {
			t.Run(fmt.Sprintf("cause%d_configured%v", c.cause, configured), func(t *testing.T) {
				s, clk := newStore(t, Config{SoftLogoutOnFailedRefresh: configured})
				wantRefreshFails(t, s, c.token(t, s, clk.Advance), c.cause, configured || c.cause == CauseSoftLogout)
			})
		}
	}
}

func TestAccessTokenAsRefreshToken(t *testing.T) {
	s, _ := newStore(t, Config{})
	sess := login(t, s, LoginRequest{WithRefresh: true})
	wantRefreshFails(t, s, sess.AccessToken, CauseUnknown, false)
	wantAuth(t, s, sess.RefreshToken, false, CauseUnknown, false)
}

func TestLoginOnExistingDevice(t *testing.T) {
	s, _ := newStore(t, Config{})
	first := login(t, s, LoginRequest{DeviceID: "PHONE", InitialDisplayName: "Phone", WithRefresh: true})
	second := login(t, s, LoginRequest{DeviceID: "PHONE", InitialDisplayName: "Other name", WithRefresh: true})
	if second.DeviceID != "PHONE" {
		t.Fatalf("DeviceID = %q, want PHONE", second.DeviceID)
	}
	wantAuth(t, s, first.AccessToken, false, CauseUnknown, false)
	wantRefreshFails(t, s, first.RefreshToken, CauseUnknown, false)
	wantAuth(t, s, second.AccessToken, true, 0, false)
	devs := s.Devices("alice")
	if len(devs) != 1 || devs[0].DisplayName != "Phone" {
		t.Fatalf("Devices = %+v, want only PHONE named Phone", devs)
	}
	if _, err := s.Login(LoginRequest{UserID: "bob"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Login for an unknown user: %v, want ErrNotFound", err)
	}
}

func TestAuthenticate(t *testing.T) {
	s, clk := newStore(t, Config{GuestAccess: true})
	sess := login(t, s, LoginRequest{InitialDisplayName: "Laptop", IP: "10.0.0.1"})
	if d, _ := s.Device("alice", sess.DeviceID); !d.LastSeenTS.IsZero() || d.LastSeenIP != "" {
		t.Fatalf("a new device has last seen %v %q, want none (as Synapse)", d.LastSeenTS, d.LastSeenIP)
	}
	clk.Advance(time.Minute)
	who, err := s.Authenticate(sess.AccessToken, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Principal{UserID: "@alice:localhost", DeviceID: sess.DeviceID}); who != want {
		t.Fatalf("Principal = %+v, want %+v", who, want)
	}
	want := Device{ID: sess.DeviceID, DisplayName: "Laptop", LastSeenTS: epoch.Add(time.Minute), LastSeenIP: "10.0.0.2"}
	if d, _ := s.Device("alice", sess.DeviceID); d != want {
		t.Fatalf("Device = %+v, want %+v", d, want)
	}
	wantAuth(t, s, "mat_unknown", false, CauseUnknown, false)
	wantAuth(t, s, "", false, CauseUnknown, false)

	oauth := login(t, s, LoginRequest{ViaOAuth: true})
	if who, _ := s.Authenticate(oauth.AccessToken, ""); !who.ViaOAuth || who.IsGuest {
		t.Fatalf("OAuth principal = %+v", who)
	}
	guest, _ := s.Register("", "", true)
	gs := login(t, s, LoginRequest{UserID: guest})
	if who, _ := s.Authenticate(gs.AccessToken, ""); !who.IsGuest || !gs.IsGuest {
		t.Fatalf("guest principal = %+v, session = %+v", who, gs)
	}
}

func TestEndingSessions(t *testing.T) {
	tests := []struct {
		name string
		end  func(s *Store, sess Session) error
	}{
		{"Logout", func(s *Store, sess Session) error { _, err := s.Logout(sess.AccessToken); return err }},
		{"LogoutAll", func(s *Store, _ Session) error { return s.LogoutAll("@alice:localhost") }},
		{"DeleteDevice", func(s *Store, sess Session) error { return s.DeleteDevice("alice", sess.DeviceID) }},
		{"HardLogout", func(s *Store, sess Session) error { return s.HardLogout("alice", sess.DeviceID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, Config{SoftLogoutOnFailedRefresh: true})
			if _, err := s.AddUser("bob", "pw"); err != nil {
				t.Fatal(err)
			}
			sess := login(t, s, LoginRequest{WithRefresh: true})
			next, err := s.Refresh(sess.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			bob := login(t, s, LoginRequest{UserID: "bob"})
			if err := tt.end(s, next); err != nil {
				t.Fatal(err)
			}
			for _, at := range []string{sess.AccessToken, next.AccessToken} {
				wantAuth(t, s, at, false, CauseUnknown, false)
			}
			wantRefreshFails(t, s, next.RefreshToken, CauseUnknown, true)
			if _, err := s.Device("alice", sess.DeviceID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("device after %s: %v, want ErrNotFound", tt.name, err)
			}
			wantAuth(t, s, bob.AccessToken, true, 0, false)
		})
	}
}

func TestEndingErrors(t *testing.T) {
	s, _ := newStore(t, Config{})
	if _, err := s.Logout("mat_nope"); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("Logout(unknown) = %v", err)
	}
	if err := s.LogoutAll("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LogoutAll(unknown) = %v", err)
	}
}

func TestScriptedEffects(t *testing.T) {
	t.Run("SoftLogout", func(t *testing.T) {
		s, _ := newStore(t, Config{})
		sess := login(t, s, LoginRequest{DeviceID: "PHONE", InitialDisplayName: "Phone", WithRefresh: true})
		if err := s.SoftLogout("alice", "PHONE"); err != nil {
			t.Fatal(err)
		}
		wantAuth(t, s, sess.AccessToken, false, CauseSoftLogout, true)
		wantRefreshFails(t, s, sess.RefreshToken, CauseSoftLogout, true)
		if d, err := s.Device("alice", "PHONE"); err != nil || d.DisplayName != "Phone" {
			t.Fatalf("device after soft logout: %+v, %v", d, err)
		}
		if got := s.Sessions("alice"); len(got) != 1 || !got[0].SoftLoggedOut {
			t.Fatalf("Sessions = %+v", got)
		}
		again := login(t, s, LoginRequest{DeviceID: "PHONE", WithRefresh: true})
		wantAuth(t, s, again.AccessToken, true, 0, false)
		wantAuth(t, s, sess.AccessToken, false, CauseUnknown, false)
		if got := s.Sessions("alice"); got[0].SoftLoggedOut {
			t.Fatalf("Sessions after login = %+v", got)
		}
	})
	t.Run("ExpireAccessToken", func(t *testing.T) {
		s, _ := newStore(t, Config{})
		sess := login(t, s, LoginRequest{WithRefresh: true})
		next, _ := s.Refresh(sess.RefreshToken)
		if err := s.ExpireAccessToken("alice", sess.DeviceID); err != nil {
			t.Fatal(err)
		}
		wantAuth(t, s, sess.AccessToken, false, CauseExpired, true)
		wantAuth(t, s, next.AccessToken, false, CauseExpired, true)
		fresh, err := s.Refresh(next.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		wantAuth(t, s, fresh.AccessToken, true, 0, false)

		forever := login(t, s, LoginRequest{})
		if err := s.ExpireAccessToken("alice", forever.DeviceID); err != nil {
			t.Fatal(err)
		}
		wantAuth(t, s, forever.AccessToken, false, CauseExpired, true)
	})
	t.Run("RevokeRefreshToken", func(t *testing.T) {
		s, _ := newStore(t, Config{})
		sess := login(t, s, LoginRequest{WithRefresh: true})
		next, _ := s.Refresh(sess.RefreshToken)
		if err := s.RevokeRefreshToken("alice", sess.DeviceID); err != nil {
			t.Fatal(err)
		}
		wantRefreshFails(t, s, sess.RefreshToken, CauseUnknown, false)
		wantRefreshFails(t, s, next.RefreshToken, CauseUnknown, false)
		wantAuth(t, s, next.AccessToken, true, 0, false)
		if got := s.Sessions("alice"); got[0].HasRefreshToken {
			t.Fatalf("Sessions = %+v", got)
		}
	})
	for name, effect := range map[string]func(s *Store, user, device string) error{
		"SoftLogout":         (*Store).SoftLogout,
		"HardLogout":         (*Store).HardLogout,
		"DeleteDevice":       (*Store).DeleteDevice,
		"ExpireAccessToken":  (*Store).ExpireAccessToken,
		"RevokeRefreshToken": (*Store).RevokeRefreshToken,
		"UpdateDevice":       func(s *Store, u, d string) error { return s.UpdateDevice(u, d, "x") },
	} {
		t.Run(name+" unknown", func(t *testing.T) {
			s, _ := newStore(t, Config{})
			login(t, s, LoginRequest{DeviceID: "PHONE"})
			for _, ud := range [][2]string{{"alice", "TABLET"}, {"bob", "PHONE"}} {
				if err := effect(s, ud[0], ud[1]); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s(%s, %s) = %v, want ErrNotFound", name, ud[0], ud[1], err)
				}
			}
		})
	}
}

func TestAddSession(t *testing.T) {
	s, clk := newStore(t, Config{})
	sess, err := s.AddSession("@alice:localhost", "PHONE", "alice-phone", "alice-phone-r", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := Session{UserID: "@alice:localhost", DeviceID: "PHONE", AccessToken: "alice-phone", RefreshToken: "alice-phone-r", ExpiresIn: time.Minute}
	if sess != want {
		t.Fatalf("AddSession = %+v, want %+v", sess, want)
	}
	wantAuth(t, s, "alice-phone", true, 0, false)
	clk.Advance(time.Minute)
	wantAuth(t, s, "alice-phone", false, CauseExpired, true)
	if _, err := s.Refresh("alice-phone-r"); err != nil {
		t.Fatal(err)
	}

	gen, err := s.AddSession("alice", "", "", "", 0)
	if err != nil || gen.AccessToken == "" || gen.DeviceID == "" || gen.RefreshToken != "" || gen.ExpiresIn != 0 {
		t.Fatalf("AddSession with generated values = %+v, %v", gen, err)
	}

	tests := []struct {
		name, user, access, refresh string
		want                        error
	}{
		{"unknown user", "bob", "t1", "", ErrNotFound},
		{"access token in use", "alice", gen.AccessToken, "", ErrTokenInUse},
		{"access token in use as refresh token", "alice", "alice-phone-r", "", ErrTokenInUse},
		{"refresh token in use as access token", "alice", "t2", gen.AccessToken, ErrTokenInUse},
		{"same access and refresh token", "alice", "t3", "t3", ErrTokenInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AddSession(tt.user, "X", tt.access, tt.refresh, 0); !errors.Is(err, tt.want) {
				t.Fatalf("AddSession = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	s, clk := newStore(t, Config{})
	login(t, s, LoginRequest{DeviceID: "B", WithRefresh: true})
	login(t, s, LoginRequest{DeviceID: "A"})
	clk.Advance(5 * time.Minute)
	want := []SessionInfo{
		{DeviceID: "A"},
		{DeviceID: "B", AccessExpires: epoch.Add(5 * time.Minute), AccessExpired: true, HasRefreshToken: true},
	}
	if got := s.Sessions("alice"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Sessions = %+v, want %+v", got, want)
	}
	if got := s.Sessions("nobody"); got != nil {
		t.Fatalf("Sessions(unknown) = %+v", got)
	}
}

func TestDeterministic(t *testing.T) {
	trace := func(cfg Config) string {
		s, _ := newStore(t, cfg)
		a := login(t, s, LoginRequest{WithRefresh: true})
		b, _ := s.Refresh(a.RefreshToken)
		lt, _ := s.NewLoginToken("alice")
		return fmt.Sprint(a, b, lt, s.NewUIASession("register", ""))
	}
	seeded := Config{Deterministic: true, Seed: 42}
	if a, b := trace(seeded), trace(seeded); a != b {
		t.Fatalf("same seed, different values:\n%s\n%s", a, b)
	}
	if a, b := trace(seeded), trace(Config{Deterministic: true, Seed: 43}); a == b {
		t.Fatal("different seeds, same values")
	}
	if a, b := trace(Config{}), trace(Config{}); a == b {
		t.Fatal("crypto/rand gave the same values twice")
	}
}

// A fixture may carry a token copied from an earlier deterministic run; the
// generator must step over it.
func TestGeneratedTokensAvoidFixedOnes(t *testing.T) {
	cfg := Config{Deterministic: true, Seed: 7}
	s, _ := newStore(t, cfg)
	first := login(t, s, LoginRequest{DeviceID: "D"})

	s, _ = newStore(t, cfg)
	if _, err := s.AddSession("alice", "FIXED", first.AccessToken, "", 0); err != nil {
		t.Fatal(err)
	}
	again := login(t, s, LoginRequest{DeviceID: "D"})
	if again.AccessToken == first.AccessToken {
		t.Fatal("generated a token that was already issued")
	}
	wantAuth(t, s, first.AccessToken, true, 0, false)
	wantAuth(t, s, again.AccessToken, true, 0, false)
}

// A device never holds more than two pairs, however its refresh token is
// used.
func TestDeadTokensArePruned(t *testing.T) {
	tests := []struct {
		name string
		use  bool // authenticate with each new access token
		same bool // refresh with the first refresh token every time
	}{
		{"rotate and use", true, false},
		{"rotate without use", false, false},
		{"reuse the first refresh token", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, Config{})
			sess := login(t, s, LoginRequest{WithRefresh: true})
			rt := sess.RefreshToken
			for range 100 {
				next, err := s.Refresh(rt)
				if err != nil {
					t.Fatal(err)
				}
				if tt.use {
					wantAuth(t, s, next.AccessToken, true, 0, false)
				}
				if !tt.same {
					rt = next.RefreshToken
				}
				clk.Advance(10 * time.Minute) // every access token expires; refresh tokens live 24h
			}
			if len(s.access) > 2 || len(s.refresh) > 2 {
				t.Fatalf("%d access and %d refresh tokens kept, want at most 2 each", len(s.access), len(s.refresh))
			}
		})
	}
}

func TestRefreshReplay(t *testing.T) {
	s, _ := newStore(t, Config{})
	sess := login(t, s, LoginRequest{WithRefresh: true})
	first := sess.RefreshToken
	if _, replayed, _ := s.RefreshReplay(first); replayed {
		t.Fatal("a fresh refresh token is reported replayed")
	}
	second, err := s.Refresh(first)
	if err != nil {
		t.Fatal(err)
	}
	who, replayed, unused := s.RefreshReplay(first)
	if !replayed || !unused || who.DeviceID != sess.DeviceID {
		t.Fatalf("the rotated token: %v %v %v, want replayed with its successor unused", who, replayed, unused)
	}
	if _, err := s.Authenticate(second.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	if _, replayed, unused := s.RefreshReplay(first); !replayed || unused {
		t.Fatalf("after the successor's use: %v %v", replayed, unused)
	}
	// Two refreshes later the first token is no longer the predecessor,
	// and still recognized.
	third, err := s.Refresh(second.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(third.RefreshToken); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{first, second.RefreshToken} {
		if _, replayed, unused := s.RefreshReplay(tok); !replayed || unused {
			t.Fatalf("%s: %v %v, want replayed", tok, replayed, unused)
		}
	}
	// A new login on the device forgets them.
	if _, err := s.Login(LoginRequest{UserID: "alice", DeviceID: sess.DeviceID, WithRefresh: true}); err != nil {
		t.Fatal(err)
	}
	if _, replayed, _ := s.RefreshReplay(first); replayed {
		t.Fatal("a spent token of an ended session is still recognized")
	}
}

func TestHardExpiryPerKindOfSession(t *testing.T) {
	for _, tt := range []struct {
		cfg               Config
		legacySoft, oauth bool
	}{
		{Config{}, true, true},
		{Config{HardExpiryOAuth: true}, true, false},
		{Config{HardExpiryLegacy: true}, false, true},
	} {
		s, clk := newStore(t, tt.cfg)
		legacy := login(t, s, LoginRequest{WithRefresh: true})
		oauth := login(t, s, LoginRequest{WithRefresh: true, ViaOAuth: true})
		clk.Advance(DefaultAccessTokenLifetime)
		wantAuth(t, s, legacy.AccessToken, false, CauseExpired, tt.legacySoft)
		wantAuth(t, s, oauth.AccessToken, false, CauseExpired, tt.oauth)
	}
}
