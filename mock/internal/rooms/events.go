package rooms

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Event is a room event as a client sees it (the spec's ClientEvent). RoomID
// is empty inside /sync, where the room is the map key.
type Event struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	RoomID         string          `json:"room_id,omitempty"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key,omitempty"`
	Type           string          `json:"type"`
	Redacts        string          `json:"redacts,omitempty"`
	Unsigned       *Unsigned       `json:"unsigned,omitempty"`
}

// Unsigned is the data a server adds to an event for one viewer.
type Unsigned struct {
	// Age is the milliseconds since the event was sent, on the store's clock.
	Age int64 `json:"age"`
	// TransactionID is set only for the sender's device that sent it.
	TransactionID string `json:"transaction_id,omitempty"`
	// PrevContent is a state event's previous content.
	PrevContent json.RawMessage `json:"prev_content,omitempty"`
	// RedactedBecause is the redaction event of a redacted event.
	RedactedBecause *Event `json:"redacted_because,omitempty"`
}

// StrippedEvent is a state event as an invitee sees it before joining.
type StrippedEvent struct {
	Content  json.RawMessage `json:"content"`
	Sender   string          `json:"sender"`
	StateKey string          `json:"state_key"`
	Type     string          `json:"type"`
}

// BasicEvent is an account data, ephemeral or presence event.
type BasicEvent struct {
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
	Sender  string          `json:"sender,omitempty"`
}

// event is a stored room event.
type event struct {
	pos      int64
	id       string
	roomID   string
	typ      string
	sender   string
	stateKey *string
	content  json.RawMessage
	ts       int64 // origin_server_ts, Unix milliseconds
	redacts  string
	// device and txnID identify the client transaction that sent the event.
	device, txnID string
	// replaced is the state event this one replaced (same type and key).
	replaced   *event
	redactedBy *event
	// member is the membership of an m.room.member event (a redaction
	// keeps it).
	member string
	// levels is the content of an m.room.power_levels event, decoded once
	// (again after a redaction) rather than at every check.
	levels *powerLevels
}

// isState reports whether the event is a state event.
func (e *event) isState() bool { return e.stateKey != nil }

// stateKeyOf is the key of a state event in a room's current state.
type stateKeyOf struct{ typ, key string }

// membership returns the membership of an m.room.member event.
func (e *event) membership() string { return e.member }

// membershipIn decodes the membership of an m.room.member content.
func membershipIn(content json.RawMessage) string {
	var c struct {
		Membership string `json:"membership"`
	}
	_ = json.Unmarshal(content, &c)
	return c.Membership
}

// view is who reads an event: unsigned data depends on it.
type view struct {
	userID, deviceID string
	nowMS            int64
	withRoomID       bool
}

// render returns the event as the viewer sees it.
func (e *event) render(v view) Event {
	out := Event{
		Content:        e.content,
		EventID:        e.id,
		OriginServerTS: e.ts,
		Sender:         e.sender,
		StateKey:       e.stateKey,
		Type:           e.typ,
		Redacts:        e.redacts,
		Unsigned:       &Unsigned{Age: v.nowMS - e.ts},
	}
	if e.replaced != nil {
		out.Unsigned.PrevContent = e.replaced.content
	}
	if v.withRoomID {
		out.RoomID = e.roomID
	}
	if e.txnID != "" && e.sender == v.userID && e.device == v.deviceID {
		out.Unsigned.TransactionID = e.txnID
	}
	if e.redactedBy != nil {
		rb := e.redactedBy.render(view{userID: v.userID, nowMS: v.nowMS, withRoomID: v.withRoomID})
		out.Unsigned.RedactedBecause = &rb
	}
	return out
}

// renderAll renders events in order.
func renderAll(evs []*event, v view) []Event {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.render(v))
	}
	return out
}

// stripped returns the event as invite state.
func (e *event) stripped() StrippedEvent {
	return StrippedEvent{Content: e.content, Sender: e.sender, StateKey: *e.stateKey, Type: e.typ}
}

// keptOnRedaction lists, per event type, the content keys a redaction keeps
// (room version 10's algorithm); other types lose their whole content.
var keptOnRedaction = map[string][]string{
	"m.room.member":             {"membership", "join_authorised_via_users_server"},
	"m.room.create":             {"creator"},
	"m.room.join_rules":         {"join_rule", "allow"},
	"m.room.power_levels":       {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"},
	"m.room.history_visibility": {"history_visibility"},
}

// redactedContent returns content stripped to what a redaction keeps.
func redactedContent(typ string, content json.RawMessage) json.RawMessage {
	keep := keptOnRedaction[typ]
	if len(keep) == 0 {
		return json.RawMessage(`{}`)
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(content, &all) != nil {
		return json.RawMessage(`{}`)
	}
	kept := make(map[string]json.RawMessage, len(keep))
	for _, k := range keep {
		if v, ok := all[k]; ok {
			kept[k] = v
		}
	}
	b, _ := json.Marshal(kept)
	return b
}

// objectContent checks that content is a JSON object and returns it compacted.
func objectContent(content json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(content)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, errf(ErrBadJSON, "content must be a JSON object")
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, trimmed)
	return buf.Bytes(), nil
}

// mustJSON marshals a value built by this package.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("rooms: marshal of a built value: " + err.Error())
	}
	return b
}

// FormatToken returns the sync or pagination token for a stream position.
func FormatToken(pos int64) string { return "s" + strconv.FormatInt(pos, 10) }

// ParseToken reads a token made by FormatToken. Anything after the first
// underscore is ignored: it belongs to another package's stream.
func ParseToken(token string) (int64, error) {
	head, _, _ := strings.Cut(token, "_")
	n, err := strconv.ParseInt(strings.TrimPrefix(head, "s"), 10, 64)
	if !strings.HasPrefix(head, "s") || err != nil || n < 0 {
		return 0, errf(ErrInvalidParam, "malformed token %q", token)
	}
	return n, nil
}
