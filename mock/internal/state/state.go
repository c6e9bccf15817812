// Package state holds the mock homeserver's authentication state: users,
// devices, access and refresh tokens, login tokens and user-interactive
// authentication sessions, with the token lifecycle of a real homeserver.
//
// # Token lifecycle
//
// Every device holds at most two token pairs: cur, the pair issued last, and
// prev, the pair whose refresh token produced cur while that refresh token
// may still be reused. This follows the Matrix spec (v1.18, POST /refresh)
// and Synapse's AuthHandler.refresh_token:
//
//   - Refresh with cur's refresh token: prev is deleted, cur becomes prev and
//     a new pair becomes cur.
//   - The old refresh token (prev's) stays valid until the new pair is used:
//     Authenticate with cur's access token revokes it (a Refresh with it then
//     fails with CauseRevoked), and refreshing cur's refresh token deletes it.
//   - Reusing prev's refresh token before the new pair is used is allowed and
//     replaces cur: the superseded pair is deleted (its access token and
//     refresh token become unknown) and a new pair takes its place. Of many
//     concurrent refreshes with the same token, only the last pair survives;
//     the chain never forks.
//   - The access token of a refreshed pair keeps working until it expires
//     (unless Config.RevokeOldAccessOnRefresh), and is deleted with its pair,
//     two refreshes later.
//
// Expiry is evaluated lazily against the clock when a token is presented;
// nothing runs in the background. Dead tokens go when their pair is replaced,
// so a device never holds more than four tokens. A Store is safe for
// concurrent use.
//
// The package owns this state and the random source of every identifier the
// mock makes (RandomString, RandomBytes); it knows nothing of HTTP, OAuth
// or scenarios, and reads only the clock.
package state

import (
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mxauth/mxauth/clock"
)

// Defaults for the zero values of Config's lifetimes.
const (
	DefaultServerName           = "localhost"
	DefaultAccessTokenLifetime  = 5 * time.Minute
	DefaultRefreshTokenLifetime = 24 * time.Hour
	DefaultLoginTokenLifetime   = 2 * time.Minute
)

// Config sets the server's name and token policy. The zero value is a
// Synapse-like server named "localhost". A zero lifetime means its default;
// a negative lifetime means never expires.
type Config struct {
	// ServerName is the server part of user IDs (default "localhost").
	ServerName string
	// AccessTokenLifetime is the lifetime of refreshable access tokens
	// (default 5m).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the lifetime of each refresh token (default
	// 24h; negative: never expires).
	RefreshTokenLifetime time.Duration
	// ExpireNonRefreshable makes access tokens from logins without a refresh
	// token expire after AccessTokenLifetime too. By default they never
	// expire.
	ExpireNonRefreshable bool
	// RevokeOldAccessOnRefresh ends a pair's access token as soon as its
	// refresh token is used. By default it stays valid until it expires, as
	// in Synapse.
	RevokeOldAccessOnRefresh bool
	// SoftLogoutOnFailedRefresh is the SoftLogout reported when an unknown,
	// revoked or expired refresh token is used. Synapse reports none (false,
	// the default); the spec's example for POST /refresh shows true.
	SoftLogoutOnFailedRefresh bool
	// HardExpiryLegacy answers an expired access token of a legacy session
	// with soft_logout: false. By default (false) it says true, as Synapse
	// does.
	HardExpiryLegacy bool
	// HardExpiryOAuth answers an expired access token of an OAuth 2.0
	// session with soft_logout: false, as Synapse behind the Matrix
	// Authentication Service does (its introspection only says "not
	// active"). By default (false) it says true.
	HardExpiryOAuth bool
	// LoginTokenLifetime is the lifetime of m.login.token tokens (default
	// 2m).
	LoginTokenLifetime time.Duration
	// Deterministic makes tokens, device IDs and session IDs come from a
	// ChaCha8 generator seeded with Seed instead of crypto/rand, so that a
	// sequence of calls always gives the same values.
	Deterministic bool
	// Seed seeds the generator in Deterministic mode.
	Seed uint64
	// GuestAccess lets Register create guest users.
	GuestAccess bool
	// OnChange, when set, hears of every change of a device's tokens, in
	// order. It is called with the store locked: it must not call the
	// store.
	OnChange func(Change)
	// OnDeviceRemoved, when set, hears of every device that goes: deleted,
	// logged out, revoked, or ended with its user. It is called after the
	// Store's lock is released, so it may call back into the Store; by
	// then the same device ID may have logged in again.
	OnDeviceRemoved func(userID, deviceID string)
}

// Store is the homeserver's authentication state. Create it with New.
type Store struct {
	cfg                             Config
	clk                             *clock.Clock
	accessTTL, refreshTTL, loginTTL time.Duration // resolved lifetimes; 0: never expires

	mu          sync.Mutex
	random      io.Reader
	users       map[string]*user   // by user ID
	access      map[string]*pair   // by access token
	refresh     map[string]*pair   // by refresh token
	spent       map[string]*device // rotated-out refresh tokens of live sessions (device.spent)
	loginTokens map[string]loginToken
	uia         map[string]*UIA
	lastGuest   int
	loginSweep  int         // sweep loginTokens when it reaches this size
	uiaSweep    int         // sweep uia when it reaches this size
	removed     []Principal // devices removed under the lock, for OnDeviceRemoved
}

// New returns an empty store with the given policy, reading time from clk.
func New(cfg Config, clk *clock.Clock) *Store {
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	s := &Store{
		cfg:         cfg,
		clk:         clk,
		accessTTL:   lifetime(cfg.AccessTokenLifetime, DefaultAccessTokenLifetime),
		refreshTTL:  lifetime(cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime),
		loginTTL:    lifetime(cfg.LoginTokenLifetime, DefaultLoginTokenLifetime),
		random:      cryptorand.Reader,
		users:       make(map[string]*user),
		access:      make(map[string]*pair),
		refresh:     make(map[string]*pair),
		spent:       make(map[string]*device),
		loginTokens: make(map[string]loginToken),
		uia:         make(map[string]*UIA),
	}
	if cfg.Deterministic {
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], cfg.Seed)
		s.random = rand.NewChaCha8(seed)
	}
	return s
}

// lifetime resolves a configured lifetime: 0 gives def, negative gives 0
// (never expires).
func lifetime(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// expiryAfter returns the expiry of something issued at now that lives for
// ttl; the zero time (never) when ttl <= 0.
func expiryAfter(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// expired reports whether expiry (zero: never) has come at now.
func expired(expiry, now time.Time) bool {
	return !expiry.IsZero() && !now.Before(expiry)
}

// Token prefixes, so that a token's kind can be read at a glance.
const (
	accessPrefix  = "mat_"
	refreshPrefix = "mrt_"
	loginPrefix   = "mlt_"
)

// randomToken returns prefix followed by 256 random bits in base64url.
// s.mu must be held.
func (s *Store) randomToken(prefix string) string { return s.appendRandom(prefix, 32) }

// appendRandom returns prefix followed by n random bytes in base64url: the
// one way the mock makes a token or an identifier. s.mu must be held.
func (s *Store) appendRandom(prefix string, n int) string {
	var raw [32]byte
	b := raw[:min(n, len(raw))]
	s.read(b)
	// A buffer of constant size stays on the stack: the string is the one
	// allocation.
	return string(base64.RawURLEncoding.AppendEncode(append(make([]byte, 0, 64), prefix...), b))
}

// RandomString returns n (at most 32) random bytes in base64url, from the
// store's generator: crypto/rand, or the seeded one when Deterministic.
// Identifiers made outside the store (OAuth client IDs, codes, cookies)
// come from here, so that Deterministic covers them too.
func (s *Store) RandomString(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendRandom("", n)
}

// RandomBytes fills b with random bytes from the store's generator, as
// RandomString does.
func (s *Store) RandomBytes(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read(b)
}

// newToken returns a random token that is neither an access nor a refresh
// token yet: fixed tokens from AddSession could otherwise collide with
// generated ones in deterministic mode. s.mu must be held.
func (s *Store) newToken(prefix string) string {
	for {
		if t := s.randomToken(prefix); !s.tokenInUse(t) {
			return t
		}
	}
}

// read fills b with random bytes. s.mu must be held.
func (s *Store) read(b []byte) {
	// Neither crypto/rand.Reader nor ChaCha8 ever fails or reads short.
	_, _ = s.random.Read(b)
}
