// Package oauth is the mock homeserver's OAuth 2.0 authorization server
// (Matrix v1.15, MSC3861): client registration (RFC 7591), the
// authorization endpoint with its sign-in page (PKCE S256), the token
// endpoint (RFC 6749: authorization code, refresh token and device code
// grants), revocation (RFC 7009), the device authorization grant with its
// verification page (RFC 8628), and the account management page (MSC4191).
//
// It owns the registered clients, authorization codes, device grants, the
// record of which client each session was granted to, and the pages' own
// sessions; its HTML is in pages/, embedded. It touches the homeserver's
// users, devices and tokens only through the Store interface and reads
// time only from its Clock; it knows nothing of routing, the journal or
// scenarios. Tokens issued here are the homeserver's own tokens: they work
// on every Matrix endpoint and expire and rotate by the same rules.
package oauth

import (
	"errors"
	"sync"
	"time"

	"github.com/mxauth/mxauth/mock/internal/csrf"
	"github.com/mxauth/mxauth/mock/internal/limit"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Where the authorization server's endpoints and pages live, below the
// homeserver's base URL.
const (
	AuthorizePath           = "/oauth2/authorize"
	TokenPath               = "/oauth2/token"
	RegistrationPath        = "/oauth2/registration"
	RevocationPath          = "/oauth2/revoke"
	DeviceAuthorizationPath = "/oauth2/device_authorization"
	VerifyPath              = "/oauth2/device"
	AccountPath             = "/account/"
)

// Lifetimes of the authorization server's own grants.
const (
	authCodeLifetime   = 2 * time.Minute
	deviceCodeLifetime = 10 * time.Minute
	devicePollInterval = 5 * time.Second
)

// The grant types the server supports.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Store is what the authorization server needs of the homeserver's state:
// its users, their devices and the tokens of their sessions. *state.Store
// implements it.
type Store interface {
	AddUser(localpart, password string) (string, error)
	Register(localpart, password string, guest bool) (string, error)
	UserID(localpartOrID string) string
	CheckPassword(user, password string) error
	Deactivate(user string) error
	Devices(user string) []state.Device
	Device(user, deviceID string) (state.Device, error)
	DeleteDevice(user, deviceID string) error
	Login(state.LoginRequest) (state.Session, error)
	Refresh(refreshToken string) (state.Session, error)
	Owner(accessToken string) (state.Principal, error)
	RefreshOwner(refreshToken string) (state.Principal, bool)
	RefreshReplay(refreshToken string) (who state.Principal, replayed, successorUnused bool)
	RevokeToken(token string) bool
	// RandomString and RandomBytes are the source of every identifier the
	// server makes, so that a deterministic store makes them repeatable.
	RandomString(n int) string
	RandomBytes(b []byte)
}

// Clock is the time every expiry decision reads.
type Clock interface{ Now() time.Time }

// Settings are what a scenario or the options say about the OAuth 2.0 API.
type Settings struct {
	// AutoApprove is a user to approve every authorization as, without a
	// page; created if missing. Empty: the pages ask.
	AutoApprove string
	// FieldNames are the metadata's account management field names:
	// scenario.Stable, Unstable or Both.
	FieldNames string
	// ActionNames are the account management action names: scenario.Stable
	// or MSC.
	ActionNames string
	// CodeReplayGrace is how long after an authorization code's exchange a
	// replay of it is only refused: later, the session it gave is revoked
	// too. 0 (the default) revokes at once, as RFC 6749 §4.1.2 asks; the
	// Matrix Authentication Service waits 20 seconds.
	CodeReplayGrace time.Duration
	// RefreshReplayTolerant lets a client present a refresh token it used
	// already, as the Matrix Authentication Service does, while the pair
	// that use gave is unused: that pair is revoked and replaced. Any other
	// replay revokes the session. false (the default): every replay
	// revokes the session (RFC 9700 §4.14.2).
	RefreshReplayTolerant bool
	// Attempts counts the failed password and user code attempts made on
	// the pages, per user and per client address; the homeserver shares it
	// with its other password surfaces. nil: a counter of the server's own,
	// with limit's default rule.
	Attempts *limit.Limiter
}

// Server is an authorization server for one homeserver state. Its methods
// are safe for concurrent use.
type Server struct {
	settings Settings
	store    Store
	clock    Clock
	csrfKey  *csrf.Key // signs the pages' CSRF tokens
	attempts *limit.Limiter

	mu            sync.Mutex
	clients       map[string]*client
	codes         map[string]*authCode
	usedCodes     map[string]usedCode // to refuse a replayed code and revoke what it gave
	deviceCodes   map[string]*deviceGrant
	userCodes     map[string]string             // user code → device code
	confirmations map[string]deviceConfirmation // the verification page's, by their random ID
	grants        map[grantKey]grantRecord      // how each session was granted
	pageLogins    map[string]pageSession
	resets        map[string]time.Time // user ID → when they approved a cross-signing reset
}

// New returns an authorization server with no clients, working on st and
// reading time from clk.
func New(set Settings, st Store, clk Clock) *Server {
	s := &Server{
		csrfKey:       csrf.NewKey(),
		settings:      set,
		store:         st,
		clock:         clk,
		clients:       map[string]*client{},
		codes:         map[string]*authCode{},
		usedCodes:     map[string]usedCode{},
		deviceCodes:   map[string]*deviceGrant{},
		userCodes:     map[string]string{},
		confirmations: map[string]deviceConfirmation{},
		grants:        map[grantKey]grantRecord{},
		pageLogins:    map[string]pageSession{},
		resets:        map[string]time.Time{},
	}
	s.attempts = set.Attempts
	if s.attempts == nil {
		s.attempts = limit.New(limit.Rule{}, clk)
	}
	return s
}

// grantKey names an OAuth session: a user's device.
type grantKey struct{ User, Device string }

// grantRecord is how an OAuth session was granted: to which client, and
// from which authorization code ("" for a device grant or a restored one).
type grantRecord struct{ client, code string }

// grant records how the session on device was granted, so that only that
// client may refresh it and a replay of its code ends it.
func (s *Server) grant(user, device string, g grantRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[grantKey{user, device}] = g
}

// grantedTo returns the client a session was granted to; "" when none.
func (s *Server) grantedTo(user, device string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[grantKey{user, device}].client
}

// autoApproveUser returns the user every authorization is approved as,
// created with a random password if missing; "" without auto-approval.
func (s *Server) autoApproveUser() (string, error) {
	name := s.settings.AutoApprove
	if name == "" {
		return "", nil
	}
	if _, err := s.store.AddUser(name, s.store.RandomString(24)); err != nil && !errors.Is(err, state.ErrUserInUse) {
		return "", err
	}
	return s.store.UserID(name), nil
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nonEmpty returns nil for "", else a pointer to s.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
