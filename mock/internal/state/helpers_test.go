package state

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newStore returns a store on a virtual clock with user alice (password
// "wonderland").
func newStore(t testing.TB, cfg Config) (*Store, *clock.Clock) {
	t.Helper()
	clk := clock.Virtual(epoch)
	s := New(cfg, clk)
	if _, err := s.AddUser("alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func login(t testing.TB, s *Store, req LoginRequest) Session {
	t.Helper()
	if req.UserID == "" {
		req.UserID = "alice"
	}
	sess, err := s.Login(req)
	if err != nil {
		t.Fatalf("Login(%+v): %v", req, err)
	}
	return sess
}

// tokenCause returns the cause and soft-logout flag of err, which must be a
// *TokenError matching ErrUnknownToken.
func tokenCause(t testing.TB, err error) (Cause, bool) {
	t.Helper()
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("error %v (%T) is not a *TokenError matching ErrUnknownToken", err, err)
	}
	return te.Cause, te.SoftLogout
}

// wantAuth checks that Authenticate(token) succeeds, or fails with cause and
// soft when ok is false.
func wantAuth(t testing.TB, s *Store, token string, ok bool, cause Cause, soft bool) {
	t.Helper()
	_, err := s.Authenticate(token, "127.0.0.1")
	switch {
	case ok && err != nil:
		t.Fatalf("Authenticate: %v, want success", err)
	case ok:
	case err == nil:
		t.Fatalf("Authenticate succeeded, want cause %d", cause)
	default:
		if c, sl := tokenCause(t, err); c != cause || sl != soft {
			t.Fatalf("Authenticate: cause %d soft_logout %v, want cause %d soft_logout %v", c, sl, cause, soft)
		}
	}
}

// wantRefreshFails checks that Refresh(token) fails with cause and soft.
func wantRefreshFails(t testing.TB, s *Store, token string, cause Cause, soft bool) {
	t.Helper()
	sess, err := s.Refresh(token)
	if err == nil {
		t.Fatalf("Refresh succeeded (%+v), want cause %d", sess, cause)
	}
	if c, sl := tokenCause(t, err); c != cause || sl != soft {
		t.Fatalf("Refresh: cause %d soft_logout %v, want cause %d soft_logout %v", c, sl, cause, soft)
	}
}

// roundTrip returns a new store on clk restored from s's snapshot, through
// JSON as a state file holds it.
func roundTrip(t testing.TB, s *Store, clk *clock.Clock) *Store {
	t.Helper()
	data, err := json.Marshal(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	r := New(s.cfg, clk)
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	return r
}
