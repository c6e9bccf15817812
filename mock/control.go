package mock

import (
	"time"

	"github.com/mxauth/mxauth/mock/internal/state"
)

// The Go API acts on the current state directly, as the control API does
// over HTTP. Each call first applies the scenario's time rules that are due
// at the clock's reading, as a request would.

// Session is what a login hands a client.
type Session struct {
	// UserID and DeviceID name the user and the device logged in on.
	UserID, DeviceID string
	// AccessToken authenticates the client's requests.
	AccessToken string
	// RefreshToken gets a new pair from POST /refresh; "" when the login
	// did not ask for one.
	RefreshToken string
	// ExpiresIn is the access token's lifetime from the login; 0 when it
	// never expires.
	ExpiresIn time.Duration
	// IsGuest is set for a guest account.
	IsGuest bool
}

// Device is one of a user's devices, as GET /devices shows it.
type Device struct {
	// ID is the device ID.
	ID string
	// DisplayName is the name the client or the user gave it; may be "".
	DisplayName string
	// LastSeenTS is when a request last authenticated with the device's
	// token; zero until one has.
	LastSeenTS time.Time
	// LastSeenIP is the address that request came from.
	LastSeenIP string
}

// SessionInfo describes the current tokens of one of a user's devices.
type SessionInfo struct {
	// DeviceID is the device's ID.
	DeviceID string
	// AccessExpires is when its access token expires; zero: never.
	AccessExpires time.Time
	// AccessExpired reports whether that time has come.
	AccessExpired bool
	// HasRefreshToken reports whether a refresh token is issued that is
	// neither expired nor revoked.
	HasRefreshToken bool
	// SoftLoggedOut reports whether the device is soft-logged-out: its
	// tokens fail with soft_logout true until it logs in again.
	SoftLoggedOut bool
}

// session converts the state's session into the Go API's.
func session(sess state.Session, err error) (Session, error) { return Session(sess), err }

// convertAll converts each of in.
func convertAll[T, U any](in []T, convert func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = convert(v)
	}
	return out
}

// AddUser creates a user with a password: localpart may also be a full user
// ID on this server. It returns the user ID. Errors: ErrUserInUse,
// ErrInvalidUsername.
func (s *Server) AddUser(localpart, password string) (string, error) {
	return s.store().AddUser(localpart, password)
}

// Users returns every user ID, sorted.
func (s *Server) Users() []string { return s.store().Users() }

// UserID returns the full user ID of a localpart on this server; a user ID
// is returned as it is.
func (s *Server) UserID(localpartOrID string) string { return s.store().UserID(localpartOrID) }

// Login logs the user in on deviceID (created if needed; empty: a new
// device), as POST /login would, and returns the session. withRefresh asks
// for an expiring access token and a refresh token. Logging in on an
// existing device ends its previous tokens. ErrNotFound for an unknown user.
func (s *Server) Login(user, deviceID string, withRefresh bool) (Session, error) {
	return session(s.store().Login(state.LoginRequest{UserID: user, DeviceID: deviceID, WithRefresh: withRefresh}))
}

// AddSession logs the user in on deviceID with fixed tokens, for
// deterministic tests: accessToken (empty: a generated one) expires after
// expiresIn (<= 0: never); refreshToken may be empty for none. Errors:
// ErrNotFound for an unknown user, ErrTokenInUse for a token already issued.
func (s *Server) AddSession(user, deviceID, accessToken, refreshToken string, expiresIn time.Duration) (Session, error) {
	return session(s.store().AddSession(user, deviceID, accessToken, refreshToken, expiresIn))
}

// Devices returns the user's devices, sorted by ID.
func (s *Server) Devices(user string) []Device {
	return convertAll(s.store().Devices(user), func(d state.Device) Device { return Device(d) })
}

// Sessions describes the current tokens of each of the user's devices.
func (s *Server) Sessions(user string) []SessionInfo {
	return convertAll(s.store().Sessions(user), func(si state.SessionInfo) SessionInfo { return SessionInfo(si) })
}

// ExpireAccessToken makes the device's access tokens expire now: the client
// gets 401 M_UNKNOWN_TOKEN with soft_logout true, and its refresh token
// still works. ErrNotFound for an unknown device.
func (s *Server) ExpireAccessToken(user, deviceID string) error {
	return s.store().ExpireAccessToken(user, deviceID)
}

// SoftLogout ends the device's tokens with soft_logout true and keeps the
// device: logging in again with its device ID restores it. ErrNotFound for
// an unknown device.
func (s *Server) SoftLogout(user, deviceID string) error { return s.store().SoftLogout(user, deviceID) }

// HardLogout deletes the device with its tokens, as a logout elsewhere
// would: the client gets 401 M_UNKNOWN_TOKEN with soft_logout false.
// ErrNotFound for an unknown device.
func (s *Server) HardLogout(user, deviceID string) error {
	return s.store().HardLogout(user, deviceID)
}

// RevokeRefreshToken ends the device's refresh tokens; its access token
// works until it expires. ErrNotFound for an unknown device.
func (s *Server) RevokeRefreshToken(user, deviceID string) error {
	return s.store().RevokeRefreshToken(user, deviceID)
}

// CrossSigningResetApproved reports whether the user (a user ID or a bare
// localpart) approved a reset of their cross-signing keys on the account
// management page (action org.matrix.cross_signing_reset) in the last ten
// minutes: the time a homeserver gives the client to upload new keys
// without user-interactive auth. It is false while the OAuth 2.0 API is
// off.
func (s *Server) CrossSigningResetApproved(user string) bool {
	w := s.current()
	return w.OAuth != nil && w.OAuth.CrossSigningResetApproved(user)
}

// Errors of the Go API, for errors.Is.
var (
	// ErrNotFound: no such user or device.
	ErrNotFound = state.ErrNotFound
	// ErrUserInUse: AddUser was given a user that exists.
	ErrUserInUse = state.ErrUserInUse
	// ErrInvalidUsername: AddUser was given a localpart the Matrix grammar
	// forbids, or a user ID of another server.
	ErrInvalidUsername = state.ErrInvalidUsername
	// ErrTokenInUse: AddSession was given a token that is already issued.
	ErrTokenInUse = state.ErrTokenInUse
)
