package rooms

import (
	"encoding/json"
	"sort"
	"time"
)

// DefaultRoomVersion is the version of rooms created without one, as the
// spec recommends since v1.6.
const DefaultRoomVersion = "10"

// StableRoomVersions are the room versions the server offers as stable in
// the m.room_versions capability.
var StableRoomVersions = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}

// room is one room's timeline, current state and ephemeral data.
type room struct {
	id       string
	version  string
	timeline []*event // by position
	state    map[stateKeyOf]*event
	// typing maps a typing user to when their notice ends; typingPos is the
	// position of the last change.
	typing    map[string]time.Time
	typingPos int64
	receipts  map[receiptKey]*receipt
	// unread holds the notification counts of each joined member, and of
	// them only, kept up to date as events and receipts arrive: its keys
	// are the joined set.
	unread map[string]*UnreadCounts
}

// powerLevels is the part of m.room.power_levels the store enforces.
type powerLevels struct {
	Ban           *int           `json:"ban"`
	Events        map[string]int `json:"events"`
	EventsDefault int            `json:"events_default"`
	Invite        *int           `json:"invite"`
	Kick          *int           `json:"kick"`
	Redact        *int           `json:"redact"`
	StateDefault  *int           `json:"state_default"`
	Users         map[string]int `json:"users"`
	UsersDefault  int            `json:"users_default"`
}

// levelOr returns *p, or def when the field is absent.
func levelOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// powers returns the room's m.room.power_levels content (every room this
// store creates has one).
func (r *room) powers() powerLevels {
	if e := r.state[stateKeyOf{"m.room.power_levels", ""}]; e != nil && e.levels != nil {
		return *e.levels
	}
	return powerLevels{}
}

// decodeLevels sets e.levels from the content of an m.room.power_levels
// event; other events keep none.
func (e *event) decodeLevels() {
	if e.typ != "m.room.power_levels" || !e.isState() {
		return
	}
	var pl powerLevels
	_ = json.Unmarshal(e.content, &pl)
	e.levels = &pl
}

// userLevel returns a user's power level.
func (pl powerLevels) userLevel(userID string) int {
	if l, ok := pl.Users[userID]; ok {
		return l
	}
	return pl.UsersDefault
}

// eventLevel returns the level needed to send an event of type typ.
func (pl powerLevels) eventLevel(typ string, state bool) int {
	if l, ok := pl.Events[typ]; ok {
		return l
	}
	if state {
		return levelOr(pl.StateDefault, 50)
	}
	return pl.EventsDefault
}

// membershipOf returns a user's current membership ("" when none).
func (r *room) membershipOf(userID string) string {
	if e := r.memberEvent(userID); e != nil {
		return e.membership()
	}
	return ""
}

// memberEvent returns a user's current m.room.member event.
func (r *room) memberEvent(userID string) *event {
	return r.state[stateKeyOf{"m.room.member", userID}]
}

// members returns the user IDs with the given membership, sorted.
func (r *room) members(membership string) []string {
	var ids []string
	for k, e := range r.state {
		if k.typ == "m.room.member" && e.membership() == membership {
			ids = append(ids, k.key)
		}
	}
	sort.Strings(ids)
	return ids
}

// stateContent decodes the content of a current state event into v; it
// reports whether the event exists.
func (r *room) stateContent(typ string, v any) bool {
	e := r.state[stateKeyOf{typ, ""}]
	if e == nil {
		return false
	}
	_ = json.Unmarshal(e.content, v)
	return true
}

// joinRule returns the room's join rule.
func (r *room) joinRule() string {
	var c struct {
		JoinRule string `json:"join_rule"`
	}
	r.stateContent("m.room.join_rules", &c)
	if c.JoinRule == "" {
		return "invite"
	}
	return c.JoinRule
}

// stateAt returns the room's state after position pos: the current state
// with the state events after pos undone, newest first.
func (r *room) stateAt(pos int64) map[stateKeyOf]*event {
	st := make(map[stateKeyOf]*event, len(r.state))
	for k, e := range r.state {
		st[k] = e
	}
	for i := len(r.timeline) - 1; i >= 0 && r.timeline[i].pos > pos; i-- {
		e := r.timeline[i]
		if !e.isState() {
			continue
		}
		k := stateKeyOf{e.typ, *e.stateKey}
		if e.replaced != nil {
			st[k] = e.replaced
		} else {
			delete(st, k)
		}
	}
	return st
}

// sortedState returns a state map's events in a stable order (by position).
func sortedState(st map[stateKeyOf]*event) []*event {
	out := make([]*event, 0, len(st))
	for _, e := range st {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// after returns the index of the first timeline event past position pos.
func (r *room) after(pos int64) int {
	return sort.Search(len(r.timeline), func(i int) bool { return r.timeline[i].pos > pos })
}

// draft is an event about to be appended.
type draft struct {
	typ, sender   string
	stateKey      *string
	content       json.RawMessage
	redacts       string
	device, txnID string
}

// appendEvent stores an event in the room at the next stream position and
// returns it. The caller holds s.mu for writing and has checked permissions.
func (s *Store) appendEvent(r *room, d draft) *event {
	e := &event{
		pos:      s.next(),
		id:       "$" + s.cfg.NewID(),
		roomID:   r.id,
		typ:      d.typ,
		sender:   d.sender,
		stateKey: d.stateKey,
		content:  d.content,
		ts:       s.cfg.Now().UnixMilli(),
		redacts:  d.redacts,
		device:   d.device,
		txnID:    d.txnID,
	}
	r.timeline = append(r.timeline, e)
	s.w.events[e.id] = e
	e.decodeLevels()
	if e.isState() {
		k := stateKeyOf{e.typ, *e.stateKey}
		e.replaced = r.state[k]
		r.state[k] = e
		if e.typ == "m.room.member" {
			e.member = membershipIn(e.content)
			s.trackMember(*e.stateKey, r.id)
			if _, typing := r.typing[*e.stateKey]; typing && e.member != "join" {
				delete(r.typing, *e.stateKey) // a member who leaves stops typing
				r.typingPos = e.pos
			}
		}
	}
	r.countUnread(e)
	if d.txnID != "" {
		s.w.txns[txnKey{d.sender, d.device, d.txnID}] = e.id
	}
	return e
}

// trackMember records that a user has a membership event in a room.
func (s *Store) trackMember(userID, roomID string) {
	set := s.w.memberOf[userID]
	if set == nil {
		set = make(map[string]struct{})
		s.w.memberOf[userID] = set
	}
	set[roomID] = struct{}{}
}

// roomsOf returns, sorted, the rooms where the user has a membership event
// they have not forgotten. The caller holds s.mu.
func (s *Store) roomsOf(userID string) []string {
	ids := make([]string, 0, len(s.w.memberOf[userID]))
	for id := range s.w.memberOf[userID] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// isJoined reports whether a user is a joined member.
func (r *room) isJoined(userID string) bool {
	_, ok := r.unread[userID]
	return ok
}

// joinedIDs returns the joined members, unordered.
func (r *room) joinedIDs() []string {
	ids := make([]string, 0, len(r.unread)+1)
	for id := range r.unread {
		ids = append(ids, id)
	}
	return ids
}

// audience returns who must be woken by an event: the room's joined members,
// plus the target of a membership change.
func (r *room) audience(e *event) []string {
	ids := r.joinedIDs()
	if e.typ == "m.room.member" {
		ids = append(ids, *e.stateKey)
	}
	return ids
}

// room returns a room by ID. The caller holds s.mu.
func (s *Store) room(roomID string) (*room, error) {
	r := s.w.rooms[roomID]
	if r == nil {
		return nil, errf(ErrNotFound, "unknown room %s", roomID)
	}
	return r, nil
}

// joinedRoom returns a room the user is joined to.
func (s *Store) joinedRoom(userID, roomID string) (*room, error) {
	r, err := s.room(roomID)
	if err != nil {
		return nil, err
	}
	if r.membershipOf(userID) != "join" {
		return nil, errf(ErrForbidden, "%s is not in room %s", userID, roomID)
	}
	return r, nil
}

// visibleUntil returns the last position of the room's history the user may
// read: everything while joined, up to their leave after leaving. A user who
// never joined may read nothing, unless the room is world readable.
func (r *room) visibleUntil(userID string) (int64, bool) {
	m := r.memberEvent(userID)
	if m != nil {
		switch m.membership() {
		case "join":
			return 1<<62 - 1, true
		case "leave", "ban":
			if r.everJoined(userID, m.pos) {
				return m.pos, true
			}
		}
	}
	var hv struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	if r.stateContent("m.room.history_visibility", &hv) && hv.HistoryVisibility == "world_readable" {
		return 1<<62 - 1, true
	}
	return 0, false
}

// everJoined reports whether the user was joined at some point up to pos.
func (r *room) everJoined(userID string, pos int64) bool {
	for e := r.memberEvent(userID); e != nil; e = e.replaced {
		if e.pos <= pos && e.membership() == "join" {
			return true
		}
	}
	return false
}

// readableRoom returns a room whose history the user may read, with the
// last position they may see.
func (s *Store) readableRoom(userID, roomID string) (*room, int64, error) {
	r, err := s.room(roomID)
	if err != nil {
		return nil, 0, err
	}
	until, ok := r.visibleUntil(userID)
	if !ok {
		return nil, 0, errf(ErrForbidden, "%s may not read room %s", userID, roomID)
	}
	return r, until, nil
}

// RoomMates returns, sorted, the users who share a joined room with userID,
// userID among them when it is joined anywhere: whose device-list changes
// userID must see.
func (s *Store) RoomMates(userID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]struct{}{}
	for id := range s.w.memberOf[userID] {
		r := s.w.rooms[id]
		if r == nil || !r.isJoined(userID) {
			continue
		}
		for _, m := range r.joinedIDs() {
			seen[m] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
