package mock

import (
	"log/slog"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// DefaultVersions are the spec versions /versions advertises unless
// WithVersions says otherwise: v1.1 to v1.18.
var DefaultVersions = []string{
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9",
	"v1.10", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18",
}

// MaxBodyBytes is the largest request body the server reads; a larger one
// is answered 413 M_TOO_LARGE.
const MaxBodyBytes = 1 << 20

// config is everything the options set.
type config struct {
	store           state.Config
	clock           *clock.Clock
	users           []fixtureUser
	versions        []string
	publicURL       string
	journalCapacity int
	logger          *slog.Logger
}

type fixtureUser struct{ localpart, password string }

// Option configures a Server.
type Option func(*config)

// WithServerName sets the server name, the part of user IDs after the colon
// (default "localhost").
func WithServerName(name string) Option {
	return func(c *config) { c.store.ServerName = name }
}

// WithAccessTokenLifetime sets how long access tokens that come with a
// refresh token live (default 5m; negative: they never expire).
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.store.AccessTokenLifetime = d }
}

// WithRefreshTokenLifetime sets how long each refresh token lives (default
// 24h; negative: never expires).
func WithRefreshTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.store.RefreshTokenLifetime = d }
}

// WithLoginTokenLifetime sets how long m.login.token tokens from
// POST /login/get_token live (default 2m).
func WithLoginTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.store.LoginTokenLifetime = d }
}

// WithExpiringTokensForAll makes access tokens of clients that did not ask
// for a refresh token expire too, after the access token lifetime. By
// default they never expire, as on Synapse.
func WithExpiringTokensForAll() Option {
	return func(c *config) { c.store.ExpireNonRefreshable = true }
}

// WithOldAccessTokenRevokedOnRefresh ends an access token as soon as its
// refresh token is used. By default it keeps working until it expires, as on
// Synapse.
func WithOldAccessTokenRevokedOnRefresh() Option {
	return func(c *config) { c.store.RevokeOldAccessOnRefresh = true }
}

// WithSoftLogoutOnFailedRefresh answers an unknown, revoked or expired
// refresh token with "soft_logout": true. By default it is false, as on
// Synapse.
func WithSoftLogoutOnFailedRefresh() Option {
	return func(c *config) { c.store.SoftLogoutOnFailedRefresh = true }
}

// WithGuestAccess lets POST /register?kind=guest create guest accounts; by
// default it is refused with M_GUEST_ACCESS_FORBIDDEN.
func WithGuestAccess() Option {
	return func(c *config) { c.store.GuestAccess = true }
}

// WithDeterministic makes tokens, device IDs and UIA session IDs come from a
// generator seeded with seed instead of crypto/rand, so that the same
// requests always get the same values (for golden tests). Never use it
// where the tokens protect anything.
func WithDeterministic(seed uint64) Option {
	return func(c *config) { c.store.Deterministic, c.store.Seed = true, seed }
}

// WithClock makes the server read time from clk; see clock.Virtual. The
// default is the system clock.
func WithClock(clk *clock.Clock) Option {
	return func(c *config) { c.clock = clk }
}

// WithVirtualClock makes the server's clock stand still at start until the
// test moves it with Server.Clock.Advance or Set.
func WithVirtualClock(start time.Time) Option {
	return WithClock(clock.Virtual(start))
}

// WithUser creates a user at start: localpart (or a full user ID on this
// server) with the given password. Repeatable.
func WithUser(localpart, password string) Option {
	return func(c *config) { c.users = append(c.users, fixtureUser{localpart, password}) }
}

// WithVersions sets the spec versions GET /_matrix/client/versions
// advertises (default DefaultVersions).
func WithVersions(versions ...string) Option {
	return func(c *config) { c.versions = versions }
}

// WithPublicURL sets the base URL the server gives clients in well_known
// answers. By default it is http:// and the Host the request was sent to.
func WithPublicURL(url string) Option {
	return func(c *config) { c.publicURL = url }
}

// WithJournalCapacity sets how many requests the journal keeps (default
// journal.DefaultCapacity); the oldest go first.
func WithJournalCapacity(n int) Option {
	return func(c *config) { c.journalCapacity = n }
}

// WithLogger logs every answered request to l, at Info level for success
// and Warn for errors (no tokens, passwords or query strings), and panics at
// Error level. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}
