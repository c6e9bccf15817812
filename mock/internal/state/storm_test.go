package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/storm"
)

const stormSize = 64

// causeOf returns the cause of a *TokenError, or 255 for any other error.
// Unlike tokenCause it may be called from any goroutine.
func causeOf(err error) Cause {
	var te *TokenError
	if !errors.As(err, &te) {
		return 255
	}
	return te.Cause
}

// checkOneChain checks that the device, the store's only one, holds at most
// two pairs and that its current pair works by its access token.
func checkOneChain(t *testing.T, s *Store, user, device string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(user, device)
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if d.prev != nil {
		want = 2
	}
	if len(s.access) > want || len(s.refresh) > want {
		t.Fatalf("%d access and %d refresh tokens for %d pairs", len(s.access), len(s.refresh), want)
	}
	if d.cur == nil || s.access[d.cur.access] != d.cur {
		t.Fatal("the current pair is not reachable by its access token")
	}
}

// 64 refreshes with the same refresh token, none of whose results is used
// yet: all succeed, each superseding the one before, so exactly one of the
// returned pairs works.
func TestRefreshStorm(t *testing.T) {
	s, _ := newStore(t, Config{})
	first := login(t, s, LoginRequest{WithRefresh: true})
	var got [stormSize]Session
	var errs [stormSize]error
	storm.Run(stormSize, func(i int) { got[i], errs[i] = s.Refresh(first.RefreshToken) })

	var live []Session
	for i := range stormSize {
		if errs[i] != nil {
			t.Fatalf("refresh %d: %v", i, errs[i])
		}
		if got[i].DeviceID != first.DeviceID {
			t.Fatalf("refresh %d moved to device %s", i, got[i].DeviceID)
		}
		if _, err := s.Authenticate(got[i].AccessToken, ""); err == nil {
			live = append(live, got[i])
		} else if c, soft := tokenCause(t, err); c != CauseUnknown || soft {
			t.Fatalf("superseded access token: cause %d soft %v", c, soft)
		}
	}
	if len(live) != 1 {
		t.Fatalf("%d of %d refreshed pairs work, want exactly 1", len(live), stormSize)
	}
	checkOneChain(t, s, "alice", first.DeviceID)
	wantAuth(t, s, first.AccessToken, true, 0, false)               // the old access token is kept
	wantRefreshFails(t, s, first.RefreshToken, CauseRevoked, false) // the winner was used
	for i := range stormSize {
		if got[i] != live[0] {
			wantRefreshFails(t, s, got[i].RefreshToken, CauseUnknown, false)
		}
	}
	next, err := s.Refresh(live[0].RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	wantAuth(t, s, next.AccessToken, true, 0, false)
}

// 64 clients refresh with the same refresh token and use what they got at
// once: a refresh fails only because another client's new pair was used
// (CauseRevoked); a returned pair fails only because a later refresh
// superseded it (CauseUnknown); exactly one client ends up with a working
// session, and it is the device's current one.
func TestRefreshAndUseStorm(t *testing.T) {
	for round := range 20 {
		s, _ := newStore(t, Config{})
		first := login(t, s, LoginRequest{WithRefresh: true})
		var winners [stormSize]*Session
		storm.Run(stormSize, func(i int) {
			sess, err := s.Refresh(first.RefreshToken)
			if err != nil {
				if c := causeOf(err); c != CauseRevoked {
					t.Errorf("refresh %d: %v, want CauseRevoked", i, err)
				}
				return
			}
			if _, err := s.Authenticate(sess.AccessToken, ""); err != nil {
				if c := causeOf(err); c != CauseUnknown {
					t.Errorf("auth %d: %v, want CauseUnknown", i, err)
				}
				return
			}
			winners[i] = &sess
		})
		var won []Session
		for _, w := range winners {
			if w != nil {
				won = append(won, *w)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d clients kept a working session, want 1", round, len(won))
		}
		wantAuth(t, s, won[0].AccessToken, true, 0, false)
		checkOneChain(t, s, "alice", first.DeviceID)
		if _, err := s.Refresh(won[0].RefreshToken); err != nil {
			t.Fatalf("round %d: the winner cannot refresh: %v", round, err)
		}
	}
}

// 64 logins on the same device ID leave one device with one working session.
func TestLoginStormSameDevice(t *testing.T) {
	s, _ := newStore(t, Config{})
	var got [stormSize]Session
	storm.Run(stormSize, func(i int) {
		sess, err := s.Login(LoginRequest{UserID: "alice", DeviceID: "PHONE", WithRefresh: i%2 == 0})
		if err != nil {
			t.Error(err)
		}
		got[i] = sess
	})
	working := 0
	for _, sess := range got {
		if _, err := s.Authenticate(sess.AccessToken, ""); err == nil {
			working++
		}
	}
	if working != 1 {
		t.Fatalf("%d sessions work, want 1", working)
	}
	if n := len(s.Devices("alice")); n != 1 {
		t.Fatalf("%d devices, want 1", n)
	}
	checkOneChain(t, s, "alice", "PHONE")
}

// Everything at once on several devices, with the clock moving and
// scripted effects firing, for the race detector; afterwards every device
// still holds one chain.
func TestMixedStorm(t *testing.T) {
	s, clk := newStore(t, Config{SoftLogoutOnFailedRefresh: true})
	const devices = 8
	for d := range devices {
		login(t, s, LoginRequest{DeviceID: fmt.Sprint("D", d), WithRefresh: true})
	}
	storm.Run(stormSize, func(i int) {
		dev := fmt.Sprint("D", i%devices)
		relogin := func() Session {
			sess, err := s.Login(LoginRequest{UserID: "alice", DeviceID: dev, WithRefresh: true})
			if err != nil {
				t.Error(err)
			}
			return sess
		}
		sess := relogin()
		for n := range 50 {
			if _, err := s.Authenticate(sess.AccessToken, "::1"); err != nil && !errors.Is(err, ErrUnknownToken) {
				t.Error(err)
			}
			if next, err := s.Refresh(sess.RefreshToken); err == nil {
				sess = next
			}
			switch n % 10 {
			case 0:
				clk.Advance(time.Minute)
			case 3:
				_ = s.ExpireAccessToken("alice", dev)
			case 5:
				_ = s.SoftLogout("alice", dev)
				sess = relogin()
			case 7:
				_ = s.Sessions("alice")
				_ = s.Devices("alice")
			}
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	pairs := 0
	for _, d := range s.users["@alice:localhost"].devices {
		pairs++
		if d.prev != nil {
			pairs++
		}
	}
	if len(s.access) > pairs || len(s.refresh) > pairs {
		t.Fatalf("%d access and %d refresh tokens for %d pairs", len(s.access), len(s.refresh), pairs)
	}
}
