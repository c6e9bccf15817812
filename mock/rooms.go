package mock

import (
	"encoding/json"
	"errors"
	"net/http"

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

// rooms returns the current world's rooms, time rules applied.
func (s *Server) rooms() *rooms.Store { return s.current().Rooms }

// CreateRoom creates a room as user and returns its ID.
func (s *Server) CreateRoom(user string, req CreateRoomRequest) (string, error) {
	return s.rooms().CreateRoom(s.UserID(user), req)
}

// JoinRoom joins user to a room given by ID or alias and returns its ID.
func (s *Server) JoinRoom(user, roomIDOrAlias string) (string, error) {
	return s.rooms().JoinRoom(s.UserID(user), roomIDOrAlias)
}

// Invite invites user to a room as inviter.
func (s *Server) Invite(inviter, roomID, user string) error {
	return s.rooms().Invite(s.UserID(inviter), roomID, s.UserID(user), "")
}

// Kick removes user from a room as kicker, with an optional reason.
func (s *Server) Kick(kicker, roomID, user, reason string) error {
	return s.rooms().Kick(s.UserID(kicker), roomID, s.UserID(user), reason)
}

// Ban bans user from a room as banner, with an optional reason.
func (s *Server) Ban(banner, roomID, user, reason string) error {
	return s.rooms().Ban(s.UserID(banner), roomID, s.UserID(user), reason)
}

// Leave makes user leave a room, or reject its invite.
func (s *Server) Leave(user, roomID string) error {
	return s.rooms().Leave(s.UserID(user), roomID, "")
}

// JoinedRooms returns the IDs of the rooms user is joined to, sorted.
func (s *Server) JoinedRooms(user string) []string { return s.rooms().JoinedRooms(s.UserID(user)) }

// SendMessage sends a plain-text m.room.message as user and returns its
// event ID.
func (s *Server) SendMessage(user, roomID, body string) (string, error) {
	return s.SendEvent(user, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": body})
}

// SendEvent sends a message event of any type as user; content is
// encoded as JSON and must be an object. It returns the event ID.
func (s *Server) SendEvent(user, roomID, eventType string, content any) (string, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	return s.rooms().SendMessage(s.UserID(user), roomID, rooms.Send{Type: eventType, Content: raw})
}

// SendStateEvent sets a state event as user; content is encoded as JSON
// and must be an object. It returns the event ID.
func (s *Server) SendStateEvent(user, roomID, eventType, stateKey string, content any) (string, error) {
	raw, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	return s.rooms().SetState(s.UserID(user), roomID, StateEvent{Type: eventType, StateKey: stateKey, Content: raw})
}

// roomAction is the body of the control API's room operations: who acts,
// on whom, and what to send. Each operation reads the fields it needs.
type roomAction struct {
	User     string          `json:"user"`                // who acts
	Target   string          `json:"target,omitempty"`    // invite, kick, ban: on whom
	Reason   string          `json:"reason,omitempty"`    // kick, ban
	Type     string          `json:"type,omitempty"`      // send, state: the event type
	StateKey string          `json:"state_key,omitempty"` // state
	Body     string          `json:"body,omitempty"`      // send: a text message's body
	Content  json.RawMessage `json:"content,omitempty"`   // send, state: the content
	Room     json.RawMessage `json:"room,omitempty"`      // create: the createRoom body
}

// controlRooms adds the rooms operations to the control API, each taking
// a roomAction body:
//
//	POST /_mock/rooms                     {user, room: createRoom body} → {room_id}
//	POST /_mock/rooms/{room}/join         {user} → {room_id} ({room} an ID or alias)
//	POST /_mock/rooms/{room}/invite       {user, target}
//	POST /_mock/rooms/{room}/kick         {user, target, reason}
//	POST /_mock/rooms/{room}/ban          {user, target, reason}
//	POST /_mock/rooms/{room}/leave        {user}
//	POST /_mock/rooms/{room}/send         {user, body} or {user, type, content} → {event_id}
//	POST /_mock/rooms/{room}/state        {user, type, state_key, content} → {event_id}
func (s *Server) controlRooms(handle func(pattern string, h func(*http.Request) (any, *api.Error))) {
	room := func(do func(a roomAction, roomID string) (any, error)) func(*http.Request) (any, *api.Error) {
		return func(r *http.Request) (any, *api.Error) {
			var a roomAction
			if e := decodeControl(r, &a); e != nil {
				return nil, e
			}
			if a.User == "" {
				return nil, api.MissingParam("user")
			}
			out, err := do(a, r.PathValue("room"))
			if err != nil {
				return nil, controlRoomsError(err)
			}
			return out, nil
		}
	}
	done := func(err error) (any, error) { return struct{}{}, err }
	eventID := func(id string, err error) (any, error) { return map[string]string{"event_id": id}, err }
	roomID := func(id string, err error) (any, error) { return map[string]string{"room_id": id}, err }
	handle("POST /_mock/rooms", room(func(a roomAction, _ string) (any, error) {
		var req CreateRoomRequest
		if len(a.Room) > 0 {
			if err := json.Unmarshal(a.Room, &req); err != nil {
				return nil, errors.Join(rooms.ErrBadJSON, err)
			}
		}
		return roomID(s.CreateRoom(a.User, req))
	}))
	handle("POST /_mock/rooms/{room}/join", room(func(a roomAction, id string) (any, error) {
		return roomID(s.JoinRoom(a.User, id))
	}))
	handle("POST /_mock/rooms/{room}/invite", room(func(a roomAction, id string) (any, error) {
		return done(s.Invite(a.User, id, a.Target))
	}))
	handle("POST /_mock/rooms/{room}/kick", room(func(a roomAction, id string) (any, error) {
		return done(s.Kick(a.User, id, a.Target, a.Reason))
	}))
	handle("POST /_mock/rooms/{room}/ban", room(func(a roomAction, id string) (any, error) {
		return done(s.Ban(a.User, id, a.Target, a.Reason))
	}))
	handle("POST /_mock/rooms/{room}/leave", room(func(a roomAction, id string) (any, error) {
		return done(s.Leave(a.User, id))
	}))
	handle("POST /_mock/rooms/{room}/send", room(func(a roomAction, id string) (any, error) {
		if a.Type == "" {
			return eventID(s.SendMessage(a.User, id, a.Body))
		}
		return eventID(s.rooms().SendMessage(s.UserID(a.User), id, rooms.Send{Type: a.Type, Content: a.Content}))
	}))
	handle("POST /_mock/rooms/{room}/state", room(func(a roomAction, id string) (any, error) {
		if a.Type == "" {
			return nil, errors.Join(rooms.ErrBadJSON, errors.New("type is required"))
		}
		st := StateEvent{Type: a.Type, StateKey: a.StateKey, Content: a.Content}
		return eventID(s.rooms().SetState(s.UserID(a.User), id, st))
	}))
}

// controlRoomsError is the control API's answer to a rooms error: the
// errcode the client-server API would give.
func controlRoomsError(err error) *api.Error {
	if e := api.RoomsError(err); e != nil {
		return e
	}
	return api.Errorf(http.StatusInternalServerError, "M_UNKNOWN", err.Error())
}

// VirtualPollCap is the longest a /sync long-poll waits in real time on a
// virtual clock: its timeout runs on the mock's clock, which only the test
// moves, so a poll answers (empty) after at most this long and the client
// polls again. On the real clock the timeout is kept as asked.
const VirtualPollCap = api.VirtualPollCap
