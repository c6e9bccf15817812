package state

import (
	"maps"
	"slices"
	"time"
)

// UIASessionLifetime is how long a user-interactive auth session lives after
// it is created.
const UIASessionLifetime = 10 * time.Minute

// minSweep is the smallest size at which login tokens and UIA sessions are
// swept for expired entries.
const minSweep = 64

// sweep deletes the dead entries of m once it has reached *at entries, then
// sets *at to twice what is left, so that the cost is O(1) amortised per
// insertion and expired entries never outnumber live ones by much.
func sweep[V any](m map[string]V, at *int, dead func(V) bool) {
	if len(m) < *at {
		return
	}
	maps.DeleteFunc(m, func(_ string, v V) bool { return dead(v) })
	*at = max(minSweep, 2*len(m))
}

// loginToken is an unredeemed m.login.token token.
type loginToken struct {
	userID string
	expiry time.Time // zero: never
}

// NewLoginToken issues a single-use m.login.token token for the user (as a
// user ID or a bare localpart) and returns it with its lifetime
// (LoginTokenLifetime; 0: never expires).
func (s *Store) NewLoginToken(userID string) (token string, expiresIn time.Duration) {
	now := s.clk.Now()
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	sweep(s.loginTokens, &s.loginSweep, func(t loginToken) bool { return expired(t.expiry, now) })
	token = s.randomToken(loginPrefix)
	s.loginTokens[token] = loginToken{userID: id, expiry: expiryAfter(now, s.loginTTL)}
	return token, s.loginTTL
}

// RedeemLoginToken returns the user a login token was issued for and ends
// the token. ErrForbidden for an unknown, used or expired token.
func (s *Store) RedeemLoginToken(token string) (userID string, err error) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.loginTokens[token]
	delete(s.loginTokens, token)
	if !ok || expired(t.expiry, now) {
		return "", ErrForbidden
	}
	return t.userID, nil
}

// UIA is a user-interactive authentication session. The HTTP layer decides
// the flows; the store only remembers what was completed.
type UIA struct {
	ID        string
	Purpose   string // what the session authorises, e.g. "register" or "delete_devices"
	UserID    string // the user it authenticates, if known
	Completed []string
	Expires   time.Time
}

// NewUIASession starts a UIA session and returns its ID.
func (s *Store) NewUIASession(purpose, userID string) string {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sweep(s.uia, &s.uiaSweep, func(u *UIA) bool { return expired(u.Expires, now) })
	id := s.randomToken("")
	s.uia[id] = &UIA{ID: id, Purpose: purpose, UserID: userID, Expires: now.Add(UIASessionLifetime)}
	return id
}

// uiaSession returns the live session id. s.mu must be held.
func (s *Store) uiaSession(id string, now time.Time) (*UIA, error) {
	u := s.uia[id]
	if u == nil || expired(u.Expires, now) {
		return nil, ErrUnknownUIASession
	}
	return u, nil
}

// UIASession returns a copy of the session, or ErrUnknownUIASession if it is
// unknown, ended or expired.
func (s *Store) UIASession(id string) (UIA, error) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.uiaSession(id, now)
	if err != nil {
		return UIA{}, err
	}
	c := *u
	c.Completed = slices.Clone(u.Completed)
	return c, nil
}

// CompleteStage records that stage (e.g. "m.login.password") was completed
// in the session; completing it again changes nothing.
// ErrUnknownUIASession as for UIASession.
func (s *Store) CompleteStage(id, stage string) error {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.uiaSession(id, now)
	if err != nil {
		return err
	}
	if !slices.Contains(u.Completed, stage) {
		u.Completed = append(u.Completed, stage)
	}
	return nil
}

// CompletedStages returns the stages completed in the session, in order
// (none for an unknown or expired session).
func (s *Store) CompletedStages(id string) []string {
	u, _ := s.UIASession(id)
	return u.Completed
}

// EndUIASession forgets the session.
func (s *Store) EndUIASession(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.uia, id)
}
