package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/rooms"
)

// Per-user data: filters, push rules, account data, room tags, profile,
// presence, typing, receipts, read markers and the user directory. All of it
// lives in the world's rooms store, which also decides what /sync shows of
// it; these handlers check who may act, decode and encode.

// defaultTypingTimeout is how long a typing notice lasts when the request
// gives no timeout.
const defaultTypingTimeout = 30 * time.Second

// defaultDirectoryLimit is the user directory's page size without a limit.
const defaultDirectoryLimit = 10

// tagType is the room account data type that holds a room's tags, so that
// /sync shows tag changes as it shows any room account data.
const tagType = "m.tag"

// errOtherUser refuses an operation whose path names a user other than the
// caller, as homeservers do.
var errOtherUser = Errorf(http.StatusForbidden, "M_FORBIDDEN", "You cannot act for another user")

// errUnstoredField answers a profile field other than displayname and
// avatar_url, which are the only ones the mock keeps.
var errUnstoredField = Errorf(http.StatusForbidden, "M_FORBIDDEN", "This server stores only the displayname and avatar_url profile fields")

// caller returns the request's exchange, or errOtherUser when userID, from
// the request's path, is not the caller.
func caller(ctx context.Context, userID string) (*Exchange, error) {
	x := From(ctx)
	if userID != x.Principal.UserID {
		return nil, errOtherUser
	}
	return x, nil
}

// recode copies v into a T through JSON, for the rooms store's types and
// the generated ones, which share their JSON shape.
func recode[T any](v any) (T, error) {
	var out T
	raw, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(raw, &out)
}

// recoded is the answer v as a T, or err when the store failed.
func recoded[T any](v any, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return recode[T](v)
}

// done is the empty object answer of an operation that changes something,
// or err when the change failed.
func done[T ~map[string]any](err error) (T, error) {
	if err != nil {
		return nil, err
	}
	return T{}, nil
}

// bodyJSON encodes a request body whose schema is an object; a missing body
// is the empty object.
func bodyJSON[T any](body *T) (json.RawMessage, error) {
	if body == nil {
		return json.RawMessage("{}"), nil
	}
	return json.Marshal(body)
}

// Filters.

func (Handlers) DefineFilter(ctx context.Context, req clientserver.DefineFilterRequestObject) (clientserver.DefineFilterResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	raw, err := bodyJSON(req.Body)
	if err != nil {
		return nil, err
	}
	id, err := x.World.Rooms.CreateFilter(x.Principal.UserID, raw)
	if err != nil {
		return nil, err
	}
	return clientserver.DefineFilter200JSONResponse{FilterID: id}, nil
}

func (Handlers) GetFilter(ctx context.Context, req clientserver.GetFilterRequestObject) (clientserver.GetFilterResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return recoded[clientserver.GetFilter200JSONResponse](x.World.Rooms.FilterJSON(x.Principal.UserID, req.FilterID))
}

// Push rules. The rooms store keeps each user's rule set, starting from the
// server's default rules.

func (Handlers) GetPushRules(ctx context.Context, _ clientserver.GetPushRulesRequestObject) (clientserver.GetPushRulesResponseObject, error) {
	x := From(ctx)
	global, err := recode[clientserver.PushRuleset](x.World.Rooms.PushRules(x.Principal.UserID))
	if err != nil {
		return nil, err
	}
	return clientserver.GetPushRules200JSONResponse{Global: global}, nil
}

func (Handlers) GetPushRulesGlobal(ctx context.Context, _ clientserver.GetPushRulesGlobalRequestObject) (clientserver.GetPushRulesGlobalResponseObject, error) {
	x := From(ctx)
	return recode[clientserver.GetPushRulesGlobal200JSONResponse](x.World.Rooms.PushRules(x.Principal.UserID))
}

func (Handlers) GetPushRule(ctx context.Context, req clientserver.GetPushRuleRequestObject) (clientserver.GetPushRuleResponseObject, error) {
	x := From(ctx)
	return recoded[clientserver.GetPushRule200JSONResponse](x.World.Rooms.PushRule(x.Principal.UserID, string(req.Kind), req.RuleID))
}

func (Handlers) SetPushRule(ctx context.Context, req clientserver.SetPushRuleRequestObject) (clientserver.SetPushRuleResponseObject, error) {
	x := From(ctx)
	if req.Body == nil || req.Body.Actions == nil {
		return nil, MissingParam("actions")
	}
	rule, err := recode[rooms.NewPushRule](req.Body)
	if err != nil {
		return nil, err
	}
	return done[clientserver.SetPushRule200JSONResponse](x.World.Rooms.PutPushRule(x.Principal.UserID, string(req.Kind), req.RuleID, deref(req.Params.Before), deref(req.Params.After), rule))
}

func (Handlers) DeletePushRule(ctx context.Context, req clientserver.DeletePushRuleRequestObject) (clientserver.DeletePushRuleResponseObject, error) {
	x := From(ctx)
	return done[clientserver.DeletePushRule200JSONResponse](x.World.Rooms.DeletePushRule(x.Principal.UserID, string(req.Kind), req.RuleID))
}

func (Handlers) IsPushRuleEnabled(ctx context.Context, req clientserver.IsPushRuleEnabledRequestObject) (clientserver.IsPushRuleEnabledResponseObject, error) {
	x := From(ctx)
	rule, err := x.World.Rooms.PushRule(x.Principal.UserID, string(req.Kind), req.RuleID)
	if err != nil {
		return nil, err
	}
	return clientserver.IsPushRuleEnabled200JSONResponse{Enabled: rule.Enabled}, nil
}

func (Handlers) SetPushRuleEnabled(ctx context.Context, req clientserver.SetPushRuleEnabledRequestObject) (clientserver.SetPushRuleEnabledResponseObject, error) {
	x := From(ctx)
	if req.Body == nil {
		return nil, MissingParam("enabled")
	}
	return done[clientserver.SetPushRuleEnabled200JSONResponse](x.World.Rooms.SetPushRuleEnabled(x.Principal.UserID, string(req.Kind), req.RuleID, req.Body.Enabled))
}

func (Handlers) GetPushRuleActions(ctx context.Context, req clientserver.GetPushRuleActionsRequestObject) (clientserver.GetPushRuleActionsResponseObject, error) {
	x := From(ctx)
	rule, err := x.World.Rooms.PushRule(x.Principal.UserID, string(req.Kind), req.RuleID)
	if err != nil {
		return nil, err
	}
	return recode[clientserver.GetPushRuleActions200JSONResponse](map[string]any{"actions": rule.Actions})
}

func (Handlers) SetPushRuleActions(ctx context.Context, req clientserver.SetPushRuleActionsRequestObject) (clientserver.SetPushRuleActionsResponseObject, error) {
	x := From(ctx)
	if req.Body == nil || req.Body.Actions == nil {
		return nil, MissingParam("actions")
	}
	actions, err := recode[[]any](req.Body.Actions)
	if err != nil {
		return nil, err
	}
	return done[clientserver.SetPushRuleActions200JSONResponse](x.World.Rooms.SetPushRuleActions(x.Principal.UserID, string(req.Kind), req.RuleID, actions))
}

// Account data, global and per room.

func (Handlers) GetAccountData(ctx context.Context, req clientserver.GetAccountDataRequestObject) (clientserver.GetAccountDataResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return recoded[clientserver.GetAccountData200JSONResponse](x.World.Rooms.AccountData(x.Principal.UserID, req.Type))
}

func (Handlers) SetAccountData(ctx context.Context, req clientserver.SetAccountDataRequestObject) (clientserver.SetAccountDataResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	content, err := bodyJSON(req.Body)
	if err != nil {
		return nil, err
	}
	return done[clientserver.SetAccountData200JSONResponse](x.World.Rooms.SetAccountData(x.Principal.UserID, req.Type, content))
}

func (Handlers) GetAccountDataPerRoom(ctx context.Context, req clientserver.GetAccountDataPerRoomRequestObject) (clientserver.GetAccountDataPerRoomResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return recoded[clientserver.GetAccountDataPerRoom200JSONResponse](x.World.Rooms.RoomAccountData(x.Principal.UserID, req.RoomID, req.Type))
}

func (Handlers) SetAccountDataPerRoom(ctx context.Context, req clientserver.SetAccountDataPerRoomRequestObject) (clientserver.SetAccountDataPerRoomResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	content, err := bodyJSON(req.Body)
	if err != nil {
		return nil, err
	}
	return done[clientserver.SetAccountDataPerRoom200JSONResponse](x.World.Rooms.SetRoomAccountData(x.Principal.UserID, req.RoomID, req.Type, content))
}

// Room tags are the room's m.tag account data, {"tags": {name: {...}}}.
// tagMu makes each change a whole read-modify-write, so that two tag
// changes at once both land; it is shared by every world, which only
// serialises tag changes, a rare operation.
var tagMu sync.Mutex

// roomTags is the content of m.tag account data.
type roomTags struct {
	Tags map[string]json.RawMessage `json:"tags"`
}

// readTags returns the user's tags on a room; none when there are none yet.
func readTags(x *Exchange, roomID string) (roomTags, error) {
	tags := roomTags{Tags: map[string]json.RawMessage{}}
	raw, err := x.World.Rooms.RoomAccountData(x.Principal.UserID, roomID, tagType)
	if errors.Is(err, rooms.ErrNotFound) {
		return tags, nil
	}
	if err != nil {
		return tags, err
	}
	if err := json.Unmarshal(raw, &tags); err != nil {
		return tags, err
	}
	if tags.Tags == nil {
		tags.Tags = map[string]json.RawMessage{}
	}
	return tags, nil
}

// changeTags applies change to the user's tags on a room and stores them.
func changeTags(x *Exchange, roomID string, change func(map[string]json.RawMessage)) error {
	tagMu.Lock()
	defer tagMu.Unlock()
	tags, err := readTags(x, roomID)
	if err != nil {
		return err
	}
	change(tags.Tags)
	content, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	return x.World.Rooms.SetRoomAccountData(x.Principal.UserID, roomID, tagType, content)
}

func (Handlers) GetRoomTags(ctx context.Context, req clientserver.GetRoomTagsRequestObject) (clientserver.GetRoomTagsResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return recoded[clientserver.GetRoomTags200JSONResponse](readTags(x, req.RoomID))
}

func (Handlers) SetRoomTag(ctx context.Context, req clientserver.SetRoomTagRequestObject) (clientserver.SetRoomTagResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	tag, err := bodyJSON(req.Body)
	if err != nil {
		return nil, err
	}
	return done[clientserver.SetRoomTag200JSONResponse](changeTags(x, req.RoomID, func(tags map[string]json.RawMessage) { tags[req.Tag] = tag }))
}

func (Handlers) DeleteRoomTag(ctx context.Context, req clientserver.DeleteRoomTagRequestObject) (clientserver.DeleteRoomTagResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return done[clientserver.DeleteRoomTag200JSONResponse](changeTags(x, req.RoomID, func(tags map[string]json.RawMessage) { delete(tags, req.Tag) }))
}

// Profile. Anyone may read a registered user's profile; only its owner may
// change it. The mock keeps displayname and avatar_url; the custom fields
// of v1.16 are refused (errUnstoredField) rather than pretended stored.

func (Handlers) GetUserProfile(ctx context.Context, req clientserver.GetUserProfileRequestObject) (clientserver.GetUserProfileResponseObject, error) {
	x := From(ctx)
	p, err := x.World.Rooms.Profile(req.UserID)
	if err != nil {
		return nil, err
	}
	return clientserver.GetUserProfile200JSONResponse{Displayname: optional(p.DisplayName), AvatarURL: optional(p.AvatarURL)}, nil
}

// profileField returns a profile field's value, "" when unset or not one
// the mock stores.
func profileField(p rooms.Profile, key string) string {
	switch key {
	case "displayname":
		return p.DisplayName
	case "avatar_url":
		return p.AvatarURL
	}
	return ""
}

// setProfileField sets a stored profile field of the caller ("" clears it).
func setProfileField(x *Exchange, key, value string) error {
	switch key {
	case "displayname":
		x.World.Rooms.SetDisplayName(x.Principal.UserID, value)
	case "avatar_url":
		x.World.Rooms.SetAvatarURL(x.Principal.UserID, value)
	default:
		return errUnstoredField
	}
	return nil
}

func (Handlers) GetProfileField(ctx context.Context, req clientserver.GetProfileFieldRequestObject) (clientserver.GetProfileFieldResponseObject, error) {
	x := From(ctx)
	p, err := x.World.Rooms.Profile(req.UserID)
	if err != nil {
		return nil, err
	}
	value := profileField(p, req.KeyName)
	if value == "" {
		return nil, Errorf(http.StatusNotFound, "M_NOT_FOUND", "The profile has no field "+req.KeyName)
	}
	return clientserver.GetProfileField200JSONResponse{req.KeyName: value}, nil
}

func (Handlers) SetProfileField(ctx context.Context, req clientserver.SetProfileFieldRequestObject) (clientserver.SetProfileFieldResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if req.Body != nil {
		body = *req.Body
	}
	v, ok := body[req.KeyName]
	if !ok {
		return nil, MissingParam(req.KeyName)
	}
	value, ok := v.(string)
	if !ok {
		return nil, Errorf(http.StatusBadRequest, "M_BAD_JSON", req.KeyName+" must be a string")
	}
	return done[clientserver.SetProfileField200JSONResponse](setProfileField(x, req.KeyName, value))
}

func (Handlers) DeleteProfileField(ctx context.Context, req clientserver.DeleteProfileFieldRequestObject) (clientserver.DeleteProfileFieldResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	return done[clientserver.DeleteProfileField200JSONResponse](setProfileField(x, req.KeyName, ""))
}

// Presence.

func (Handlers) GetPresence(ctx context.Context, req clientserver.GetPresenceRequestObject) (clientserver.GetPresenceResponseObject, error) {
	x := From(ctx)
	p, err := x.World.Rooms.Presence(req.UserID)
	if err != nil {
		return nil, err
	}
	out := clientserver.GetPresence200JSONResponse{
		Presence:        clientserver.GetPresenceResponsePresence(p.Presence),
		StatusMsg:       p.StatusMsg,
		CurrentlyActive: &p.CurrentlyActive,
	}
	if p.LastActiveAgo > 0 {
		out.LastActiveAgo = new(int(p.LastActiveAgo))
	}
	return out, nil
}

func (Handlers) SetPresence(ctx context.Context, req clientserver.SetPresenceRequestObject) (clientserver.SetPresenceResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	if req.Body == nil || req.Body.Presence == "" {
		return nil, MissingParam("presence")
	}
	return done[clientserver.SetPresence200JSONResponse](x.World.Rooms.SetPresence(x.Principal.UserID, string(req.Body.Presence), req.Body.StatusMsg))
}

// Typing, receipts and read markers.

func (Handlers) SetTyping(ctx context.Context, req clientserver.SetTypingRequestObject) (clientserver.SetTypingResponseObject, error) {
	x, err := caller(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, MissingParam("typing")
	}
	timeout := defaultTypingTimeout
	if ms := deref(req.Body.Timeout); ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	return done[clientserver.SetTyping200JSONResponse](x.World.Rooms.SetTyping(x.Principal.UserID, req.RoomID, req.Body.Typing, timeout))
}

func (Handlers) PostReceipt(ctx context.Context, req clientserver.PostReceiptRequestObject) (clientserver.PostReceiptResponseObject, error) {
	x := From(ctx)
	var thread string
	if req.Body != nil {
		thread = deref(req.Body.ThreadID)
	}
	return done[clientserver.PostReceipt200JSONResponse](x.World.Rooms.SendReceipt(x.Principal.UserID, req.RoomID, string(req.ReceiptType), req.EventID, thread))
}

func (Handlers) SetReadMarker(ctx context.Context, req clientserver.SetReadMarkerRequestObject) (clientserver.SetReadMarkerResponseObject, error) {
	x := From(ctx)
	var b clientserver.SetReadMarkerRequest
	if req.Body != nil {
		b = *req.Body
	}
	return done[clientserver.SetReadMarker200JSONResponse](x.World.Rooms.SetReadMarkers(x.Principal.UserID, req.RoomID, deref(b.MFullyRead), deref(b.MRead), deref(b.MReadPrivate)))
}

// SearchUserDirectory searches the users who share a joined room with the
// caller (the caller among them once joined anywhere), as Synapse does with
// search_all_users off, less the members of public rooms the caller is not
// in: a case-insensitive substring match on the user ID and the display
// name, sorted by user ID.
func (Handlers) SearchUserDirectory(ctx context.Context, req clientserver.SearchUserDirectoryRequestObject) (clientserver.SearchUserDirectoryResponseObject, error) {
	x := From(ctx)
	if req.Body == nil || req.Body.SearchTerm == "" {
		return nil, MissingParam("search_term")
	}
	limit := deref(req.Body.Limit)
	if limit <= 0 {
		limit = defaultDirectoryLimit
	}
	term := strings.ToLower(req.Body.SearchTerm)
	out := clientserver.SearchUserDirectory200JSONResponse{Results: []clientserver.SearchUserDirectoryResponseResultsItem{}}
	for _, user := range x.World.Rooms.RoomMates(x.Principal.UserID) {
		p, err := x.World.Rooms.Profile(user)
		if err != nil {
			continue // deactivated or otherwise gone: not listed
		}
		if !strings.Contains(strings.ToLower(user), term) && !strings.Contains(strings.ToLower(p.DisplayName), term) {
			continue
		}
		if len(out.Results) == limit {
			out.Limited = true
			break
		}
		out.Results = append(out.Results, clientserver.SearchUserDirectoryResponseResultsItem{
			UserID: user, DisplayName: optional(p.DisplayName), AvatarURL: optional(p.AvatarURL),
		})
	}
	return out, nil
}
