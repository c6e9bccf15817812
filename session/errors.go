package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Error is a Matrix error answer: the HTTP status and the fields of the
// standard error body. Compare it with the sentinels below through
// errors.Is, which matches on Errcode.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Errcode is the Matrix error code, such as "M_UNKNOWN_TOKEN".
	Errcode string
	// Message is the human-readable "error" field.
	Message string
	// SoftLogout is the "soft_logout" field of M_UNKNOWN_TOKEN: true when
	// the device still exists and the client may refresh or log in again on
	// it.
	SoftLogout bool
	// RetryAfter is how long the server asks the client to wait
	// ("retry_after_ms", or the Retry-After header); 0 when it does not say.
	RetryAfter time.Duration
}

// Sentinels for errors.Is: an *Error matches the one with its Errcode.
var (
	ErrUnknownToken    = &Error{Errcode: "M_UNKNOWN_TOKEN"}
	ErrMissingToken    = &Error{Errcode: "M_MISSING_TOKEN"}
	ErrForbidden       = &Error{Errcode: "M_FORBIDDEN"}
	ErrLimitExceeded   = &Error{Errcode: "M_LIMIT_EXCEEDED"}
	ErrNotFound        = &Error{Errcode: "M_NOT_FOUND"}
	ErrUserInUse       = &Error{Errcode: "M_USER_IN_USE"}
	ErrInvalidUsername = &Error{Errcode: "M_INVALID_USERNAME"}
	ErrBadJSON         = &Error{Errcode: "M_BAD_JSON"}
	ErrNotJSON         = &Error{Errcode: "M_NOT_JSON"}
	ErrMissingParam    = &Error{Errcode: "M_MISSING_PARAM"}
	ErrUnrecognized    = &Error{Errcode: "M_UNRECOGNIZED"}
	ErrUnknown         = &Error{Errcode: "M_UNKNOWN"}
)

// Error returns the errcode, the status and the message.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Errcode, e.StatusCode, e.Message)
}

// Is reports whether target is an *Error with the same Errcode.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Errcode == e.Errcode
}

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

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// ParseError returns the Matrix error that resp carries, or nil when resp
// is a success or its body is not a Matrix error. It reads the body and
// puts an identical one back, so resp can still be read.
func ParseError(resp *http.Response) *Error {
	if resp.StatusCode < 400 {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	if err != nil {
		return nil
	}
	return errorFromBody(resp.StatusCode, resp.Header, body)
}

// errorFromBody decodes a Matrix error body; nil when it is none.
func errorFromBody(status int, header http.Header, body []byte) *Error {
	var fields struct {
		Errcode      string `json:"errcode"`
		Message      string `json:"error"`
		SoftLogout   bool   `json:"soft_logout"`
		RetryAfterMs int64  `json:"retry_after_ms"`
	}
	if json.Unmarshal(body, &fields) != nil || fields.Errcode == "" {
		return nil
	}
	e := &Error{
		StatusCode: status, Errcode: fields.Errcode, Message: fields.Message,
		SoftLogout: fields.SoftLogout, RetryAfter: time.Duration(fields.RetryAfterMs) * time.Millisecond,
	}
	if e.RetryAfter == 0 {
		e.RetryAfter = retryAfterHeader(header, time.Now())
	}
	return e
}

// retryAfterHeader reads a Retry-After header: seconds, or an HTTP date.
func retryAfterHeader(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
