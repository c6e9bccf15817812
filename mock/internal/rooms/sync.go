package rooms

import (
	"slices"
	"sort"
)

// DefaultTimelineLimit is the number of timeline events per room in a sync
// without a filter limit, as in Synapse.
const DefaultTimelineLimit = 10

// SyncRequest is one /sync call.
type SyncRequest struct {
	UserID, DeviceID string
	// Since is the since parameter; empty for an initial sync.
	Since string
	// Filter is the resolved filter parameter (see SyncFilter), or nil.
	Filter *Filter
	// FullState sends each room's whole state even in an incremental sync.
	FullState bool
}

// SyncResponse is the part of a /sync answer this package owns; it marshals
// to the spec's shape. The handler adds to_device, device_lists and
// device_one_time_keys_count (for instance by embedding it in a struct with
// those fields) and may append its own stream's token to NextBatch after an
// underscore.
type SyncResponse struct {
	NextBatch   string      `json:"next_batch"`
	Rooms       Rooms       `json:"rooms"`
	AccountData BasicEvents `json:"account_data"`
	Presence    BasicEvents `json:"presence"`
}

// Rooms holds a sync's rooms by membership.
type Rooms struct {
	Join   map[string]JoinedRoom  `json:"join"`
	Invite map[string]InvitedRoom `json:"invite"`
	Leave  map[string]LeftRoom    `json:"leave"`
}

// BasicEvents is an {"events": [...]} list of non-room events.
type BasicEvents struct {
	Events []BasicEvent `json:"events"`
}

// StateEvents is an {"events": [...]} list of state events.
type StateEvents struct {
	Events []Event `json:"events"`
}

// Timeline is a room's timeline in a sync.
type Timeline struct {
	Events []Event `json:"events"`
	// Limited is true when events between since and the first event were
	// left out; PrevBatch pages back to them with Messages.
	Limited   bool   `json:"limited"`
	PrevBatch string `json:"prev_batch,omitempty"`
}

// UnreadCounts are a room's notification counts for the user: the messages
// (m.room.message, m.room.encrypted, not redacted) from others since both
// the user's join and the event of their latest read receipt (public or
// private, any thread), and among them those that mention the user (ID or
// localpart in the body, or their ID in m.mentions). Push rules are not
// evaluated.
type UnreadCounts struct {
	NotificationCount int `json:"notification_count"`
	HighlightCount    int `json:"highlight_count"`
}

// RoomSummary is a joined room's member summary.
type RoomSummary struct {
	Heroes             []string `json:"m.heroes,omitempty"`
	JoinedMemberCount  int      `json:"m.joined_member_count"`
	InvitedMemberCount int      `json:"m.invited_member_count"`
}

// JoinedRoom is a room the user is joined to.
type JoinedRoom struct {
	Summary             RoomSummary  `json:"summary"`
	State               StateEvents  `json:"state"`
	Timeline            Timeline     `json:"timeline"`
	Ephemeral           BasicEvents  `json:"ephemeral"`
	AccountData         BasicEvents  `json:"account_data"`
	UnreadNotifications UnreadCounts `json:"unread_notifications"`
}

// InvitedRoom is a room the user is invited to.
type InvitedRoom struct {
	InviteState struct {
		Events []StrippedEvent `json:"events"`
	} `json:"invite_state"`
}

// LeftRoom is a room the user left (or was kicked or banned from) since the
// last sync, or any left room with the filter's include_leave in an initial
// sync.
type LeftRoom struct {
	State       StateEvents `json:"state"`
	Timeline    Timeline    `json:"timeline"`
	AccountData BasicEvents `json:"account_data"`
}

// Empty reports whether the response has nothing for the client; a
// long-poll keeps waiting while it (and the caller's own parts) are empty.
func (r *SyncResponse) Empty() bool {
	return len(r.Rooms.Join)+len(r.Rooms.Invite)+len(r.Rooms.Leave)+len(r.AccountData.Events)+len(r.Presence.Events) == 0
}

// Sync returns what changed for the user since req.Since (everything, for an
// initial sync). It never blocks: see LongPoll.
func (s *Store) Sync(req SyncRequest) (*SyncResponse, error) {
	var since int64
	if req.Since != "" {
		var err error
		if since, err = ParseToken(req.Since); err != nil {
			return nil, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	since = min(since, s.pos)
	sc := syncCtx{
		s: s, req: req, since: since, initial: req.Since == "",
		rf: req.Filter.room(), v: s.view(req.UserID, req.DeviceID, false),
	}
	out := &SyncResponse{
		NextBatch: FormatToken(s.pos),
		Rooms: Rooms{
			Join:   map[string]JoinedRoom{},
			Invite: map[string]InvitedRoom{},
			Leave:  map[string]LeftRoom{},
		},
		AccountData: sc.globalData(),
		Presence:    sc.presence(),
	}
	for _, id := range s.roomsOf(req.UserID) {
		if !sc.rf.wantsRoom(id) {
			continue
		}
		r := s.w.rooms[id]
		m := r.memberEvent(req.UserID)
		switch m.membership() {
		case "join":
			if jr, ok := sc.joined(r); ok {
				out.Rooms.Join[id] = jr
			}
		case "invite":
			if sc.initial || m.pos > since {
				out.Rooms.Invite[id] = sc.invited(r)
			}
		case "leave", "ban":
			if (sc.initial && sc.rf.IncludeLeave) || (!sc.initial && m.pos > since) {
				out.Rooms.Leave[id] = sc.left(r, m)
			}
		}
	}
	return out, nil
}

// syncCtx is one Sync call's inputs. It reads the store under s.mu.
type syncCtx struct {
	s       *Store
	req     SyncRequest
	since   int64
	initial bool
	rf      *RoomFilter
	v       view
}

// globalData returns the account data changed since the last sync, with
// m.push_rules when it changed.
func (sc *syncCtx) globalData() BasicEvents {
	out := BasicEvents{Events: []BasicEvent{}}
	f := sc.req.Filter.accountData()
	u := sc.s.w.users[sc.req.UserID]
	if (sc.initial || (u != nil && u.pushPos > sc.since)) && f.matches("m.push_rules", "") {
		out.Events = append(out.Events, sc.s.pushRulesEvent(sc.req.UserID))
	}
	if u != nil {
		out.Events = append(out.Events, changedData(u.accountData, sc.since, f)...)
	}
	return out
}

// changedData returns the account data events changed after since, by type.
func changedData(m map[string]*dataEntry, since int64, f *EventFilter) []BasicEvent {
	types := make([]string, 0, len(m))
	for typ, d := range m {
		if d.pos > since && f.matches(typ, "") {
			types = append(types, typ)
		}
	}
	sort.Strings(types)
	out := make([]BasicEvent, 0, len(types))
	for _, typ := range types {
		out = append(out, BasicEvent{Type: typ, Content: m[typ].content})
	}
	return out
}

// presence returns the presence changes of the user and their room mates.
func (sc *syncCtx) presence() BasicEvents {
	out := BasicEvents{Events: []BasicEvent{}}
	f := sc.req.Filter.presence()
	var ids []string
	for id, u := range sc.s.w.users {
		if u.presence.state != "" && u.presence.pos > sc.since && f.matches("m.presence", id) && sc.s.sharesRoom(sc.req.UserID, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		out.Events = append(out.Events, BasicEvent{Type: "m.presence", Sender: id, Content: mustJSON(sc.s.presenceOf(id))})
	}
	return out
}

// sharesRoom reports whether two users are the same or joined to a common
// room. The caller holds s.mu.
func (s *Store) sharesRoom(a, b string) bool {
	if a == b {
		return true
	}
	for id := range s.w.memberOf[b] {
		if r := s.w.rooms[id]; r.isJoined(a) && r.isJoined(b) {
			return true
		}
	}
	return false
}

// timelineLimit returns the filter's timeline limit or the default.
func (sc *syncCtx) timelineLimit() int {
	if l := sc.rf.timeline().Limit; l > 0 {
		return l
	}
	return DefaultTimelineLimit
}

// timeline returns the last events of r in (from, until] that pass the
// timeline filter, at most the limit, and whether some were left out.
func (sc *syncCtx) timeline(r *room, from, until int64) ([]*event, bool) {
	limit := sc.timelineLimit()
	f := sc.rf.Timeline
	var picked []*event
	limited := false
	for i := r.after(until) - 1; i >= 0 && r.timeline[i].pos > from; i-- {
		e := r.timeline[i]
		if !f.matches(e) {
			continue
		}
		if len(picked) == limit {
			limited = true
			break
		}
		picked = append(picked, e)
	}
	slices.Reverse(picked)
	return picked, limited
}

// section builds a room's timeline and state for events in (from, until]:
// full (the whole state before the timeline) or only the state changes
// between from and the timeline's start.
func (sc *syncCtx) section(r *room, from, until int64, full bool) (Timeline, StateEvents) {
	evs, limited := sc.timeline(r, from, until)
	start := until
	if len(evs) > 0 {
		start = evs[0].pos - 1
	}
	tl := Timeline{Events: renderAll(evs, sc.v), Limited: limited, PrevBatch: FormatToken(start)}
	sf := sc.rf.State
	lazy := sf != nil && sf.LazyLoadMembers
	var before map[stateKeyOf]*event // the state at the timeline's start
	if full || limited || lazy {
		before = r.stateAt(start)
	}
	var st []*event
	switch {
	case full:
		st = sortedState(before)
	case limited:
		for _, e := range sortedState(before) {
			if e.pos > from {
				st = append(st, e)
			}
		}
	}
	if lazy {
		// Member events only for the timeline's senders, sent again in
		// every sync where they speak (the store does not track what each
		// device already has), and the user's own in a full state.
		st = slices.DeleteFunc(st, func(e *event) bool { return e.typ == "m.room.member" })
		for _, m := range lazyMembers(before, evs, sc.req.UserID) {
			if full || *m.stateKey != sc.req.UserID {
				st = append(st, m)
			}
		}
		sort.Slice(st, func(i, j int) bool { return st[i].pos < st[j].pos })
	}
	st = slices.DeleteFunc(st, func(e *event) bool { return !sf.matches(e) })
	return tl, StateEvents{Events: renderAll(st, sc.v)}
}

// joined builds a joined room's entry; ok is false when nothing changed.
func (sc *syncCtx) joined(r *room) (JoinedRoom, bool) {
	user := sc.req.UserID
	fresh := sc.initial || r.membershipAt(user, sc.since) != "join"
	from := sc.since
	if sc.initial {
		from = 0
	}
	tl, st := sc.section(r, from, sc.s.pos, fresh || sc.req.FullState)
	dataSince := sc.since
	if fresh {
		dataSince = 0
	}
	jr := JoinedRoom{
		Timeline:    tl,
		State:       st,
		Ephemeral:   BasicEvents{Events: []BasicEvent{}},
		AccountData: BasicEvents{Events: []BasicEvent{}},
	}
	ef := sc.rf.Ephemeral.basic()
	if (fresh || r.typingPos > sc.since) && ef.matches("m.typing", "") {
		jr.Ephemeral.Events = append(jr.Ephemeral.Events, BasicEvent{Type: "m.typing", Content: mustJSON(map[string][]string{"user_ids": sc.s.typingUsers(r)})})
	}
	if rc := r.receiptContent(user, dataSince); rc != nil && ef.matches("m.receipt", "") {
		jr.Ephemeral.Events = append(jr.Ephemeral.Events, BasicEvent{Type: "m.receipt", Content: mustJSON(rc)})
	}
	if u := sc.s.w.users[user]; u != nil {
		jr.AccountData.Events = changedData(u.roomData[r.id], dataSince, sc.rf.AccountData.basic())
	}
	if !fresh && !sc.req.FullState && len(tl.Events)+len(st.Events)+len(jr.Ephemeral.Events)+len(jr.AccountData.Events) == 0 {
		return JoinedRoom{}, false
	}
	jr.Summary = r.summary(user)
	jr.UnreadNotifications = r.unreadOf(user)
	return jr, true
}

// invited builds an invited room's entry: the stripped state an invitee
// sees, with the inviter's and the invitee's member events.
func (sc *syncCtx) invited(r *room) InvitedRoom {
	var ir InvitedRoom
	ir.InviteState.Events = []StrippedEvent{}
	invite := r.memberEvent(sc.req.UserID)
	for _, typ := range []string{"m.room.create", "m.room.name", "m.room.avatar", "m.room.topic", "m.room.join_rules", "m.room.canonical_alias", "m.room.encryption"} {
		if e := r.state[stateKeyOf{typ, ""}]; e != nil {
			ir.InviteState.Events = append(ir.InviteState.Events, e.stripped())
		}
	}
	if inviter := r.memberEvent(invite.sender); inviter != nil && invite.sender != sc.req.UserID {
		ir.InviteState.Events = append(ir.InviteState.Events, inviter.stripped())
	}
	ir.InviteState.Events = append(ir.InviteState.Events, invite.stripped())
	return ir
}

// left builds a left room's entry: the timeline up to the leave (only the
// leave itself for a user who never joined, such as a rejected invite).
func (sc *syncCtx) left(r *room, m *event) LeftRoom {
	lr := LeftRoom{AccountData: BasicEvents{Events: []BasicEvent{}}}
	if !r.everJoined(sc.req.UserID, m.pos) {
		lr.Timeline = Timeline{Events: []Event{m.render(sc.v)}, PrevBatch: FormatToken(m.pos - 1)}
		lr.State = StateEvents{Events: []Event{}}
		return lr
	}
	fresh := sc.initial || r.membershipAt(sc.req.UserID, sc.since) != "join"
	lr.Timeline, lr.State = sc.section(r, sc.since, m.pos, fresh || sc.req.FullState)
	if u := sc.s.w.users[sc.req.UserID]; u != nil {
		lr.AccountData.Events = changedData(u.roomData[r.id], sc.since, sc.rf.AccountData.basic())
	}
	return lr
}

// membershipAt returns the user's membership after position pos.
func (r *room) membershipAt(userID string, pos int64) string {
	for e := r.memberEvent(userID); e != nil; e = e.replaced {
		if e.pos <= pos {
			return e.membership()
		}
	}
	return ""
}

// summary returns the member counts and, up to five, other members as
// heroes.
func (r *room) summary(userID string) RoomSummary {
	joined, invited := r.members("join"), r.members("invite")
	var heroes []string
	for _, id := range append(slices.Clone(joined), invited...) {
		if id != userID && len(heroes) < 5 {
			heroes = append(heroes, id)
		}
	}
	return RoomSummary{Heroes: heroes, JoinedMemberCount: len(joined), InvitedMemberCount: len(invited)}
}
