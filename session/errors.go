package session

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mxauth/mxauth/matrixerr"
)

// Error is the one error type of mxauth's clients, matrixerr.Error: an
// answer that is not a success, from a Matrix endpoint (errcode, error,
// soft_logout, retry_after_ms, the UIA body) or from an OAuth 2.0 one
// (error, error_description, error_uri). The session returns it as the
// typed API does; match its code with errors.Is against the codes of
// package matrixerr (or their names below).
type Error = matrixerr.Error

// The codes the session's callers most often match, under the names they
// have in package matrixerr (they are the same values): errors.Is(err,
// session.ErrUnknownToken) and errors.Is(err, matrixerr.ErrUnknownToken)
// are one test.
const (
	ErrUnknownToken    = matrixerr.ErrUnknownToken
	ErrMissingToken    = matrixerr.ErrMissingToken
	ErrForbidden       = matrixerr.ErrForbidden
	ErrLimitExceeded   = matrixerr.ErrLimitExceeded
	ErrNotFound        = matrixerr.ErrNotFound
	ErrUserInUse       = matrixerr.ErrUserInUse
	ErrInvalidUsername = matrixerr.ErrInvalidUsername
	ErrBadJSON         = matrixerr.ErrBadJSON
	ErrNotJSON         = matrixerr.ErrNotJSON
	ErrMissingParam    = matrixerr.ErrMissingParam
	ErrUnrecognized    = matrixerr.ErrUnrecognized
	ErrUnknown         = matrixerr.ErrUnknown

	ErrInvalidRequest          = matrixerr.ErrInvalidRequest
	ErrInvalidClient           = matrixerr.ErrInvalidClient
	ErrInvalidGrant            = matrixerr.ErrInvalidGrant
	ErrUnauthorizedClient      = matrixerr.ErrUnauthorizedClient
	ErrUnsupportedGrantType    = matrixerr.ErrUnsupportedGrantType
	ErrInvalidScope            = matrixerr.ErrInvalidScope
	ErrAccessDenied            = matrixerr.ErrAccessDenied
	ErrUnsupportedResponseType = matrixerr.ErrUnsupportedResponseType
	ErrServerError             = matrixerr.ErrServerError
	ErrTemporarilyUnavailable  = matrixerr.ErrTemporarilyUnavailable
	ErrInvalidRedirectURI      = matrixerr.ErrInvalidRedirectURI
	ErrInvalidClientMetadata   = matrixerr.ErrInvalidClientMetadata
)

// ErrLoggedOut matches, under errors.Is, the *LoggedOutError of a session
// that has ended.
var ErrLoggedOut = errors.New("session: logged out")

// LoggedOutError says that the session has ended: the server refused its
// tokens and neither a refresh nor the re-login callback brought it back.
// Requests through the session fail with it from then on.
type LoggedOutError struct {
	// Soft is true when the server kept the device (soft logout): logging in
	// again with the same device ID would restore it.
	Soft bool
	// Cause is what ended the session: the server's *Error, or what the
	// re-login callback returned.
	Cause error
}

// Error says how the session ended.
func (e *LoggedOutError) Error() string {
	kind := "logged out"
	if e.Soft {
		kind = "soft-logged-out"
	}
	return "session: " + kind + ": " + e.Cause.Error()
}

// Unwrap returns the cause.
func (e *LoggedOutError) Unwrap() error { return e.Cause }

// Is reports whether target is ErrLoggedOut.
func (e *LoggedOutError) Is(target error) bool { return target == ErrLoggedOut }

// ParseError returns the error that resp carries, or nil when resp is a
// success or its body has no error code (neither a Matrix errcode nor an
// OAuth 2.0 error). It is for answers read through the raw client, which
// returns the *http.Response (the typed API returns the *Error itself);
// it reads the body and puts an identical one back, so resp can still be
// read.
func ParseError(resp *http.Response) *Error {
	if resp.StatusCode < 400 {
		return nil
	}
	if e := matrixerr.FromResponse(resp); e.Errcode != "" {
		return e
	}
	return nil
}

// callError is the error of a call the session made through a typed API:
// the server's *Error as it is, anything else (the network, an answer that
// would not decode) said to come from the session's what.
func callError(what string, err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return fmt.Errorf("session: %s: %w", what, err)
}
