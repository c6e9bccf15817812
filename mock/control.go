package mock

import (
	"time"

	"github.com/mxauth/mxauth/mock/internal/state"
)

// Session is what a login hands a client: its user, device and tokens.
type Session = state.Session

// Device is one of a user's devices.
type Device = state.Device

// SessionInfo describes a device's current tokens.
type SessionInfo = state.SessionInfo

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
	return s.store().Login(state.LoginRequest{UserID: user, DeviceID: deviceID, WithRefresh: withRefresh})
}

// AddSession logs the user in on deviceID with fixed tokens, for
// deterministic tests: accessToken (empty: a generated one) expires after
// expiresIn (<= 0: never); refreshToken may be empty for none. Errors:
// ErrNotFound for an unknown user, ErrTokenInUse for a token already issued.
func (s *Server) AddSession(user, deviceID, accessToken, refreshToken string, expiresIn time.Duration) (Session, error) {
	return s.store().AddSession(user, deviceID, accessToken, refreshToken, expiresIn)
}

// Devices returns the user's devices, sorted by ID.
func (s *Server) Devices(user string) []Device { return s.store().Devices(user) }

// Sessions describes the current tokens of each of the user's devices.
func (s *Server) Sessions(user string) []SessionInfo { return s.store().Sessions(user) }

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
func (s *Server) HardLogout(user, deviceID string) error { return s.store().HardLogout(user, deviceID) }

// RevokeRefreshToken ends the device's refresh tokens; its access token
// works until it expires. ErrNotFound for an unknown device.
func (s *Server) RevokeRefreshToken(user, deviceID string) error {
	return s.store().RevokeRefreshToken(user, deviceID)
}

// ChangePassword changes the user's password as if they had done it on
// another client. onDevice is the device the change is made on, which
// stays logged in; empty means a client that is none of the user's
// devices. With logoutDevices every other device is logged out, with its
// tokens: the client gets 401 M_UNKNOWN_TOKEN with soft_logout false.
// Errors: ErrNotFound for an unknown user, ErrUserDeactivated.
func (s *Server) ChangePassword(user, password, onDevice string, logoutDevices bool) error {
	return s.store().ChangePassword(user, password, onDevice, logoutDevices)
}

// Deactivate deactivates the user's account as if they had done it on
// another client: every device is logged out (401 M_UNKNOWN_TOKEN,
// soft_logout false), logins get 403 M_USER_DEACTIVATED, and the user ID
// stays taken. ErrNotFound for an unknown user.
func (s *Server) Deactivate(user string) error { return s.world.Load().deactivate(user) }
