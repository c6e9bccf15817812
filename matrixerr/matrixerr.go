// Package matrixerr is the error type of mxauth's generated clients and of
// its session runtime: one value for every answer that is not a success,
// whether the server speaks Matrix ({"errcode", "error"}), OAuth 2.0
// (RFC 6749 §5.2: {"error", "error_description"}) or neither (an HTML page
// from a proxy).
//
// Match a code with errors.Is and read the details with errors.As:
//
//	_, err := api.GetTokenOwner(ctx)
//	if errors.Is(err, matrixerr.ErrUnknownToken) {
//		var e *matrixerr.Error
//		errors.As(err, &e)
//		if e.SoftLogout { /* refresh, or log in again on the same device */ }
//	}
package matrixerr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Error is an answer that is not a success.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Errcode is the Matrix error code ("M_UNKNOWN_TOKEN") or, for an
	// OAuth 2.0 error, its "error" code ("invalid_grant"); empty when the
	// body carries neither.
	Errcode string
	// Message is the human-readable text: Matrix's "error" field or
	// OAuth 2.0's "error_description".
	Message string
	// ErrorURI is OAuth 2.0's "error_uri": a page about the error, if any.
	ErrorURI string
	// SoftLogout is the "soft_logout" field of M_UNKNOWN_TOKEN: true when
	// the device still exists and the client may refresh or log in again on
	// it.
	SoftLogout bool
	// RetryAfter is how long the server asks the client to wait
	// ("retry_after_ms", else the Retry-After header); 0 when it does not say.
	RetryAfter time.Duration
	// UIA is the user-interactive authentication state of a 401 that asks
	// for (more) authentication; nil otherwise.
	UIA *UIA
	// Body is the raw body of the answer (at most MaxBody bytes).
	Body []byte
}

// UIA is the body of a 401 answer that starts or continues user-interactive
// authentication.
type UIA struct {
	// Flows are the lists of stages that each complete the authentication.
	Flows []Flow `json:"flows"`
	// Session identifies the authentication in progress; send it back in
	// the next request's auth object.
	Session string `json:"session,omitempty"`
	// Completed are the stages done so far.
	Completed []string `json:"completed,omitempty"`
	// Params holds each stage's parameters, by stage type, as JSON.
	Params map[string]json.RawMessage `json:"params,omitempty"`
}

// Flow is one way through user-interactive authentication.
type Flow struct {
	// Stages are the stage types to complete, in order ("m.login.password").
	Stages []string `json:"stages"`
}

// MaxBody bounds how much of an error answer is read.
const MaxBody = 64 << 10

// Code is an error code used as a sentinel: an *Error matches, under
// errors.Is, the Code equal to its Errcode.
type Code string

// Error returns the code itself.
func (c Code) Error() string { return string(c) }

// Matrix error codes (the spec's "Common error codes" and those of the
// authentication API).
const (
	ErrForbidden              Code = "M_FORBIDDEN"
	ErrUnknownToken           Code = "M_UNKNOWN_TOKEN"
	ErrMissingToken           Code = "M_MISSING_TOKEN"
	ErrUserLocked             Code = "M_USER_LOCKED"
	ErrUserSuspended          Code = "M_USER_SUSPENDED"
	ErrBadJSON                Code = "M_BAD_JSON"
	ErrNotJSON                Code = "M_NOT_JSON"
	ErrNotFound               Code = "M_NOT_FOUND"
	ErrLimitExceeded          Code = "M_LIMIT_EXCEEDED"
	ErrUnrecognized           Code = "M_UNRECOGNIZED"
	ErrUnknown                Code = "M_UNKNOWN"
	ErrMissingParam           Code = "M_MISSING_PARAM"
	ErrInvalidParam           Code = "M_INVALID_PARAM"
	ErrTooLarge               Code = "M_TOO_LARGE"
	ErrUserInUse              Code = "M_USER_IN_USE"
	ErrInvalidUsername        Code = "M_INVALID_USERNAME"
	ErrExclusive              Code = "M_EXCLUSIVE"
	ErrUserDeactivated        Code = "M_USER_DEACTIVATED"
	ErrGuestAccessForbidden   Code = "M_GUEST_ACCESS_FORBIDDEN"
	ErrThreepidInUse          Code = "M_THREEPID_IN_USE"
	ErrThreepidNotFound       Code = "M_THREEPID_NOT_FOUND"
	ErrThreepidAuthFailed     Code = "M_THREEPID_AUTH_FAILED"
	ErrThreepidDenied         Code = "M_THREEPID_DENIED"
	ErrUnsupportedRoomVersion Code = "M_UNSUPPORTED_ROOM_VERSION"
	ErrWeakPassword           Code = "M_WEAK_PASSWORD"
	ErrConsentNotGiven        Code = "M_CONSENT_NOT_GIVEN"
	ErrResourceLimitExceeded  Code = "M_RESOURCE_LIMIT_EXCEEDED"
)

// OAuth 2.0 error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2,
// RFC 7009 §2.2.1, RFC 8628 §3.5).
const (
	ErrInvalidRequest          Code = "invalid_request"
	ErrInvalidClient           Code = "invalid_client"
	ErrInvalidGrant            Code = "invalid_grant"
	ErrUnauthorizedClient      Code = "unauthorized_client"
	ErrUnsupportedGrantType    Code = "unsupported_grant_type"
	ErrInvalidScope            Code = "invalid_scope"
	ErrAccessDenied            Code = "access_denied"
	ErrUnsupportedResponseType Code = "unsupported_response_type"
	ErrServerError             Code = "server_error"
	ErrTemporarilyUnavailable  Code = "temporarily_unavailable"
	ErrUnsupportedTokenType    Code = "unsupported_token_type"
	ErrInvalidRedirectURI      Code = "invalid_redirect_uri"
	ErrInvalidClientMetadata   Code = "invalid_client_metadata"
	ErrAuthorizationPending    Code = "authorization_pending"
	ErrSlowDown                Code = "slow_down"
	ErrExpiredToken            Code = "expired_token"
)

// Error returns the code, the status and the message, such as
// "M_UNKNOWN_TOKEN (HTTP 401): Token expired".
func (e *Error) Error() string {
	code := e.Errcode
	switch {
	case code == "" && e.UIA != nil:
		code = "user-interactive authentication"
	case code == "":
		code = "HTTP error"
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", code, e.StatusCode, msg)
}

// Is reports whether target is the Code equal to e.Errcode.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && e.Errcode != "" && string(c) == e.Errcode
}

// FromResponse returns the Error that resp carries, whatever its status:
// the caller decides what counts as a failure. It reads at most MaxBody
// bytes of the body and puts an identical body back, so that resp can still
// be read (by a RoundTripper's caller, say); it does not close it.
func FromResponse(resp *http.Response) *Error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), rest), rest}
	e := New(resp.StatusCode, resp.Header, body, time.Now())
	if err != nil && e.Message == "" {
		e.Message = "reading the answer: " + err.Error()
	}
	return e
}

// New returns the Error for an answer with this status, header and body;
// now is the time a Retry-After date is measured from.
func New(status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{StatusCode: status, Body: body}
	var fields struct {
		Errcode          string          `json:"errcode"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorURI         string          `json:"error_uri"`
		SoftLogout       bool            `json:"soft_logout"`
		RetryAfterMs     int64           `json:"retry_after_ms"`
		UIA
	}
	if json.Unmarshal(body, &fields) == nil {
		var text string
		_ = json.Unmarshal(fields.Error, &text)
		if fields.Errcode != "" {
			e.Errcode, e.Message = fields.Errcode, text
		} else if isOAuthCode(text) {
			e.Errcode, e.Message, e.ErrorURI = text, fields.ErrorDescription, fields.ErrorURI
		} else {
			e.Message = text
		}
		e.SoftLogout = fields.SoftLogout
		if fields.RetryAfterMs > 0 {
			e.RetryAfter = time.Duration(fields.RetryAfterMs) * time.Millisecond
		}
		if status == http.StatusUnauthorized && fields.Flows != nil {
			uia := fields.UIA
			e.UIA = &uia
		}
	}
	if e.RetryAfter == 0 {
		e.RetryAfter = retryAfterHeader(header, now)
	}
	return e
}

// isOAuthCode reports whether s reads as an OAuth 2.0 error code: lower
// case letters and underscores (RFC 6749 allows more, but no registered code
// uses it), which tells it from a sentence in the "error" field.
func isOAuthCode(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return s != ""
}

// retryAfterHeader reads a Retry-After header: seconds, or an HTTP date
// after now.
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
