package state

import "errors"

// Errors returned by the Store. Token failures are *TokenError values, which
// match ErrUnknownToken under errors.Is.
var (
	// ErrUnknownToken: an access or refresh token that does not work (M_UNKNOWN_TOKEN).
	ErrUnknownToken = errors.New("unknown token")
	// ErrForbidden: wrong password, unknown user, or a bad login token (M_FORBIDDEN).
	ErrForbidden = errors.New("invalid username or password")
	// ErrUserInUse: the user ID is taken (M_USER_IN_USE).
	ErrUserInUse = errors.New("user ID already taken")
	// ErrInvalidUsername: the localpart breaks the Matrix grammar, belongs to
	// another server, or is all digits (reserved for guests) (M_INVALID_USERNAME).
	ErrInvalidUsername = errors.New("invalid username")
	// ErrGuestAccessForbidden: guest registration is off (M_GUEST_ACCESS_FORBIDDEN).
	ErrGuestAccessForbidden = errors.New("guest access is disabled")
	// ErrNotFound: no such user or device (M_NOT_FOUND).
	ErrNotFound = errors.New("not found")
	// ErrUnknownUIASession: the user-interactive auth session is unknown or expired.
	ErrUnknownUIASession = errors.New("unknown or expired UIA session")
	// ErrTokenInUse: AddSession was given a token that is already issued.
	ErrTokenInUse = errors.New("token already in use")
	// ErrUserDeactivated: the account is deactivated; it can no longer log
	// in or change (M_USER_DEACTIVATED).
	ErrUserDeactivated = errors.New("this account has been deactivated")
	// ErrThreePIDInUse: another account has the e-mail address or phone
	// number (M_THREEPID_IN_USE).
	ErrThreePIDInUse = errors.New("third-party identifier already in use")
	// ErrThreePIDAuthFailed: no validation session with this ID and client
	// secret (M_THREEPID_AUTH_FAILED).
	ErrThreePIDAuthFailed = errors.New("no validated third-party identifier session with this ID and secret")
	// ErrUIARequestChanged: a user-interactive auth session was presented
	// with another request than the one it was started for (M_FORBIDDEN).
	ErrUIARequestChanged = errors.New("requested operation has changed during the UI authentication session")
)

// Cause says why a token did not work, for callers that answer differently
// per cause (Synapse, for instance, answers 403 M_FORBIDDEN for an expired or
// revoked refresh token, where the spec says 401 M_UNKNOWN_TOKEN).
type Cause uint8

// Causes of a TokenError.
const (
	// CauseUnknown: never issued, or ended by a logout, a device deletion, a
	// new login on the device, a refresh that superseded it, or
	// RevokeRefreshToken.
	CauseUnknown Cause = iota
	// CauseExpired: past its lifetime.
	CauseExpired
	// CauseRevoked: a refresh token whose successor pair has been used.
	CauseRevoked
	// CauseSoftLogout: the device is soft-logged-out.
	CauseSoftLogout
)

// TokenError is the error for an access or refresh token that does not work.
// It matches ErrUnknownToken under errors.Is.
type TokenError struct {
	// SoftLogout is the soft_logout flag of the M_UNKNOWN_TOKEN answer.
	SoftLogout bool
	// Reason is a human-readable message for the answer's "error" field.
	Reason string
	// Cause says why the token did not work.
	Cause Cause
}

// Error returns the reason.
func (e *TokenError) Error() string { return "unknown token: " + e.Reason }

// Is reports whether target is ErrUnknownToken.
func (e *TokenError) Is(target error) bool { return target == ErrUnknownToken }

// accessError returns the error for an access token that failed with cause c.
// Expiry and soft logout are soft: the client may refresh or log in again on
// the same device.
func accessError(c Cause) *TokenError {
	e := &TokenError{Cause: c, SoftLogout: c == CauseExpired || c == CauseSoftLogout}
	switch c {
	case CauseExpired:
		e.Reason = "Access token has expired"
	case CauseSoftLogout:
		e.Reason = "Soft logged out"
	default:
		e.Reason = "Invalid access token passed."
	}
	return e
}

// refreshError returns the error for a refresh token that failed with cause
// c. On a soft-logged-out device it is always soft; otherwise as configured.
func (s *Store) refreshError(c Cause) *TokenError {
	e := &TokenError{Cause: c, SoftLogout: c == CauseSoftLogout || s.cfg.SoftLogoutOnFailedRefresh}
	switch c {
	case CauseExpired:
		e.Reason = "The supplied refresh token has expired"
	case CauseRevoked:
		e.Reason = "refresh token isn't valid anymore"
	case CauseSoftLogout:
		e.Reason = "Soft logged out"
	default:
		e.Reason = "refresh token does not exist"
	}
	return e
}
