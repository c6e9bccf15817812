package control

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/rooms"
)

// roomAction is the body of the rooms operations: who acts, on whom, and
// what to send. Each operation reads the fields it needs.
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

// roomOps adds the rooms operations to every world, each taking a
// roomAction body; for the default world:
//
//	POST /_mock/rooms                     {user, room: createRoom body} → {room_id}
//	POST /_mock/rooms/{room}/join         {user} → {room_id} ({room} an ID or alias)
//	POST /_mock/rooms/{room}/invite       {user, target}
//	POST /_mock/rooms/{room}/kick         {user, target, reason}
//	POST /_mock/rooms/{room}/ban          {user, target, reason}
//	POST /_mock/rooms/{room}/leave        {user}
//	POST /_mock/rooms/{room}/send         {user, body} or {user, type, content} → {event_id}
//	POST /_mock/rooms/{room}/state        {user, type, state_key, content} → {event_id}
func (c *controlAPI) roomOps() {
	room := func(do func(w World, a roomAction, roomID string) (any, error)) op {
		return func(w World, r *http.Request) (any, *api.Error) {
			var a roomAction
			if e := decode(r, &a); e != nil {
				return nil, e
			}
			if a.User == "" {
				return nil, api.MissingParam("user")
			}
			out, err := do(w, a, r.PathValue("room"))
			if err != nil {
				return nil, roomsError(err)
			}
			return out, nil
		}
	}
	done := func(err error) (any, error) { return struct{}{}, err }
	eventID := func(id string, err error) (any, error) { return map[string]string{"event_id": id}, err }
	roomID := func(id string, err error) (any, error) { return map[string]string{"room_id": id}, err }
	c.handle("POST", "rooms", room(func(w World, a roomAction, _ string) (any, error) {
		var req rooms.CreateRoomRequest
		if len(a.Room) > 0 {
			if err := json.Unmarshal(a.Room, &req); err != nil {
				return nil, errors.Join(rooms.ErrBadJSON, err)
			}
		}
		return roomID(w.CreateRoom(a.User, req))
	}))
	c.handle("POST", "rooms/{room}/join", room(func(w World, a roomAction, id string) (any, error) {
		return roomID(w.JoinRoom(a.User, id))
	}))
	c.handle("POST", "rooms/{room}/invite", room(func(w World, a roomAction, id string) (any, error) {
		return done(w.Invite(a.User, id, a.Target))
	}))
	c.handle("POST", "rooms/{room}/kick", room(func(w World, a roomAction, id string) (any, error) {
		return done(w.Kick(a.User, id, a.Target, a.Reason))
	}))
	c.handle("POST", "rooms/{room}/ban", room(func(w World, a roomAction, id string) (any, error) {
		return done(w.Ban(a.User, id, a.Target, a.Reason))
	}))
	c.handle("POST", "rooms/{room}/leave", room(func(w World, a roomAction, id string) (any, error) {
		return done(w.Leave(a.User, id))
	}))
	c.handle("POST", "rooms/{room}/send", room(func(w World, a roomAction, id string) (any, error) {
		if a.Type == "" {
			return eventID(w.SendMessage(a.User, id, a.Body))
		}
		return eventID(w.SendEvent(a.User, id, a.Type, a.Content))
	}))
	c.handle("POST", "rooms/{room}/state", room(func(w World, a roomAction, id string) (any, error) {
		if a.Type == "" {
			return nil, errors.Join(rooms.ErrBadJSON, errors.New("type is required"))
		}
		return eventID(w.SendStateEvent(a.User, id, a.Type, a.StateKey, a.Content))
	}))
}

// roomsError is the control API's answer to a rooms error: the errcode
// the client-server API would give.
func roomsError(err error) *api.Error {
	if e := api.RoomsError(err); e != nil {
		return e
	}
	return api.Errorf(http.StatusInternalServerError, "M_UNKNOWN", err.Error())
}
