package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestLoginTokens(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wait    time.Duration
		redeems int
		want    error
	}{
		{"fresh", Config{}, 0, 1, nil},
		{"just before expiry", Config{}, 2*time.Minute - time.Nanosecond, 1, nil},
		{"expired", Config{}, 2 * time.Minute, 1, ErrForbidden},
		{"configured lifetime", Config{LoginTokenLifetime: time.Second}, time.Second, 1, ErrForbidden},
		{"never expires", Config{LoginTokenLifetime: -1}, 1000 * time.Hour, 1, nil},
		{"second use", Config{}, 0, 2, ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(t, tt.cfg)
			tok, _ := s.NewLoginToken("alice")
			clk.Advance(tt.wait)
			var user string
			var err error
			for range tt.redeems {
				user, err = s.RedeemLoginToken(tok)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("RedeemLoginToken = %v, want %v", err, tt.want)
			}
			if err == nil && user != "@alice:localhost" {
				t.Fatalf("RedeemLoginToken = %q", user)
			}
		})
	}
	s, _ := newStore(t, Config{})
	if _, in := s.NewLoginToken("alice"); in != DefaultLoginTokenLifetime {
		t.Errorf("expiresIn = %v, want %v", in, DefaultLoginTokenLifetime)
	}
	if _, err := s.RedeemLoginToken("mlt_nope"); !errors.Is(err, ErrForbidden) {
		t.Errorf("RedeemLoginToken(unknown) = %v", err)
	}
}

func TestExpiredEphemeraAreSwept(t *testing.T) {
	s, clk := newStore(t, Config{})
	for range 10000 {
		s.NewLoginToken("alice")
		s.StartUIA("register", "", UIARequest{})
		if _, err := s.RequestThreePIDToken("secret", "email", "a@example.org"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute) // each lives 2 (login token), 10 (UIA) or 1440 (3PID) minutes
	}
	if n := len(s.loginTokens); n > 2*minSweep {
		t.Errorf("%d login tokens kept", n)
	}
	if n := len(s.uia); n > 2*minSweep {
		t.Errorf("%d UIA sessions kept", n)
	}
	if n := len(s.threePIDSessions); n > 2*int(ThreePIDSessionLifetime/time.Minute) {
		t.Errorf("%d 3PID sessions kept", n)
	}
}

func TestUIA(t *testing.T) {
	s, clk := newStore(t, Config{})
	id := s.StartUIA("delete_devices", "@alice:localhost", UIARequest{})
	for _, stage := range []string{"m.login.password", "m.login.dummy", "m.login.password"} {
		if err := s.CompleteStage(id, stage); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(s.CompletedStages(id)); got != "[m.login.password m.login.dummy]" {
		t.Fatalf("CompletedStages = %s", got)
	}
	u, err := s.UIASession(id)
	if err != nil {
		t.Fatal(err)
	}
	want := UIA{ID: id, Purpose: "delete_devices", UserID: "@alice:localhost",
		Completed: []string{"m.login.password", "m.login.dummy"}, Expires: epoch.Add(UIASessionLifetime)}
	if fmt.Sprint(u) != fmt.Sprint(want) {
		t.Fatalf("UIASession = %+v, want %+v", u, want)
	}
	u.Completed[0] = "changed"
	if got := s.CompletedStages(id)[0]; got != "m.login.password" {
		t.Fatalf("UIASession returned the session's own slice")
	}

	ended := s.StartUIA("register", "", UIARequest{})
	s.EndUIASession(ended)
	clk.Advance(UIASessionLifetime)
	for name, sid := range map[string]string{"unknown": "nope", "ended": ended, "expired": id} {
		if _, err := s.UIASession(sid); !errors.Is(err, ErrUnknownUIASession) {
			t.Errorf("UIASession(%s) = %v", name, err)
		}
		if err := s.CompleteStage(sid, "m.login.dummy"); !errors.Is(err, ErrUnknownUIASession) {
			t.Errorf("CompleteStage(%s) = %v", name, err)
		}
		if got := s.CompletedStages(sid); got != nil {
			t.Errorf("CompletedStages(%s) = %v", name, got)
		}
	}
}
