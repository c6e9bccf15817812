package mock

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/mxauth/mxauth/mock/internal/state"
)

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
	// ErrUserDeactivated: the user's account is deactivated (Deactivate).
	ErrUserDeactivated = state.ErrUserDeactivated
)

// matrixError is a Matrix error answer: an HTTP status and the standard JSON
// body. Handlers return it as their error; writeError sends it.
type matrixError struct {
	status     int
	Errcode    string `json:"errcode"`
	Message    string `json:"error"`
	SoftLogout *bool  `json:"soft_logout,omitempty"`
}

func (e *matrixError) Error() string { return e.Errcode + ": " + e.Message }

// errorf returns a Matrix error with the given status and errcode.
func errorf(status int, errcode, message string) *matrixError {
	return &matrixError{status: status, Errcode: errcode, Message: message}
}

// Common answers.
var (
	errMissingToken = errorf(http.StatusUnauthorized, "M_MISSING_TOKEN", "Missing access token")
	errForbidden    = errorf(http.StatusForbidden, "M_FORBIDDEN", "Invalid username or password")
	errNotJSON      = errorf(http.StatusBadRequest, "M_NOT_JSON", "Content not JSON.")
	errNotObject    = errorf(http.StatusBadRequest, "M_BAD_JSON", "Content must be a JSON object.")
	errTooLarge     = errorf(http.StatusRequestEntityTooLarge, "M_TOO_LARGE", "Request body is larger than 1 MiB")
	errNotFound     = errorf(http.StatusNotFound, "M_NOT_FOUND", "Not found")
	errUnrecognized = errorf(http.StatusNotFound, "M_UNRECOGNIZED", "Unrecognized request")
	errBadMethod    = errorf(http.StatusMethodNotAllowed, "M_UNRECOGNIZED", "Method not allowed on this endpoint")
	errInternal     = errorf(http.StatusInternalServerError, "M_UNKNOWN", "Internal server error")
)

// missingParam answers a request that lacks a required field.
func missingParam(name string) *matrixError {
	return errorf(http.StatusBadRequest, "M_MISSING_PARAM", "Missing parameter: "+name)
}

// tokenError answers a request whose access or refresh token does not work.
func tokenError(err *state.TokenError) *matrixError {
	soft := err.SoftLogout
	return &matrixError{status: http.StatusUnauthorized, Errcode: "M_UNKNOWN_TOKEN", Message: err.Reason, SoftLogout: &soft}
}

// toMatrixError turns any error a handler or the store returned into the
// answer to send. Errors that no handler expected become 500 M_UNKNOWN.
func toMatrixError(err error) *matrixError {
	var me *matrixError
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
		return errorf(http.StatusBadRequest, "M_USER_IN_USE", "User ID already taken.")
	case errors.Is(err, state.ErrInvalidUsername):
		return errorf(http.StatusBadRequest, "M_INVALID_USERNAME", "User ID may only contain a-z, 0-9, and .=_-/+, must not be all digits, and must belong to this server")
	case errors.Is(err, state.ErrGuestAccessForbidden):
		return errorf(http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled")
	case errors.Is(err, state.ErrUserDeactivated):
		return errorf(http.StatusForbidden, "M_USER_DEACTIVATED", "This account has been deactivated")
	case errors.Is(err, state.ErrUIARequestChanged):
		return errorf(http.StatusForbidden, "M_FORBIDDEN", "Requested operation has changed during the UI authentication session")
	case errors.Is(err, state.ErrUnknownUIASession):
		return errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown or expired user-interactive auth session")
	}
	return errInternal
}

// decodeError turns a failure to decode a request body or parameter into
// the answer to send: syntax problems are M_NOT_JSON (the body check has
// usually caught them already), values of the wrong type M_BAD_JSON.
func decodeError(err error) *matrixError {
	var syntax *json.SyntaxError
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syntax) {
		return errNotJSON
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return errorf(http.StatusBadRequest, "M_BAD_JSON", "Wrong type for field "+strconv.Quote(typeErr.Field)+": want "+typeErr.Type.String())
	}
	return errorf(http.StatusBadRequest, "M_BAD_JSON", "Malformed JSON: "+err.Error())
}

// jsonContentType is the Content-Type of JSON answers, set by its canonical
// key without the allocation of Header.Set. Its capacity is its length, so
// that a Header.Add appends to a copy.
var jsonContentType = []string{"application/json"}

// writeAnswer sends a success answer as the generated Visit methods do,
// byte for byte: status, Content-Type application/json, and v encoded as
// json.Encoder encodes it, with a newline. It encodes with json.Marshal,
// which saves the Encoder and the growing Buffer those methods allocate.
func writeAnswer(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// writeJSON sends v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
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
