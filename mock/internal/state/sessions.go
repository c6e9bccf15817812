package state

import (
	"slices"
	"strings"
	"time"
)

// pair is an access token and the refresh token issued with it, if any.
type pair struct {
	dev                         *device
	access, refresh             string    // "" when there is none (any more)
	accessExpiry, refreshExpiry time.Time // zero: never
	accessUsed                  bool      // the access token has authenticated a request
}

// LoginRequest describes a successful login (the credentials are checked
// before, with CheckPassword or RedeemLoginToken).
type LoginRequest struct {
	// UserID is the user, as a user ID or a bare localpart.
	UserID string
	// DeviceID is the device to log in on; empty creates a new one.
	DeviceID string
	// InitialDisplayName names a new device; an existing device keeps its
	// name.
	InitialDisplayName string
	// WithRefresh asks for an expiring access token and a refresh token.
	WithRefresh bool
	// IP is the client's address. It is not recorded: like Synapse, a device
	// has no last-seen time or address until its first authenticated request.
	IP string
	// ViaOAuth marks the tokens as issued through the OAuth 2.0 API
	// (Principal.ViaOAuth).
	ViaOAuth bool
}

// Session is what a login or refresh hands the client.
type Session struct {
	UserID, DeviceID string
	AccessToken      string
	RefreshToken     string        // "" when none was issued
	ExpiresIn        time.Duration // the access token's lifetime; 0: never expires
	IsGuest          bool
}

// Principal is who an access token authenticates.
type Principal struct {
	UserID, DeviceID string
	IsGuest          bool
	ViaOAuth         bool // the token was issued through the OAuth 2.0 API
}

// SessionInfo describes a device's current token pair, for inspection.
type SessionInfo struct {
	DeviceID        string
	AccessExpires   time.Time // zero: never
	AccessExpired   bool
	HasRefreshToken bool // a refresh token is issued and neither expired nor revoked
	SoftLoggedOut   bool
}

// Login gives the user a new token pair on a new device, or on
// req.DeviceID. Logging in on an existing device keeps the device and its
// display name, ends all its previous tokens and lifts a soft logout. With
// req.WithRefresh the access token expires after AccessTokenLifetime and a
// refresh token comes with it; without, the access token never expires
// unless Config.ExpireNonRefreshable. ErrNotFound if the user is unknown.
func (s *Store) Login(req LoginRequest) (Session, error) {
	now := s.clk.Now()
	id := s.UserID(req.UserID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return Session{}, ErrNotFound
	}
	var ttl time.Duration
	var refresh string
	if req.WithRefresh {
		ttl, refresh = s.accessTTL, s.newToken(refreshPrefix)
	} else if s.cfg.ExpireNonRefreshable {
		ttl = s.accessTTL
	}
	d := s.loginDevice(u, req.DeviceID, req.InitialDisplayName)
	d.viaOAuth = req.ViaOAuth
	return s.start(d, s.newToken(accessPrefix), refresh, ttl, now), nil
}

// AddSession logs userID in on deviceID (created if needed; empty: a new
// one) with fixed tokens, for deterministic fixtures. An empty accessToken is
// generated; an empty refreshToken means none. The access token expires after
// expiresIn (<= 0: never). It behaves like Login otherwise. Errors:
// ErrNotFound for an unknown user, ErrTokenInUse for a token already issued.
func (s *Store) AddSession(userID, deviceID, accessToken, refreshToken string, expiresIn time.Duration) (Session, error) {
	now := s.clk.Now()
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return Session{}, ErrNotFound
	}
	if accessToken == "" {
		accessToken = s.newToken(accessPrefix)
	}
	if s.tokenInUse(accessToken) || refreshToken != "" && (refreshToken == accessToken || s.tokenInUse(refreshToken)) {
		return Session{}, ErrTokenInUse
	}
	return s.start(s.loginDevice(u, deviceID, ""), accessToken, refreshToken, expiresIn, now), nil
}

// tokenInUse reports whether t is a live access or refresh token. s.mu must
// be held.
func (s *Store) tokenInUse(t string) bool {
	return s.access[t] != nil || s.refresh[t] != nil
}

// start ends d's tokens, lifts a soft logout and gives d a new pair whose
// access token lives for ttl. s.mu must be held.
func (s *Store) start(d *device, access, refresh string, ttl time.Duration, now time.Time) Session {
	s.endTokens(d)
	d.softLoggedOut = false
	d.cur = s.newPair(d, access, refresh, ttl, now)
	s.changed(Issued, d, d.cur)
	return d.cur.session(ttl)
}

// newPair issues access (living for ttl) and refresh (if not empty) on d.
// s.mu must be held.
func (s *Store) newPair(d *device, access, refresh string, ttl time.Duration, now time.Time) *pair {
	p := &pair{dev: d, access: access, accessExpiry: expiryAfter(now, ttl)}
	s.access[access] = p
	if refresh != "" {
		p.refresh, p.refreshExpiry = refresh, expiryAfter(now, s.refreshTTL)
		s.refresh[refresh] = p
	}
	return p
}

func (p *pair) session(ttl time.Duration) Session {
	return Session{
		UserID: p.dev.user.id, DeviceID: p.dev.ID, IsGuest: p.dev.user.guest,
		AccessToken: p.access, RefreshToken: p.refresh, ExpiresIn: max(ttl, 0),
	}
}

// drop ends both tokens of p (nil: none). s.mu must be held.
func (s *Store) drop(p *pair) {
	if p != nil {
		s.dropAccess(p)
		s.dropRefresh(p)
	}
}

// dropAccess ends p's access token. s.mu must be held.
func (s *Store) dropAccess(p *pair) {
	delete(s.access, p.access)
	p.access = ""
}

// dropRefresh ends p's refresh token. s.mu must be held.
func (s *Store) dropRefresh(p *pair) {
	delete(s.refresh, p.refresh)
	p.refresh = ""
}

// endTokens ends every token of d, and forgets its spent refresh tokens.
// s.mu must be held.
func (s *Store) endTokens(d *device) {
	s.drop(d.cur)
	s.drop(d.prev)
	d.cur, d.prev = nil, nil
	for _, t := range d.spent {
		delete(s.spent, t)
	}
	d.spent = nil
}

// maxSpent is how many rotated refresh tokens a device remembers, to
// recognize their replay (RefreshReplay).
const maxSpent = 16

// spend drops d.prev, whose refresh token was rotated out, and remembers
// that token. s.mu must be held.
func (s *Store) spend(d *device) {
	if d.prev == nil {
		return
	}
	if t := d.prev.refresh; t != "" {
		if len(d.spent) == maxSpent {
			delete(s.spent, d.spent[0])
			d.spent = d.spent[1:]
		}
		d.spent = append(d.spent, t)
		s.spent[t] = d
	}
	s.drop(d.prev)
}

// RefreshReplay reports whether refreshToken is a replay: a refresh token
// of a live session that was used to refresh already. successorUnused
// reports that the pair its last use gave has not been used yet (neither
// its access token nor its refresh token), which a tolerant server lets
// the replay replace. who is the session's owner.
func (s *Store) RefreshReplay(refreshToken string) (who Principal, replayed, successorUnused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.refresh[refreshToken]; p != nil && p == p.dev.prev {
		return p.dev.principal(), true, !p.dev.cur.accessUsed
	}
	if d := s.spent[refreshToken]; d != nil {
		return d.principal(), true, false
	}
	return Principal{}, false, false
}

// Authenticate returns who accessToken belongs to and records the request's
// time and ip as the device's last seen. The first use of a pair's access
// token revokes the refresh token that produced the pair. Errors are
// *TokenError: SoftLogout for an expired token (CauseExpired; unless
// Config.HardExpiryLegacy or HardExpiryOAuth says otherwise for its kind of
// session) or a soft-logged-out device (CauseSoftLogout); not for an
// unknown, logged out or superseded token, or a deleted device
// (CauseUnknown).
func (s *Store) Authenticate(accessToken, ip string) (Principal, error) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.access[accessToken]
	switch {
	case p == nil:
		return Principal{}, accessError(CauseUnknown)
	case p.dev.softLoggedOut:
		return Principal{}, accessError(CauseSoftLogout)
	case expired(p.accessExpiry, now):
		e := accessError(CauseExpired)
		if p.dev.viaOAuth && s.cfg.HardExpiryOAuth || !p.dev.viaOAuth && s.cfg.HardExpiryLegacy {
			e.SoftLogout = false
		}
		return Principal{}, e
	}
	p.accessUsed = true // see Refresh: this revokes the predecessor's refresh token
	d := p.dev
	d.LastSeenTS, d.LastSeenIP = now, ip
	return d.principal(), nil
}

// Owner returns who accessToken belongs to, whether or not it has expired
// and whether or not its device is soft-logged-out: logout accepts such
// tokens, as Synapse does. A *TokenError (CauseUnknown) for a token that is
// not issued, or no longer.
func (s *Store) Owner(accessToken string) (Principal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.access[accessToken]
	if p == nil {
		return Principal{}, accessError(CauseUnknown)
	}
	return p.dev.principal(), nil
}

// Refresh exchanges refreshToken for a new pair on the same device (the
// access token lives for AccessTokenLifetime).
//
// The old refresh token stays valid until the new pair is used (its access
// token authenticates, or its refresh token is refreshed); then it is revoked
// (CauseRevoked, later CauseUnknown). Using it again before that is allowed:
// the pair it produced before is deleted and replaced, so only the pair from
// the latest such refresh works. The old access token stays valid until it
// expires, unless Config.RevokeOldAccessOnRefresh.
//
// Errors are *TokenError with CauseUnknown, CauseExpired or CauseRevoked and
// SoftLogout as Config.SoftLogoutOnFailedRefresh says, or CauseSoftLogout
// (always SoftLogout) on a soft-logged-out device.
func (s *Store) Refresh(refreshToken string) (Session, error) {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.refresh[refreshToken]
	if p == nil {
		return Session{}, s.refreshError(CauseUnknown)
	}
	d := p.dev
	switch {
	case d.softLoggedOut:
		return Session{}, s.refreshError(CauseSoftLogout)
	case expired(p.refreshExpiry, now):
		return Session{}, s.refreshError(CauseExpired)
	case p == d.prev && d.cur.accessUsed:
		return Session{}, s.refreshError(CauseRevoked)
	}
	if p == d.cur {
		s.spend(d) // its successor (p) is being used
		d.prev = p
	} else {
		s.drop(d.cur) // p is d.prev and its successor was never used: replace it
	}
	if s.cfg.RevokeOldAccessOnRefresh {
		s.dropAccess(p)
	}
	d.cur = s.newPair(d, s.newToken(accessPrefix), s.newToken(refreshPrefix), s.accessTTL, now)
	s.changed(Refreshed, d, d.cur)
	return d.cur.session(s.accessTTL), nil
}

// Logout ends the device that accessToken belongs to, with all its tokens.
// Like Synapse it accepts an expired token, and a soft-logged-out device's.
// It returns who was logged out; a *TokenError (CauseUnknown) for an unknown
// token.
func (s *Store) Logout(accessToken string) (Principal, error) {
	s.mu.Lock()
	defer s.unlockRemoved()
	p := s.access[accessToken]
	if p == nil {
		return Principal{}, accessError(CauseUnknown)
	}
	who := p.dev.principal()
	s.deleteDevice(p.dev, LoggedOut)
	return who, nil
}

// LogoutAll ends every device of the user, with all their tokens.
// ErrNotFound if the user is unknown.
func (s *Store) LogoutAll(userID string) error {
	return s.endUser(userID, func(*user) {})
}

// endUser deletes every device of the user, then applies also to the user,
// under one lock. ErrNotFound if the user is unknown.
func (s *Store) endUser(userID string, also func(*user)) error {
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.unlockRemoved()
	u := s.users[id]
	if u == nil {
		return ErrNotFound
	}
	for _, d := range u.devices {
		s.deleteDevice(d, Deleted)
	}
	also(u)
	return nil
}

// Sessions describes the current token pair of each of the user's devices,
// sorted by device ID.
func (s *Store) Sessions(userID string) []SessionInfo {
	now := s.clk.Now()
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return nil
	}
	out := make([]SessionInfo, 0, len(u.devices))
	for _, d := range u.devices {
		p := d.cur
		out = append(out, SessionInfo{
			DeviceID:        d.ID,
			AccessExpires:   p.accessExpiry,
			AccessExpired:   expired(p.accessExpiry, now),
			HasRefreshToken: p.refresh != "" && !expired(p.refreshExpiry, now),
			SoftLoggedOut:   d.softLoggedOut,
		})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return out
}

// AccessTokenLifetime returns the lifetime of refreshable access tokens; 0
// means they never expire.
func (s *Store) AccessTokenLifetime() time.Duration { return s.accessTTL }

// RevokeToken ends the session of an access or refresh token, as RFC 7009
// revocation does for OAuth 2.0 tokens: the device goes with all its
// tokens. It reports whether the token was live.
func (s *Store) RevokeToken(token string) bool {
	s.mu.Lock()
	defer s.unlockRemoved()
	p := s.access[token]
	if p == nil {
		p = s.refresh[token]
	}
	if p == nil {
		return false
	}
	s.deleteDevice(p.dev, Revoked)
	return true
}

// RefreshOwner returns whose device a refresh token belongs to, whether or
// not it still works; false when it was never issued or is gone.
func (s *Store) RefreshOwner(refreshToken string) (Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.refresh[refreshToken]
	if p == nil {
		return Principal{}, false
	}
	return p.dev.principal(), true
}
