package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/mxauth/mxauth/mock/internal/rooms"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Error is a Matrix error answer: an HTTP status and the standard JSON
// body. Handlers return it as their error; the router sends it.
type Error struct {
	Status       int    `json:"-"`
	Errcode      string `json:"errcode"`
	Message      string `json:"error"`
	SoftLogout   *bool  `json:"soft_logout,omitempty"`
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"` // of M_LIMIT_EXCEEDED
}

func (e *Error) Error() string { return e.Errcode + ": " + e.Message }

// Errorf returns a Matrix error with the given status and errcode.
func Errorf(status int, errcode, message string) *Error {
	return &Error{Status: status, Errcode: errcode, Message: message}
}

// Common answers.
var (
	ErrMissingToken = Errorf(http.StatusUnauthorized, "M_MISSING_TOKEN", "Missing access token")
	errForbidden    = Errorf(http.StatusForbidden, "M_FORBIDDEN", "Invalid username or password")
	errNotJSON      = Errorf(http.StatusBadRequest, "M_NOT_JSON", "Content not JSON.")
	errNotObject    = Errorf(http.StatusBadRequest, "M_BAD_JSON", "Content must be a JSON object.")
	ErrTooLarge     = Errorf(http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "Request body is larger than 1 MiB")
	errNotFound     = Errorf(http.StatusNotFound, "M_NOT_FOUND", "Not found")
	errUnrecognized = Errorf(http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
	errBadMethod    = Errorf(http.StatusMethodNotAllowed, "M_UNRECOGNIZED", "Method not allowed on this endpoint")
	errInternal     = Errorf(http.StatusInternalServerError, "M_UNKNOWN", "Internal server error")
)

// MissingParam answers a request that lacks a required field.
func MissingParam(name string) *Error {
	return Errorf(http.StatusBadRequest, "M_MISSING_PARAM", "Missing parameter: "+name)
}

// tokenError answers a request whose access or refresh token does not work.
func tokenError(err *state.TokenError) *Error {
	soft := err.SoftLogout
	return &Error{Status: http.StatusUnauthorized, Errcode: "M_UNKNOWN_TOKEN", Message: err.Reason, SoftLogout: &soft}
}

// toMatrixError turns any error a handler or the store returned into the
// answer to send. Errors that no handler expected become 500 M_UNKNOWN.
func toMatrixError(err error) *Error {
	var me *Error
	var te *state.TokenError
	switch {
	case errors.As(err, &me):
		return me
	case errors.As(err, &te):
		return tokenError(te)
	case errors.Is(err, state.ErrForbidden):
		return errForbidden
	case errors.Is(err, state.ErrNotFound):
		return errNotFound
	case errors.Is(err, state.ErrUserInUse):
		return Errorf(http.StatusBadRequest, "M_USER_IN_USE", "User ID already taken.")
	case errors.Is(err, state.ErrInvalidUsername):
		return Errorf(http.StatusBadRequest, "M_INVALID_USERNAME", "User ID may only contain a-z, 0-9, and .=_-/+, must not be all digits, and must belong to this server")
	case errors.Is(err, state.ErrGuestAccessForbidden):
		return Errorf(http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled")
	case errors.Is(err, state.ErrUnknownUIASession):
		return Errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown or expired user-interactive auth session")
	}
	if e := RoomsError(err); e != nil {
		return e
	}
	return errInternal
}

// storeError is the Matrix error a store's error value stands for, as the
// store's documentation names it.
type storeError struct {
	err     error
	status  int
	errcode string
}

// roomsErrors are the rooms store's errors.
var roomsErrors = []storeError{
	{rooms.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{rooms.ErrUnknownUser, http.StatusNotFound, "M_NOT_FOUND"},
	{rooms.ErrForbidden, http.StatusForbidden, "M_FORBIDDEN"},
	{rooms.ErrRoomInUse, http.StatusBadRequest, "M_ROOM_IN_USE"},
	{rooms.ErrInvalidParam, http.StatusBadRequest, "M_INVALID_PARAM"},
	{rooms.ErrBadJSON, http.StatusBadRequest, "M_BAD_JSON"},
	{rooms.ErrStillJoined, http.StatusBadRequest, "M_UNKNOWN"},
	{rooms.ErrServerControlled, http.StatusMethodNotAllowed, "M_BAD_JSON"},
}

// matchStore answers err with the first entry of table it matches, its
// message kept; nil when none does.
func matchStore(err error, table []storeError) *Error {
	for _, e := range table {
		if errors.Is(err, e.err) {
			return Errorf(e.status, e.errcode, err.Error())
		}
	}
	return nil
}

// RoomsError is the Matrix answer to an error of the rooms package, nil
// for any other error. The message is the store's, which names the detail.
func RoomsError(err error) *Error { return matchStore(err, roomsErrors) }

// fromStore answers err with the first entry of table it matches, else as
// toMatrixError does.
func fromStore(err error, table []storeError) *Error {
	if e := matchStore(err, table); e != nil {
		return e
	}
	return toMatrixError(err)
}

// decodeError turns a failure to decode a request body or parameter into
// the answer to send: syntax problems are M_NOT_JSON (the body check has
// usually caught them already), values of the wrong type M_BAD_JSON.
func decodeError(err error) *Error {
	var syntax *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syntax) {
		return errNotJSON
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return Errorf(http.StatusBadRequest, "M_BAD_JSON", "Wrong type for field "+strconv.Quote(typeErr.Field)+": want "+typeErr.Type.String())
	}
	return Errorf(http.StatusBadRequest, "M_BAD_JSON", "Malformed JSON: "+err.Error())
}

// fail sends a Matrix error answer and notes its errcode for the journal.
func fail(w http.ResponseWriter, e *Error) {
	if x := writerExchange(w); x != nil {
		x.Errcode, x.SoftLogout = e.Errcode, e.SoftLogout != nil && *e.SoftLogout
	}
	WriteJSON(w, e.Status, e)
}

// WriteJSON sends v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
