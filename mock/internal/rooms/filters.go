package rooms

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Filter is a sync filter (POST /user/{userId}/filter). The store applies
// the room, type and sender lists, timeline and state limits,
// include_leave and lazy_load_members; it keeps the rest as given.
type Filter struct {
	EventFields []string     `json:"event_fields,omitempty"`
	EventFormat string       `json:"event_format,omitempty"`
	Presence    *EventFilter `json:"presence,omitempty"`
	AccountData *EventFilter `json:"account_data,omitempty"`
	Room        *RoomFilter  `json:"room,omitempty"`
}

// EventFilter selects non-room events.
type EventFilter struct {
	Limit      int      `json:"limit,omitempty"`
	Types      []string `json:"types,omitempty"`
	NotTypes   []string `json:"not_types,omitempty"`
	Senders    []string `json:"senders,omitempty"`
	NotSenders []string `json:"not_senders,omitempty"`
}

// RoomFilter selects rooms and the events of each sync section.
type RoomFilter struct {
	Rooms        []string         `json:"rooms,omitempty"`
	NotRooms     []string         `json:"not_rooms,omitempty"`
	IncludeLeave bool             `json:"include_leave,omitempty"`
	Timeline     *RoomEventFilter `json:"timeline,omitempty"`
	State        *RoomEventFilter `json:"state,omitempty"`
	Ephemeral    *RoomEventFilter `json:"ephemeral,omitempty"`
	AccountData  *RoomEventFilter `json:"account_data,omitempty"`
}

// RoomEventFilter selects room events.
type RoomEventFilter struct {
	EventFilter
	Rooms                   []string `json:"rooms,omitempty"`
	NotRooms                []string `json:"not_rooms,omitempty"`
	LazyLoadMembers         bool     `json:"lazy_load_members,omitempty"`
	IncludeRedundantMembers bool     `json:"include_redundant_members,omitempty"`
	ContainsURL             *bool    `json:"contains_url,omitempty"`
}

// ParseFilter decodes a filter's JSON; malformed JSON or a negative limit is
// ErrBadJSON.
func ParseFilter(raw []byte) (*Filter, error) {
	var f Filter
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&f); err != nil {
		return nil, errf(ErrBadJSON, "filter: %v", err)
	}
	for _, l := range []int{f.room().timeline().Limit, f.room().state().Limit} {
		if l < 0 {
			return nil, errf(ErrBadJSON, "filter: limit must not be negative")
		}
	}
	return &f, nil
}

// ParseRoomEventFilter decodes the filter parameter of GET /messages;
// malformed JSON or a negative limit is ErrBadJSON.
func ParseRoomEventFilter(raw []byte) (*RoomEventFilter, error) {
	var f RoomEventFilter
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errf(ErrBadJSON, "filter: %v", err)
	}
	if f.Limit < 0 {
		return nil, errf(ErrBadJSON, "filter: limit must not be negative")
	}
	return &f, nil
}

// room returns the room filter; the nil filter selects everything.
func (f *Filter) room() *RoomFilter {
	if f == nil || f.Room == nil {
		return &RoomFilter{}
	}
	return f.Room
}

// accountData returns the global account data filter (nil: everything).
func (f *Filter) accountData() *EventFilter {
	if f == nil {
		return nil
	}
	return f.AccountData
}

// presence returns the presence filter (nil: everything).
func (f *Filter) presence() *EventFilter {
	if f == nil {
		return nil
	}
	return f.Presence
}

func (rf *RoomFilter) timeline() *RoomEventFilter { return orEmpty(rf.Timeline) }
func (rf *RoomFilter) state() *RoomEventFilter    { return orEmpty(rf.State) }

func orEmpty(f *RoomEventFilter) *RoomEventFilter {
	if f == nil {
		return &RoomEventFilter{}
	}
	return f
}

// wantsRoom reports whether the room filter selects a room.
func (rf *RoomFilter) wantsRoom(roomID string) bool {
	return (rf.Rooms == nil || slices.Contains(rf.Rooms, roomID)) && !slices.Contains(rf.NotRooms, roomID)
}

// basic returns the type and sender part of a filter (nil: everything).
func (f *RoomEventFilter) basic() *EventFilter {
	if f == nil {
		return nil
	}
	return &f.EventFilter
}

// matches reports whether a room event passes the filter; the nil filter
// passes everything.
func (f *RoomEventFilter) matches(e *event) bool {
	if f == nil {
		return true
	}
	if (f.Rooms != nil && !slices.Contains(f.Rooms, e.roomID)) || slices.Contains(f.NotRooms, e.roomID) {
		return false
	}
	if f.ContainsURL != nil && *f.ContainsURL != bytes.Contains(e.content, []byte(`"url"`)) {
		return false
	}
	return f.EventFilter.matches(e.typ, e.sender)
}

// matches reports whether an event of a type and sender passes the filter.
func (f *EventFilter) matches(typ, sender string) bool {
	if f == nil {
		return true
	}
	if f.Types != nil && !slices.ContainsFunc(f.Types, func(p string) bool { return typeMatches(p, typ) }) {
		return false
	}
	if slices.ContainsFunc(f.NotTypes, func(p string) bool { return typeMatches(p, typ) }) {
		return false
	}
	return (f.Senders == nil || slices.Contains(f.Senders, sender)) && !slices.Contains(f.NotSenders, sender)
}

// typeMatches matches an event type against a filter pattern, where "*"
// stands for any run of characters.
func typeMatches(pattern, typ string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == typ
	}
	if !strings.HasPrefix(typ, parts[0]) {
		return false
	}
	rest := typ[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}

// storedFilter is a filter kept for a user: its JSON as given and parsed.
type storedFilter struct {
	raw    json.RawMessage
	parsed *Filter
}

// CreateFilter stores a filter for userID and returns its ID.
func (s *Store) CreateFilter(userID string, raw json.RawMessage) (string, error) {
	f, err := ParseFilter(raw)
	if err != nil {
		return "", err
	}
	content, err := objectContent(raw)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(userID)
	u.filters = append(u.filters, storedFilter{raw: content, parsed: f})
	return strconv.Itoa(len(u.filters) - 1), nil
}

// FilterJSON returns a stored filter's JSON as it was given.
func (s *Store) FilterJSON(userID, filterID string) (json.RawMessage, error) {
	f, err := s.storedFilter(userID, filterID)
	return f.raw, err
}

// SyncFilter resolves the filter parameter of /sync: inline JSON when it
// starts with "{", a stored filter's ID otherwise; "" means no filter.
func (s *Store) SyncFilter(userID, param string) (*Filter, error) {
	switch {
	case param == "":
		return nil, nil
	case strings.HasPrefix(strings.TrimSpace(param), "{"):
		return ParseFilter([]byte(param))
	}
	f, err := s.storedFilter(userID, param)
	return f.parsed, err
}

// storedFilter looks a filter up.
func (s *Store) storedFilter(userID, filterID string) (storedFilter, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := strconv.Atoi(filterID)
	u := s.w.users[userID]
	if err != nil || u == nil || n < 0 || n >= len(u.filters) {
		return storedFilter{}, errf(ErrNotFound, "no filter %q for %s", filterID, userID)
	}
	return u.filters[n], nil
}
