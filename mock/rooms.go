package mock

import (
	"encoding/json"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/rooms"
)

// Rooms in the Go and control APIs: what a test makes happen to a client
// under test as another user (create a room, invite, send, kick), without
// a second client. Users are given as a localpart or a full user ID. Each
// change wakes the /sync long-polls of the users who can see it, as the
// same change over HTTP would.

// CreateRoomRequest is what CreateRoom takes: the body of POST /createRoom
// (preset, name, topic, invite, initial_state, is_direct...).
type CreateRoomRequest = rooms.CreateRoomRequest

// StateEvent is a state event to send, as in CreateRoomRequest's
// InitialState.
type StateEvent = rooms.StateEvent

// Errors of the rooms part of the Go API, for errors.Is.
var (
	// ErrRoomNotFound: no such room, event or alias.
	ErrRoomNotFound = rooms.ErrNotFound
	// ErrRoomForbidden: the user may not do this in the room (not joined,
	// not invited, banned, or without the power level).
	ErrRoomForbidden = rooms.ErrForbidden
)

// rooms returns the world's rooms, time rules applied.
func (w *World) rooms() *rooms.Store { return w.state().Rooms }

// CreateRoom creates a room as user and returns its ID.
func (w *World) CreateRoom(user string, req CreateRoomRequest) (string, error) {
	return w.rooms().CreateRoom(w.UserID(user), req)
}

// JoinRoom joins user to a room given by ID or alias and returns its ID.
func (w *World) JoinRoom(user, roomIDOrAlias string) (string, error) {
	return w.rooms().JoinRoom(w.UserID(user), roomIDOrAlias)
}

// Invite invites user to a room as inviter.
func (w *World) Invite(inviter, roomID, user string) error {
	return w.rooms().Invite(w.UserID(inviter), roomID, w.UserID(user), "")
}

// Kick removes user from a room as kicker, with an optional reason.
func (w *World) Kick(kicker, roomID, user, reason string) error {
	return w.rooms().Kick(w.UserID(kicker), roomID, w.UserID(user), reason)
}

// Ban bans user from a room as banner, with an optional reason.
func (w *World) Ban(banner, roomID, user, reason string) error {
	return w.rooms().Ban(w.UserID(banner), roomID, w.UserID(user), reason)
}

// Leave makes user leave a room, or reject its invite.
func (w *World) Leave(user, roomID string) error {
	return w.rooms().Leave(w.UserID(user), roomID, "")
}

// JoinedRooms returns the IDs of the rooms user is joined to, sorted.
func (w *World) JoinedRooms(user string) []string { return w.rooms().JoinedRooms(w.UserID(user)) }

// SendMessage sends a plain-text m.room.message as user and returns its
// event ID.
func (w *World) SendMessage(user, roomID, body string) (string, error) {
	return w.SendEvent(user, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": body})
}

// SendEvent sends a message event of any type as user; content is
// encoded as JSON and must be an object. It returns the event ID.
func (w *World) SendEvent(user, roomID, eventType string, content any) (string, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	return w.rooms().SendMessage(w.UserID(user), roomID, rooms.Send{Type: eventType, Content: raw})
}

// SendStateEvent sets a state event as user; content is encoded as JSON
// and must be an object. It returns the event ID.
func (w *World) SendStateEvent(user, roomID, eventType, stateKey string, content any) (string, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	return w.rooms().SetState(w.UserID(user), roomID, StateEvent{Type: eventType, StateKey: stateKey, Content: raw})
}

// VirtualPollCap is the longest a /sync long-poll waits in real time on a
// virtual clock: its timeout runs on the mock's clock, which only the test
// moves, so a poll answers (empty) after at most this long and the client
// polls again. On the real clock the timeout is kept as asked.
const VirtualPollCap = api.VirtualPollCap
