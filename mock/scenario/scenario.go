package scenario

import (
	"strings"
	"time"
)

// Never is the duration that stands for "never" in lifetimes and
// Device.ExpiresIn: any negative duration means the same.
const Never time.Duration = -1

// Values of Server.Auth.
const (
	// Legacy is Matrix's own login API: /login, /refresh, /logout.
	Legacy = "legacy"
	// OAuth is the OAuth 2.0 API of Matrix v1.15 (auth_metadata, /oauth2/...).
	OAuth = "oauth"
)

// Values of Server.UnknownEndpoint and Server.RefreshErrors.
const (
	// Spec means the behaviour the Matrix specification prescribes.
	Spec = "spec"
	// Synapse means the behaviour of Synapse where it differs from the spec.
	Synapse = "synapse"
)

// Values of OAuthSettings.MetadataNames and ActionNames.
const (
	// Stable names, as the spec has them since v1.18.
	Stable = "stable"
	// Unstable names: the org.matrix.msc4191. prefixed metadata fields.
	Unstable = "unstable"
	// Both names, stable and unstable, side by side.
	Both = "both"
	// MSC names: the account management actions as MSC4191 first named
	// them (org.matrix.sessions_list, session_view, session_end).
	MSC = "msc"
)

// Values of OAuthSettings.RefreshReplay.
const (
	// Strict revokes the session when a refresh token is used again
	// (RFC 9700 §4.14.2).
	Strict = "strict"
	// MAS is the Matrix Authentication Service's tolerance: a refresh token
	// used again works while the pair its first use gave is unused, which
	// is revoked and replaced; otherwise as Strict.
	MAS = "mas"
)

// Values of OAuthSettings.CodeReplay.
const (
	// Immediate revokes the session an authorization code gave as soon as
	// the code is presented again (RFC 6749 §4.1.2).
	Immediate = "immediate"
	// Grace revokes it only when the code comes back more than
	// CodeReplayGrace after its exchange, as the Matrix Authentication
	// Service does; earlier replays are only refused.
	Grace = "grace"
)

// CodeReplayGrace is the grace period of CodeReplay Grace.
const CodeReplayGrace = 20 * time.Second

// Scenario is a parsed scenario file with every default applied.
type Scenario struct {
	Description string
	Server      Server
	OAuth       OAuthSettings
	Clock       Clock
	Tokens      Tokens
	Limits      Limits
	Users       []User
	Rules       []Rule
}

// Limits bound the failed attempts at a password (POST /login, the UIA
// password stage, the sign-in, account and device pages) and at a device's
// user code, per user and per client address.
type Limits struct {
	// FailedAttempts is how many failures a user or an address may have in
	// Window before every attempt is refused until the window ends; a
	// negative value means no limit.
	FailedAttempts int
	// Window is how long failures count.
	Window time.Duration
}

// Server says what the mock homeserver is.
type Server struct {
	// Name is the server name, the part of user IDs after the colon.
	Name string
	// Versions are the spec versions GET /_matrix/client/versions advertises.
	Versions []string
	// Auth lists the login APIs offered: Legacy, OAuth or both.
	Auth []string
	// GuestAccess lets clients register guest accounts.
	GuestAccess bool
	// UnknownEndpoint is Spec (404 or 405 M_UNRECOGNIZED) or Synapse (400
	// M_UNRECOGNIZED).
	UnknownEndpoint string
	// RefreshErrors is Spec (401 M_UNKNOWN_TOKEN for an expired or revoked
	// refresh token) or Synapse (403 M_FORBIDDEN).
	RefreshErrors string
}

// OAuthSettings tune the OAuth 2.0 API, when Server.Auth has OAuth.
type OAuthSettings struct {
	// AutoApprove is a user (as written) that every authorization is
	// approved as, without a sign-in page; created if missing. Empty: the
	// user signs in on the page.
	AutoApprove string
	// MetadataNames is which names auth_metadata gives the account
	// management fields: Stable, Unstable or Both.
	MetadataNames string
	// ActionNames is which names it gives the account management actions:
	// Stable or MSC.
	ActionNames string
	// RefreshReplay is what a refresh token used again does at the token
	// endpoint: Strict (revoke the session) or MAS.
	RefreshReplay string
	// CodeReplay is when an authorization code presented again revokes
	// the session it gave: Immediate or Grace.
	CodeReplay string
}

// Clock says how time passes on the server.
type Clock struct {
	// Virtual is true when the clock moves only when told to.
	Virtual bool
	// Start is the virtual clock's first reading, in UTC; zero for the real
	// clock, whose start is the moment the server starts.
	Start time.Time
}

// Tokens sets the token lifecycle. Negative lifetimes mean never.
type Tokens struct {
	// AccessLifetime is how long refreshable access tokens live.
	AccessLifetime time.Duration
	// RefreshLifetime is how long each refresh token lives.
	RefreshLifetime time.Duration
	// LoginTokenLifetime is how long m.login.token tokens live.
	LoginTokenLifetime time.Duration
	// ExpireNonRefreshable makes access tokens without a refresh token
	// expire after AccessLifetime too.
	ExpireNonRefreshable bool
	// RevokeOldAccessOnRefresh ends an access token as soon as its refresh
	// token is used, instead of letting it live until it expires.
	RevokeOldAccessOnRefresh bool
	// SoftLogoutOnFailedRefresh answers a failed refresh with
	// "soft_logout": true.
	SoftLogoutOnFailedRefresh bool
	// SoftLogoutOnExpiry is the soft_logout flag of the answer to an expired
	// access token, for legacy and OAuth 2.0 sessions apart: true for both
	// by default, as Synapse says; Synapse behind the Matrix Authentication
	// Service says false for OAuth sessions.
	SoftLogoutOnExpiry SoftLogoutOnExpiry
	// Deterministic makes tokens and IDs come from a generator seeded with
	// Seed.
	Deterministic bool
	// Seed seeds the generator when Deterministic is true.
	Seed uint64
}

// SoftLogoutOnExpiry is the soft_logout flag of an expired access token's
// answer, per kind of session.
type SoftLogoutOnExpiry struct {
	Legacy, OAuth bool
}

// User is an account that exists when the server starts.
type User struct {
	// ID is the user as written: a localpart or a full user ID on this
	// server. Scenario.UserID gives the full ID.
	ID       string
	Password string
	Devices  []Device
}

// Device is a device of a User, logged in when the server starts.
type Device struct {
	ID          string
	DisplayName string
	// AccessToken is the device's fixed access token; empty: the mock
	// makes one up.
	AccessToken string
	// RefreshToken is the device's fixed refresh token; empty: none.
	RefreshToken string
	// ExpiresIn is how long after the clock's start the access token
	// expires: 0 means the default (never, or Tokens.AccessLifetime when
	// RefreshToken is set) and a negative value means never.
	ExpiresIn time.Duration
}

// UserID returns the full user ID of a user as a scenario writes it: a
// localpart gets the server name added, a full ID is returned unchanged.
// Pass it to NewEngine.
func (s *Scenario) UserID(user string) string {
	if strings.HasPrefix(user, "@") {
		return user
	}
	return "@" + user + ":" + s.Server.Name
}
