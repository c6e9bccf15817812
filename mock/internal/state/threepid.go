package state

import (
	"slices"
	"strings"
	"time"
)

// Third-party identifiers (3PIDs): e-mail addresses and phone numbers on an
// account. The mock sends neither mail nor text messages: a validation
// session counts as validated as soon as it is requested, and AddThreePID
// then puts its address on the account.

// ThreePIDSessionLifetime is how long a 3PID validation session may be
// used to add its address.
const ThreePIDSessionLifetime = 24 * time.Hour

// ThreePID is a third-party identifier on an account, as GET /account/3pid
// lists it.
type ThreePID struct {
	Medium      string    `json:"medium"`
	Address     string    `json:"address"`
	ValidatedAt time.Time `json:"validated_at"`
	AddedAt     time.Time `json:"added_at"`
}

// threePIDKey is how an address is found among all accounts.
func threePIDKey(medium, address string) string { return medium + "\x00" + address }

// threePIDSession is a validation session: the address it validates, for
// the client that holds its secret.
type threePIDSession struct {
	clientSecret    string
	medium, address string
	validatedAt     time.Time
	expiry          time.Time
}

// canonicalAddress returns the form an address is stored and compared in:
// e-mail addresses in lower case, as Synapse keeps them.
func canonicalAddress(medium, address string) string {
	if medium == "email" {
		return strings.ToLower(address)
	}
	return address
}

// RequestThreePIDToken starts a validation session for address (medium
// "email" or "msisdn") for the client holding clientSecret, and returns its
// ID (the sid). Each request starts a session of its own; as no message is
// sent, send_attempt does not matter. The session is validated at once.
// ErrThreePIDInUse if an account has the address.
func (s *Store) RequestThreePIDToken(clientSecret, medium, address string) (sid string, err error) {
	now := s.clk.Now()
	address = canonicalAddress(medium, address)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.threePIDOwner(medium, address) != nil {
		return "", ErrThreePIDInUse
	}
	sweep(s.threePIDSessions, &s.threePIDSweep, func(v *threePIDSession) bool { return expired(v.expiry, now) })
	sid = s.randomToken("")
	s.threePIDSessions[sid] = &threePIDSession{
		clientSecret: clientSecret, medium: medium, address: address,
		validatedAt: now, expiry: now.Add(ThreePIDSessionLifetime),
	}
	return sid, nil
}

// AddThreePID puts the address that session sid validated on the user's
// account, for the client holding clientSecret, and ends the session.
// Errors: ErrThreePIDAuthFailed for an unknown, expired or ended session or
// another secret; ErrThreePIDInUse if an account has the address (adding it
// to the same account again changes nothing); ErrNotFound for an unknown
// user, ErrUserDeactivated for a deactivated one.
func (s *Store) AddThreePID(userID, clientSecret, sid string) error {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.activeUser(userID)
	if err != nil {
		return err
	}
	v := s.threePIDSessions[sid]
	if v == nil || v.clientSecret != clientSecret || expired(v.expiry, now) {
		return ErrThreePIDAuthFailed
	}
	switch owner := s.threePIDOwner(v.medium, v.address); {
	case owner == u:
		delete(s.threePIDSessions, sid)
		return nil
	case owner != nil:
		return ErrThreePIDInUse
	}
	delete(s.threePIDSessions, sid)
	s.threePIDs[u] = append(s.threePIDs[u], ThreePID{Medium: v.medium, Address: v.address, ValidatedAt: v.validatedAt, AddedAt: now})
	s.threePIDOwners[threePIDKey(v.medium, v.address)] = u
	return nil
}

// threePIDOwner returns the user whose account has the address, or nil.
// s.mu must be held.
func (s *Store) threePIDOwner(medium, address string) *user {
	return s.threePIDOwners[threePIDKey(medium, address)]
}

// dropThreePIDs removes the addresses of u for which drop is true and
// reports how many went. s.mu must be held.
func (s *Store) dropThreePIDs(u *user, drop func(ThreePID) bool) int {
	all := s.threePIDs[u]
	kept := slices.DeleteFunc(all, func(t ThreePID) bool {
		if drop(t) {
			delete(s.threePIDOwners, threePIDKey(t.Medium, t.Address))
			return true
		}
		return false
	})
	if len(kept) == 0 {
		delete(s.threePIDs, u)
	} else {
		s.threePIDs[u] = kept
	}
	return len(all) - len(kept)
}

// ThreePIDs returns the third-party identifiers on the user's account, in
// the order they were added (none for an unknown user).
func (s *Store) ThreePIDs(userID string) []ThreePID {
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[id]; u != nil {
		return slices.Clone(s.threePIDs[u])
	}
	return nil
}

// DeleteThreePID removes the address from the user's account and reports
// whether it was there. ErrNotFound for an unknown user.
func (s *Store) DeleteThreePID(userID, medium, address string) (bool, error) {
	id := s.UserID(userID)
	address = canonicalAddress(medium, address)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return false, ErrNotFound
	}
	return s.dropThreePIDs(u, func(t ThreePID) bool { return t.Medium == medium && t.Address == address }) > 0, nil
}
