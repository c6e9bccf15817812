package rooms

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// CreateRoomRequest is the body of POST /createRoom; the handler may decode
// the request body straight into it.
type CreateRoomRequest struct {
	// Visibility is "public" (listed in the directory) or "private"
	// (default).
	Visibility string `json:"visibility,omitempty"`
	// RoomAliasName is the localpart of the canonical alias to create.
	RoomAliasName string `json:"room_alias_name,omitempty"`
	Name          string `json:"name,omitempty"`
	Topic         string `json:"topic,omitempty"`
	// Invite lists users to invite.
	Invite []string `json:"invite,omitempty"`
	// InitialState is sent after the preset's state, before name and topic.
	InitialState []StateEvent `json:"initial_state,omitempty"`
	// Preset is private_chat, public_chat or trusted_private_chat; empty
	// means public_chat for a public room, private_chat otherwise.
	Preset string `json:"preset,omitempty"`
	// IsDirect marks the invites as direct chat invites.
	IsDirect    bool   `json:"is_direct,omitempty"`
	RoomVersion string `json:"room_version,omitempty"`
	// CreationContent is merged into the m.room.create content.
	CreationContent json.RawMessage `json:"creation_content,omitempty"`
	// PowerLevelContentOverride is merged, key by key, over the default
	// m.room.power_levels content.
	PowerLevelContentOverride json.RawMessage `json:"power_level_content_override,omitempty"`
}

// StateEvent is a state event to send, as in createRoom's initial_state.
type StateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// presets gives each createRoom preset its join rule, history visibility
// and guest access; trusted presets make invitees admins too.
var presets = map[string]struct {
	joinRule, history, guests string
	trusted                   bool
}{
	"private_chat":         {"invite", "shared", "can_join", false},
	"trusted_private_chat": {"invite", "shared", "can_join", true},
	"public_chat":          {"public", "shared", "", false},
}

// CreateRoom creates a room as userID and returns its ID. The events are
// those a homeserver sends: m.room.create, the creator's join,
// m.room.power_levels, m.room.canonical_alias (with RoomAliasName),
// m.room.join_rules, m.room.history_visibility, m.room.guest_access (private
// presets), the initial state, m.room.name, m.room.topic, then one invite per
// invitee (with is_direct when asked). Nothing is created when any part of
// the request is wrong.
func (s *Store) CreateRoom(userID string, req CreateRoomRequest) (string, error) {
	if req.Preset == "" {
		req.Preset = "private_chat"
		if req.Visibility == "public" {
			req.Preset = "public_chat"
		}
	}
	preset, ok := presets[req.Preset]
	if !ok {
		return "", errf(ErrInvalidParam, "unknown preset %q", req.Preset)
	}
	if req.Visibility != "" && req.Visibility != "public" && req.Visibility != "private" {
		return "", errf(ErrInvalidParam, "visibility must be public or private")
	}
	if req.RoomVersion == "" {
		req.RoomVersion = DefaultRoomVersion
	}
	createContent := map[string]any{}
	if err := mergeObject(createContent, req.CreationContent, "creation_content"); err != nil {
		return "", err
	}
	createContent["creator"] = userID
	createContent["room_version"] = req.RoomVersion
	pl := map[string]any{
		"users":          map[string]int{userID: 100},
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"ban":            50,
		"kick":           50,
		"redact":         50,
		"invite":         0,
		"events": map[string]int{
			"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
			"m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100,
			"m.room.server_acl": 100, "m.room.encryption": 100,
		},
	}
	if preset.trusted {
		users := pl["users"].(map[string]int)
		for _, id := range req.Invite {
			users[id] = 100
		}
	}
	if err := mergeObject(pl, req.PowerLevelContentOverride, "power_level_content_override"); err != nil {
		return "", err
	}
	req.Invite = slices.Compact(slices.Sorted(slices.Values(req.Invite)))
	if slices.Contains(req.Invite, userID) {
		return "", errf(ErrInvalidParam, "the creator cannot invite themselves")
	}
	for _, id := range req.Invite {
		if err := s.checkTarget(id); err != nil {
			return "", err
		}
	}
	initial := make([]StateEvent, len(req.InitialState))
	for i, st := range req.InitialState {
		c, err := objectContent(st.Content)
		if err != nil || st.Type == "" {
			return "", errf(ErrBadJSON, "initial_state[%d] needs a type and an object content", i)
		}
		if st.Type == "m.room.create" || st.Type == "m.room.member" {
			return "", errf(ErrInvalidParam, "initial_state[%d]: %s cannot be set there", i, st.Type)
		}
		initial[i] = StateEvent{Type: st.Type, StateKey: st.StateKey, Content: c}
	}

	s.mu.Lock()
	var aliasName string
	if req.RoomAliasName != "" {
		aliasName = "#" + req.RoomAliasName + ":" + s.cfg.ServerName
		if err := s.checkNewAlias(aliasName); err != nil {
			s.mu.Unlock()
			return "", err
		}
	}
	r := &room{
		id:       "!" + s.cfg.NewID() + ":" + s.cfg.ServerName,
		version:  req.RoomVersion,
		state:    make(map[stateKeyOf]*event),
		typing:   make(map[string]time.Time),
		receipts: make(map[receiptKey]*receipt),
		unread:   make(map[string]*UnreadCounts),
	}
	s.w.rooms[r.id] = r
	send := func(typ, key string, content any) {
		c, ok := content.(json.RawMessage)
		if !ok {
			c = mustJSON(content)
		}
		s.appendEvent(r, draft{typ: typ, sender: userID, stateKey: &key, content: c})
	}
	send("m.room.create", "", createContent)
	send("m.room.member", userID, s.memberContent(userID, "join", "", false))
	send("m.room.power_levels", "", pl)
	if aliasName != "" {
		s.w.aliases[aliasName] = &alias{roomID: r.id, creator: userID}
		send("m.room.canonical_alias", "", map[string]string{"alias": aliasName})
	}
	send("m.room.join_rules", "", map[string]string{"join_rule": preset.joinRule})
	send("m.room.history_visibility", "", map[string]string{"history_visibility": preset.history})
	if preset.guests != "" {
		send("m.room.guest_access", "", map[string]string{"guest_access": preset.guests})
	}
	for _, st := range initial {
		send(st.Type, st.StateKey, st.Content)
	}
	if req.Name != "" {
		send("m.room.name", "", map[string]string{"name": req.Name})
	}
	if req.Topic != "" {
		send("m.room.topic", "", map[string]string{"topic": req.Topic})
	}
	for _, id := range req.Invite {
		send("m.room.member", id, s.memberContent(id, "invite", "", req.IsDirect))
	}
	if req.Visibility == "public" {
		s.w.directory[r.id] = struct{}{}
	}
	wake := append([]string{userID}, req.Invite...)
	s.mu.Unlock()
	s.wake.notify(wake...)
	return r.id, nil
}

// mergeObject merges the keys of a JSON object into dst; an empty raw value
// merges nothing.
func mergeObject(dst map[string]any, raw json.RawMessage, field string) error {
	if len(raw) == 0 {
		return nil
	}
	var extra map[string]any
	if err := json.Unmarshal(raw, &extra); err != nil || extra == nil {
		return errf(ErrBadJSON, "%s must be a JSON object", field)
	}
	maps.Copy(dst, extra)
	return nil
}
