package rooms

import (
	"errors"
	"fmt"
)

// Errors returned by the Store; each names the Matrix answer the handler
// layer should give. Methods wrap them with details (fmt.Errorf("%w: ..."));
// match them with errors.Is and use err.Error() as the answer's "error".
var (
	// ErrNotFound: no such room, event, alias, filter, rule or data (404
	// M_NOT_FOUND).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the user may not do this: not in the room, not invited,
	// banned, or without the power level (403 M_FORBIDDEN).
	ErrForbidden = errors.New("forbidden")
	// ErrRoomInUse: the alias is taken (400 M_ROOM_IN_USE).
	ErrRoomInUse = errors.New("room alias already taken")
	// ErrInvalidParam: a malformed alias, user ID, token, enum value or rule
	// ID (400 M_INVALID_PARAM).
	ErrInvalidParam = errors.New("invalid parameter")
	// ErrBadJSON: content that is not the JSON object the operation needs
	// (400 M_BAD_JSON).
	ErrBadJSON = errors.New("bad JSON")
	// ErrUnknownUser: the target user is not registered (404 M_NOT_FOUND; the
	// spec has no more precise code for invites).
	ErrUnknownUser = errors.New("unknown user")
	// ErrStillJoined: forgetting a room the user has not left (400 M_UNKNOWN).
	ErrStillJoined = errors.New("user has not left the room")
	// ErrServerControlled: account data the server owns, m.fully_read and
	// m.push_rules, set through the account data API (405 M_BAD_JSON).
	ErrServerControlled = errors.New("account data type controlled by the server")
)

// errf wraps a sentinel error with a formatted detail.
func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
