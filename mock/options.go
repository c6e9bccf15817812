package mock

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/limit"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/scenario"
)

// DefaultVersions returns the spec versions /versions advertises unless a
// scenario or WithVersions says otherwise, v1.1 to v1.18: a new slice on
// each call.
func DefaultVersions() []string { return scenario.DefaultVersions() }

// DefaultStart returns where a virtual clock starts unless told otherwise:
// 2026-01-01 00:00:00 UTC.
func DefaultStart() time.Time { return scenario.DefaultStart() }

// MaxBodyBytes, 1 MiB, is the largest request body the server reads; a larger one
// is answered 413 M_TOO_LARGE.
const MaxBodyBytes = api.MaxBodyBytes

// config is everything the options set.
type config struct {
	world           world.Settings
	clock           *clock.Clock // set by WithClock
	publicURL       string
	timeouts        Timeouts
	journalCapacity int
	logger          *slog.Logger
	controlToken    string
	stateFile       string
	serverID        string // set by WithServerID; "" picks one at random
	maxWorlds       int
	// worldIdleLifetime is how long a world besides the default may go
	// unused; <= 0: forever.
	worldIdleLifetime time.Duration
	err               error // from WithScenario
}

// defaultSettings is a server with no scenario: legacy auth, the real
// clock, no users.
func defaultSettings() world.Settings {
	return world.Settings{
		Versions: DefaultVersions(), Start: DefaultStart(),
		OAuthSettings: oauth.Settings{FieldNames: scenario.Stable, ActionNames: scenario.Stable},
	}
}

// fromScenario turns a parsed scenario into settings.
func fromScenario(sc *scenario.Scenario, source string) world.Settings {
	t := sc.Tokens
	return world.Settings{
		Store: state.Config{
			ServerName:                sc.Server.Name,
			AccessTokenLifetime:       t.AccessLifetime,
			RefreshTokenLifetime:      t.RefreshLifetime,
			LoginTokenLifetime:        t.LoginTokenLifetime,
			ExpireNonRefreshable:      t.ExpireNonRefreshable,
			RevokeOldAccessOnRefresh:  t.RevokeOldAccessOnRefresh,
			SoftLogoutOnFailedRefresh: t.SoftLogoutOnFailedRefresh,
			HardExpiryLegacy:          !t.SoftLogoutOnExpiry.Legacy,
			HardExpiryOAuth:           !t.SoftLogoutOnExpiry.OAuth,
			Deterministic:             t.Deterministic,
			Seed:                      t.Seed,
			GuestAccess:               sc.Server.GuestAccess,
		},
		Virtual:  sc.Clock.Virtual,
		Start:    cmp.Or(sc.Clock.Start, DefaultStart()),
		Versions: sc.Server.Versions,
		Users:    sc.Users,
		Rules:    sc.Rules,
		OAuth:    slices.Contains(sc.Server.Auth, scenario.OAuth),
		OAuthSettings: oauth.Settings{
			AutoApprove: sc.OAuth.AutoApprove, FieldNames: sc.OAuth.MetadataNames, ActionNames: sc.OAuth.ActionNames,
			RefreshReplayTolerant: sc.OAuth.RefreshReplay == scenario.MAS, CodeReplayGrace: codeReplayGrace(sc.OAuth.CodeReplay),
		},
		Limits:            limit.Rule{Failures: sc.Limits.FailedAttempts, Window: sc.Limits.Window},
		LegacyOff:         !slices.Contains(sc.Server.Auth, scenario.Legacy),
		NoPasswordChanges: !sc.Server.PasswordChanges,
		SynapseUnknown:    sc.Server.UnknownEndpoint == scenario.Synapse,
		SynapseRefresh:    sc.Server.RefreshErrors == scenario.Synapse,
		Description:       sc.Description,
		Source:            source,
	}
}

// codeReplayGrace is the grace period of a code_replay setting.
func codeReplayGrace(mode string) time.Duration {
	if mode == scenario.Grace {
		return scenario.CodeReplayGrace
	}
	return 0
}

// Option configures a Server. Options apply in order: one given after
// WithScenario overrides what the scenario says.
type Option func(*config)

// WithScenario sets the server up as the scenario file at path says:
// server name, versions, clock, token lifetimes, users and devices, and the
// rules that script expiry, logouts and faults. New fails, naming the
// file, line and column, when the file is not a valid scenario.
func WithScenario(path string) Option {
	return func(c *config) {
		sc, err := scenario.Load(path, api.Operations())
		if err != nil {
			c.err = err
			return
		}
		c.world = fromScenario(sc, path)
	}
}

// WithScenarioData is WithScenario for a scenario held in memory, such as
// one of package scenarios' files; name stands for it in error messages.
func WithScenarioData(name string, data []byte) Option {
	return func(c *config) {
		sc, err := scenario.Parse(name, data, api.Operations())
		if err != nil {
			c.err = err
			return
		}
		c.world = fromScenario(sc, name)
	}
}

// WithOAuth turns on the OAuth 2.0 API (Matrix v1.15): the server
// advertises itself as its own authorization server in auth_metadata and
// serves client registration, the authorization page, the token,
// revocation and device authorization endpoints, and the account
// management page. The legacy login API stays on unless
// WithoutLegacyAuth.
func WithOAuth() Option {
	return func(c *config) { c.world.OAuth = true }
}

// WithOAuthAutoApprove turns the OAuth 2.0 API on and approves every
// authorization as user (created if missing) without showing a page:
// following the authorization URL redirects straight back to the client
// with a code, and device authorizations are approved at once. For
// headless tests.
func WithOAuthAutoApprove(user string) Option {
	return func(c *config) { c.world.OAuth, c.world.OAuthSettings.AutoApprove = true, user }
}

// WithRefreshReplay sets what a refresh token used again does at the OAuth
// 2.0 token endpoint: scenario.Strict (the default) revokes the session, as
// RFC 9700 §4.14.2 asks; scenario.MAS lets the replay through while the
// pair its first use gave is unused, revoking and replacing that pair, as
// the Matrix Authentication Service does.
func WithRefreshReplay(mode string) Option {
	return func(c *config) {
		switch mode {
		case scenario.Strict, scenario.MAS:
			c.world.OAuthSettings.RefreshReplayTolerant = mode == scenario.MAS
		default:
			c.err = fmt.Errorf("mock: WithRefreshReplay(%q): want %q or %q", mode, scenario.Strict, scenario.MAS)
		}
	}
}

// WithCodeReplay sets when an authorization code presented again revokes
// the session it gave: scenario.Immediate (the default), or scenario.Grace,
// only once scenario.CodeReplayGrace has passed since its exchange, as the
// Matrix Authentication Service does.
func WithCodeReplay(mode string) Option {
	return func(c *config) {
		switch mode {
		case scenario.Immediate, scenario.Grace:
			c.world.OAuthSettings.CodeReplayGrace = codeReplayGrace(mode)
		default:
			c.err = fmt.Errorf("mock: WithCodeReplay(%q): want %q or %q", mode, scenario.Immediate, scenario.Grace)
		}
	}
}

// WithSoftLogoutOnExpiry sets the soft_logout flag of the answer to an
// expired access token, for legacy and OAuth 2.0 sessions apart. The
// default says true for both, as Synapse does; Synapse behind the Matrix
// Authentication Service says false for OAuth sessions.
func WithSoftLogoutOnExpiry(legacy, oauth bool) Option {
	return func(c *config) { c.world.Store.HardExpiryLegacy, c.world.Store.HardExpiryOAuth = !legacy, !oauth }
}

// WithLimits bounds the failed attempts at a password (POST /login, the UIA
// password stage, the OAuth sign-in, account and device pages) and at a
// device's user code: a user or a client address may fail failedAttempts
// times in window, then every attempt is refused until the window ends.
// A negative failedAttempts means no limit. The default, 30 a minute, is
// more than any honest test fails.
func WithLimits(failedAttempts int, window time.Duration) Option {
	return func(c *config) { c.world.Limits = limit.Rule{Failures: failedAttempts, Window: window} }
}

// Timeouts bound how long a connection may take to send a request and
// stay idle between requests, so that stalled or trickling clients do not
// hold the server's connections. A zero field means its default.
type Timeouts struct {
	// ReadHeader is how long a request's header may take to arrive.
	ReadHeader time.Duration
	// Read is how long a whole request, body included, may take to arrive.
	// Answers may take longer: a long-polling /sync is not cut.
	Read time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request.
	Idle time.Duration
}

// The timeouts of Serve (and so of Start and mockserver) unless
// WithTimeouts says otherwise.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

// WithTimeouts sets the timeouts of the server Serve runs; zero fields keep
// their defaults.
func WithTimeouts(t Timeouts) Option {
	return func(c *config) { c.timeouts = t }
}

// WithoutLegacyAuth turns the legacy login API off, as on a server that
// delegates authentication: GET and POST /login, /register and /refresh
// answer 404 M_UNRECOGNIZED, as the spec's discovery of the
// authentication API says.
func WithoutLegacyAuth() Option {
	return func(c *config) { c.world.LegacyOff = true }
}

// WithoutPasswordChanges turns password changes through the API off, as
// on a server whose passwords are managed elsewhere: the m.change_password
// capability is false and POST /account/password is refused with 403
// M_FORBIDDEN.
func WithoutPasswordChanges() Option {
	return func(c *config) { c.world.NoPasswordChanges = true }
}

// WithServerName sets the server name, the part of user IDs after the colon
// (default "localhost").
func WithServerName(name string) Option {
	return func(c *config) { c.world.Store.ServerName = name }
}

// WithAccessTokenLifetime sets how long access tokens that come with a
// refresh token live (default 5m; negative: they never expire).
func WithAccessTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.world.Store.AccessTokenLifetime = d }
}

// WithRefreshTokenLifetime sets how long each refresh token lives (default
// 24h; negative: never expires).
func WithRefreshTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.world.Store.RefreshTokenLifetime = d }
}

// WithLoginTokenLifetime sets how long m.login.token tokens from
// POST /login/get_token live (default 2m).
func WithLoginTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.world.Store.LoginTokenLifetime = d }
}

// WithExpiringTokensForAll makes access tokens of clients that did not ask
// for a refresh token expire too, after the access token lifetime. By
// default they never expire, as on Synapse.
func WithExpiringTokensForAll() Option {
	return func(c *config) { c.world.Store.ExpireNonRefreshable = true }
}

// WithOldAccessTokenRevokedOnRefresh ends an access token as soon as its
// refresh token is used. By default it keeps working until it expires, as on
// Synapse.
func WithOldAccessTokenRevokedOnRefresh() Option {
	return func(c *config) { c.world.Store.RevokeOldAccessOnRefresh = true }
}

// WithSoftLogoutOnFailedRefresh answers an unknown, revoked or expired
// refresh token with "soft_logout": true. By default it is false, as on
// Synapse.
func WithSoftLogoutOnFailedRefresh() Option {
	return func(c *config) { c.world.Store.SoftLogoutOnFailedRefresh = true }
}

// WithGuestAccess lets POST /register?kind=guest create guest accounts; by
// default it is refused with M_GUEST_ACCESS_FORBIDDEN.
func WithGuestAccess() Option {
	return func(c *config) { c.world.Store.GuestAccess = true }
}

// WithDeterministic makes tokens, device IDs and UIA session IDs come from a
// generator seeded with seed instead of crypto/rand, so that the same
// requests always get the same values (for golden tests). Never use it
// where the tokens protect anything.
func WithDeterministic(seed uint64) Option {
	return func(c *config) { c.world.Store.Deterministic, c.world.Store.Seed = true, seed }
}

// WithClock makes the server read time from clk, which the caller may keep
// and move. The default is a clock of the kind the scenario asks for: the
// system clock unless it says virtual.
func WithClock(clk *clock.Clock) Option {
	return func(c *config) {
		c.clock = clk
		c.world.Virtual = clk.IsVirtual()
		if c.world.Virtual {
			c.world.Start = clk.Now()
		}
	}
}

// WithVirtualClock makes the server's clock stand still at start until the
// test moves it with Server.Clock().Advance or Set.
func WithVirtualClock(start time.Time) Option {
	return func(c *config) { c.world.Virtual, c.world.Start = true, start }
}

// WithUser creates a user at start: localpart (or a full user ID on this
// server) with the given password. Repeatable.
func WithUser(localpart, password string) Option {
	return func(c *config) {
		c.world.Users = append(slices.Clip(c.world.Users), scenario.User{ID: localpart, Password: password})
	}
}

// WithVersions sets the spec versions GET /_matrix/client/versions
// advertises (default DefaultVersions()).
func WithVersions(versions ...string) Option {
	return func(c *config) { c.world.Versions = slices.Clone(versions) }
}

// WithPublicURL sets the base URL the server gives clients in well_known
// answers. By default it is the scheme and Host the request was sent to.
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

// WithControl turns on the control API under /_mock/ (see Server.Handler)
// for requests that carry "Authorization: Bearer token". It is off by
// default; an empty token leaves it off.
func WithControl(token string) Option {
	return func(c *config) { c.controlToken = token }
}

// WithServerID sets the server's ID, with which the ID of every world it
// makes begins (1 to 32 lowercase letters and digits): give each server
// behind a load balancer its own. By default it is 6 random characters.
func WithServerID(id string) Option {
	return func(c *config) { c.serverID = id }
}

// WithMaxWorlds sets how many worlds the server holds besides its default
// one (default DefaultMaxWorlds); making another fails with
// ErrTooManyWorlds, over HTTP 503 M_RESOURCE_LIMIT_EXCEEDED.
func WithMaxWorlds(n int) Option {
	return func(c *config) { c.maxWorlds = n }
}

// WithWorldIdleLifetime sets how long a world besides the default one may
// go unused, on the real clock, before it is dropped (default
// DefaultWorldIdleLifetime; <= 0: never), so that a test that crashed
// leaves none behind.
func WithWorldIdleLifetime(d time.Duration) Option {
	return func(c *config) { c.worldIdleLifetime = d }
}
