package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/rooms"
)

// Rooms: creating, joining and leaving them, membership, state, sending
// and redacting events, history, aliases and the room directory. The rooms
// package does the work; these handlers decode, call it with the caller,
// and answer what it returns.

// empty is the {} answer of the operations that return nothing.
var empty = jsonAnswer{http.StatusOK, struct{}{}}

type roomIDBody struct {
	RoomID string `json:"room_id"`
}

type eventIDBody struct {
	EventID string `json:"event_id"`
}

// eventAnswer answers an event ID, or the error that stopped the event.
func eventAnswer(id string, err error) (jsonAnswer, error) {
	if err != nil {
		return jsonAnswer{}, err
	}
	return jsonAnswer{http.StatusOK, eventIDBody{id}}, nil
}

// roomsDone answers {} or the error.
func roomsDone(err error) (jsonAnswer, error) {
	if err != nil {
		return jsonAnswer{}, err
	}
	return empty, nil
}

// content encodes an event content the generated server decoded into a
// map; a missing body is an empty object.
func content(body *map[string]any) (json.RawMessage, error) {
	if body == nil {
		return json.RawMessage(`{}`), nil
	}
	return json.Marshal(*body)
}

func (Handlers) CreateRoom(ctx context.Context, req clientserver.CreateRoomRequestObject) (clientserver.CreateRoomResponseObject, error) {
	x := From(ctx)
	var cr rooms.CreateRoomRequest
	if req.Body != nil {
		// The generated body and the store's request are the same JSON.
		raw, err := json.Marshal(req.Body)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &cr); err != nil {
			return nil, decodeError(err)
		}
	}
	id, err := x.World.Rooms.CreateRoom(x.Principal.UserID, cr)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, roomIDBody{id}}, nil
}

// join joins the caller to a room given by ID or alias.
func join(ctx context.Context, roomIDOrAlias string) (jsonAnswer, error) {
	x := From(ctx)
	id, err := x.World.Rooms.JoinRoom(x.Principal.UserID, roomIDOrAlias)
	if err != nil {
		return jsonAnswer{}, err
	}
	return jsonAnswer{http.StatusOK, roomIDBody{id}}, nil
}

func (Handlers) JoinRoom(ctx context.Context, req clientserver.JoinRoomRequestObject) (clientserver.JoinRoomResponseObject, error) {
	return join(ctx, req.RoomIDOrAlias)
}

func (Handlers) JoinRoomByID(ctx context.Context, req clientserver.JoinRoomByIDRequestObject) (clientserver.JoinRoomByIDResponseObject, error) {
	return join(ctx, req.RoomID)
}

// membership applies a membership change the caller makes to another
// user: invite, kick, ban or unban.
func membership(ctx context.Context, change func(userID, roomID, target, reason string) error, roomID, target string, reason *string) (jsonAnswer, error) {
	if target == "" {
		return jsonAnswer{}, MissingParam("user_id")
	}
	return roomsDone(change(From(ctx).Principal.UserID, roomID, target, deref(reason)))
}

func (Handlers) InviteUser(ctx context.Context, req clientserver.InviteUserRequestObject) (clientserver.InviteUserResponseObject, error) {
	b := deref(req.Body)
	return membership(ctx, From(ctx).World.Rooms.Invite, req.RoomID, b.UserID, b.Reason)
}

func (Handlers) Kick(ctx context.Context, req clientserver.KickRequestObject) (clientserver.KickResponseObject, error) {
	b := deref(req.Body)
	return membership(ctx, From(ctx).World.Rooms.Kick, req.RoomID, b.UserID, b.Reason)
}

func (Handlers) Ban(ctx context.Context, req clientserver.BanRequestObject) (clientserver.BanResponseObject, error) {
	b := deref(req.Body)
	return membership(ctx, From(ctx).World.Rooms.Ban, req.RoomID, b.UserID, b.Reason)
}

func (Handlers) Unban(ctx context.Context, req clientserver.UnbanRequestObject) (clientserver.UnbanResponseObject, error) {
	b := deref(req.Body)
	return membership(ctx, From(ctx).World.Rooms.Unban, req.RoomID, b.UserID, b.Reason)
}

func (Handlers) LeaveRoom(ctx context.Context, req clientserver.LeaveRoomRequestObject) (clientserver.LeaveRoomResponseObject, error) {
	x := From(ctx)
	return roomsDone(x.World.Rooms.Leave(x.Principal.UserID, req.RoomID, deref(deref(req.Body).Reason)))
}

func (Handlers) ForgetRoom(ctx context.Context, req clientserver.ForgetRoomRequestObject) (clientserver.ForgetRoomResponseObject, error) {
	x := From(ctx)
	return roomsDone(x.World.Rooms.Forget(x.Principal.UserID, req.RoomID))
}

func (Handlers) GetJoinedRooms(ctx context.Context, _ clientserver.GetJoinedRoomsRequestObject) (clientserver.GetJoinedRoomsResponseObject, error) {
	x := From(ctx)
	return jsonAnswer{http.StatusOK, struct {
		JoinedRooms []string `json:"joined_rooms"`
	}{orEmpty(x.World.Rooms.JoinedRooms(x.Principal.UserID))}}, nil
}

func (Handlers) GetMembersByRoom(ctx context.Context, req clientserver.GetMembersByRoomRequestObject) (clientserver.GetMembersByRoomResponseObject, error) {
	x := From(ctx)
	p := req.Params
	q := rooms.MembersQuery{At: deref(p.At), Membership: string(deref(p.Membership)), NotMembership: string(deref(p.NotMembership))}
	events, err := x.World.Rooms.Members(x.Principal.UserID, req.RoomID, q)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, struct {
		Chunk []rooms.Event `json:"chunk"`
	}{orEmpty(events)}}, nil
}

func (Handlers) GetJoinedMembersByRoom(ctx context.Context, req clientserver.GetJoinedMembersByRoomRequestObject) (clientserver.GetJoinedMembersByRoomResponseObject, error) {
	x := From(ctx)
	joined, err := x.World.Rooms.JoinedMembers(x.Principal.UserID, req.RoomID)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, struct {
		Joined map[string]rooms.JoinedMember `json:"joined"`
	}{joined}}, nil
}

func (Handlers) GetRoomState(ctx context.Context, req clientserver.GetRoomStateRequestObject) (clientserver.GetRoomStateResponseObject, error) {
	x := From(ctx)
	events, err := x.World.Rooms.State(x.Principal.UserID, req.RoomID)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, orEmpty(events)}, nil
}

func (Handlers) GetRoomStateWithKey(ctx context.Context, req clientserver.GetRoomStateWithKeyRequestObject) (clientserver.GetRoomStateWithKeyResponseObject, error) {
	x := From(ctx)
	ev, err := x.World.Rooms.StateEvent(x.Principal.UserID, req.RoomID, req.EventType, req.StateKey)
	if err != nil {
		return nil, err
	}
	if deref(req.Params.Format) == "event" {
		return jsonAnswer{http.StatusOK, ev}, nil
	}
	return jsonAnswer{http.StatusOK, ev.Content}, nil
}

func (Handlers) SetRoomStateWithKey(ctx context.Context, req clientserver.SetRoomStateWithKeyRequestObject) (clientserver.SetRoomStateWithKeyResponseObject, error) {
	x := From(ctx)
	c, err := content(req.Body)
	if err != nil {
		return nil, err
	}
	return eventAnswer(x.World.Rooms.SetState(x.Principal.UserID, req.RoomID, rooms.StateEvent{Type: req.EventType, StateKey: req.StateKey, Content: c}))
}

func (Handlers) SendMessage(ctx context.Context, req clientserver.SendMessageRequestObject) (clientserver.SendMessageResponseObject, error) {
	x := From(ctx)
	c, err := content(req.Body)
	if err != nil {
		return nil, err
	}
	send := rooms.Send{DeviceID: x.Principal.DeviceID, TxnID: req.TxnID, Type: req.EventType, Content: c}
	return eventAnswer(x.World.Rooms.SendMessage(x.Principal.UserID, req.RoomID, send))
}

func (Handlers) RedactEvent(ctx context.Context, req clientserver.RedactEventRequestObject) (clientserver.RedactEventResponseObject, error) {
	x := From(ctx)
	tx := rooms.Send{DeviceID: x.Principal.DeviceID, TxnID: req.TxnID}
	return eventAnswer(x.World.Rooms.Redact(x.Principal.UserID, req.RoomID, req.EventID, deref(deref(req.Body).Reason), tx))
}

func (Handlers) GetRoomEvents(ctx context.Context, req clientserver.GetRoomEventsRequestObject) (clientserver.GetRoomEventsResponseObject, error) {
	x := From(ctx)
	p := req.Params
	q := rooms.MessagesQuery{From: deref(p.From), To: deref(p.To), Dir: string(p.Dir), Limit: deref(p.Limit), DeviceID: x.Principal.DeviceID}
	if f := deref(p.Filter); f != "" {
		filter, err := rooms.ParseRoomEventFilter([]byte(f))
		if err != nil {
			return nil, err
		}
		q.Filter = filter
	}
	page, err := x.World.Rooms.Messages(x.Principal.UserID, req.RoomID, q)
	if err != nil {
		return nil, err
	}
	page.Chunk = orEmpty(page.Chunk)
	return jsonAnswer{http.StatusOK, page}, nil
}

// defaultContextLimit is the number of events around the one asked for
// when /context is given no limit, as in Synapse.
const defaultContextLimit = 10

func (Handlers) GetEventContext(ctx context.Context, req clientserver.GetEventContextRequestObject) (clientserver.GetEventContextResponseObject, error) {
	x := From(ctx)
	limit := defaultContextLimit
	if req.Params.Limit != nil {
		limit = max(*req.Params.Limit, 0)
	}
	c, err := x.World.Rooms.Context(x.Principal.UserID, req.RoomID, req.EventID, limit, x.Principal.DeviceID)
	if err != nil {
		return nil, err
	}
	c.EventsBefore, c.EventsAfter, c.State = orEmpty(c.EventsBefore), orEmpty(c.EventsAfter), orEmpty(c.State)
	return jsonAnswer{http.StatusOK, c}, nil
}

func (Handlers) GetOneRoomEvent(ctx context.Context, req clientserver.GetOneRoomEventRequestObject) (clientserver.GetOneRoomEventResponseObject, error) {
	x := From(ctx)
	ev, err := x.World.Rooms.EventByID(x.Principal.UserID, req.RoomID, req.EventID)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, ev}, nil
}

func (Handlers) GetLocalAliases(ctx context.Context, req clientserver.GetLocalAliasesRequestObject) (clientserver.GetLocalAliasesResponseObject, error) {
	x := From(ctx)
	aliases, err := x.World.Rooms.RoomAliases(x.Principal.UserID, req.RoomID)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, struct {
		Aliases []string `json:"aliases"`
	}{orEmpty(aliases)}}, nil
}

func (Handlers) SetRoomAlias(ctx context.Context, req clientserver.SetRoomAliasRequestObject) (clientserver.SetRoomAliasResponseObject, error) {
	x := From(ctx)
	roomID := deref(req.Body).RoomID
	if roomID == "" {
		return nil, MissingParam("room_id")
	}
	err := x.World.Rooms.SetAlias(x.Principal.UserID, req.RoomAlias, roomID)
	if errors.Is(err, rooms.ErrRoomInUse) {
		// Here the spec answers a taken alias 409, where createRoom says 400.
		return nil, Errorf(http.StatusConflict, "M_UNKNOWN", err.Error())
	}
	return roomsDone(err)
}

func (Handlers) GetRoomIDByAlias(ctx context.Context, req clientserver.GetRoomIDByAliasRequestObject) (clientserver.GetRoomIDByAliasResponseObject, error) {
	roomID, servers, err := From(ctx).World.Rooms.ResolveAlias(req.RoomAlias)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, struct {
		RoomID  string   `json:"room_id"`
		Servers []string `json:"servers"`
	}{roomID, orEmpty(servers)}}, nil
}

func (Handlers) DeleteRoomAlias(ctx context.Context, req clientserver.DeleteRoomAliasRequestObject) (clientserver.DeleteRoomAliasResponseObject, error) {
	x := From(ctx)
	return roomsDone(x.World.Rooms.DeleteAlias(x.Principal.UserID, req.RoomAlias))
}

type visibilityBody struct {
	Visibility string `json:"visibility"`
}

func (Handlers) GetRoomVisibilityOnDirectory(ctx context.Context, req clientserver.GetRoomVisibilityOnDirectoryRequestObject) (clientserver.GetRoomVisibilityOnDirectoryResponseObject, error) {
	v, err := From(ctx).World.Rooms.Visibility(req.RoomID)
	if err != nil {
		return nil, err
	}
	return jsonAnswer{http.StatusOK, visibilityBody{v}}, nil
}

func (Handlers) SetRoomVisibilityOnDirectory(ctx context.Context, req clientserver.SetRoomVisibilityOnDirectoryRequestObject) (clientserver.SetRoomVisibilityOnDirectoryResponseObject, error) {
	x := From(ctx)
	v := deref(deref(req.Body).Visibility)
	if v == "" {
		return nil, MissingParam("visibility")
	}
	return roomsDone(x.World.Rooms.SetVisibility(x.Principal.UserID, req.RoomID, string(v)))
}

// publicRooms answers a page of the room directory.
func publicRooms(ctx context.Context, limit *int, since, search string) (jsonAnswer, error) {
	page, err := From(ctx).World.Rooms.PublicRooms(max(deref(limit), 0), since, search)
	if err != nil {
		return jsonAnswer{}, err
	}
	page.Chunk = orEmpty(page.Chunk)
	return jsonAnswer{http.StatusOK, page}, nil
}

func (Handlers) GetPublicRooms(ctx context.Context, req clientserver.GetPublicRoomsRequestObject) (clientserver.GetPublicRoomsResponseObject, error) {
	return publicRooms(ctx, req.Params.Limit, deref(req.Params.Since), "")
}

func (Handlers) QueryPublicRooms(ctx context.Context, req clientserver.QueryPublicRoomsRequestObject) (clientserver.QueryPublicRoomsResponseObject, error) {
	b := deref(req.Body)
	return publicRooms(ctx, b.Limit, deref(b.Since), deref(deref(b.Filter).GenericSearchTerm))
}

// stateTemplate is the generated route of a state event by type and key.
const stateTemplate = "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"

// emptyStateKeyTemplates are the routes of a state event with an empty
// state key, which the generated route cannot match since a path
// parameter is never empty: ".../state/{eventType}/" as the spec writes
// it, and ".../state/{eventType}" as clients also send it. Each stands for
// the generated route's operation (operationInfo).
var emptyStateKeyTemplates = map[string]string{
	"/_matrix/client/v3/rooms/{roomId}/state/{eventType}/": stateTemplate,
	"/_matrix/client/v3/rooms/{roomId}/state/{eventType}":  stateTemplate,
}

// addEmptyStateKeyRoutes serves the empty state key routes through the
// generated server's methods, with the state key "".
func addEmptyStateKeyRoutes(router *mux.Router, si clientserver.ServerInterface) {
	for tpl := range emptyStateKeyTemplates {
		router.HandleFunc(tpl, func(w http.ResponseWriter, r *http.Request) {
			v := mux.Vars(r)
			var p clientserver.GetRoomStateWithKeyParams
			if f := r.URL.Query().Get("format"); f != "" {
				p.Format = new(clientserver.GetRoomStateWithKeyParamsFormat(f))
			}
			si.GetRoomStateWithKey(w, r, v["roomId"], v["eventType"], "", p)
		}).Methods(http.MethodGet)
		router.HandleFunc(tpl, func(w http.ResponseWriter, r *http.Request) {
			v := mux.Vars(r)
			si.SetRoomStateWithKey(w, r, v["roomId"], v["eventType"], "")
		}).Methods(http.MethodPut)
	}
}
