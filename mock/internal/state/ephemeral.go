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
// the flows; the store only remembers what was completed, and what the
// session was started for.
type UIA struct {
	ID        string
	Purpose   string // what the session authorises, e.g. "register" or "delete_devices"
	UserID    string // the user it authenticates, if known
	Request   UIARequest
	Completed []string
	Expires   time.Time
}

// UIARequest is the request a UIA session was started for. The spec binds a
// session to it: a later stage that comes with another request is refused
// (ResumeUIA), so that a password typed to delete one device cannot delete
// another.
type UIARequest struct {
	// Method and Path are the request's HTTP method and URL path.
	Method, Path string
	// Fingerprint is what else of the request must stay the same, in a
	// canonical form the caller chooses, such as the sorted device IDs of
	// a device deletion; empty when nothing else counts.
	Fingerprint string
}

// StartUIA starts a UIA session for purpose, authenticating userID (empty
// when unknown, as for a registration), bound to req, and returns its ID.
func (s *Store) StartUIA(purpose, userID string, req UIARequest) string {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sweep(s.uia, &s.uiaSweep, func(u *UIA) bool { return expired(u.Expires, now) })
	id := s.randomToken("")
	s.uia[id] = &UIA{ID: id, Purpose: purpose, UserID: userID, Request: req, Expires: now.Add(UIASessionLifetime)}
	return id
}

// ResumeUIA checks that session id may go on for purpose, userID and req:
// ErrUnknownUIASession if it is unknown, ended or expired, or was started
// for another purpose or user; ErrUIARequestChanged if it was started for
// another request. A refused request leaves the session as it was.
func (s *Store) ResumeUIA(id, purpose, userID string, req UIARequest) error {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.uiaSession(id, now)
	switch {
	case err != nil:
		return err
	case u.Purpose != purpose || u.UserID != userID:
		return ErrUnknownUIASession
	case u.Request != req:
		return ErrUIARequestChanged
	}
	return nil
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
