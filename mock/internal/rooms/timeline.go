package rooms

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Send is one client event to send (PUT /rooms/{roomId}/send/{eventType}/{txnId}).
type Send struct {
	// DeviceID and TxnID make the send idempotent: the same (user, device,
	// transaction) returns the first event's ID and sends nothing, also
	// across a token refresh on the same device. An empty TxnID never
	// deduplicates (a test sending as another user).
	DeviceID, TxnID string
	Type            string
	Content         json.RawMessage
}

// SendMessage sends a message event as userID, who must be joined with the
// level the event type needs, and returns its event ID.
func (s *Store) SendMessage(userID, roomID string, m Send) (string, error) {
	content, err := objectContent(m.Content)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if id, ok := s.w.txns[txnKey{userID, m.DeviceID, m.TxnID}]; ok && m.TxnID != "" {
		s.mu.Unlock()
		return id, nil
	}
	r, err := s.joinedRoom(userID, roomID)
	if err == nil {
		err = s.checkLevel(r, userID, r.powers().eventLevel(m.Type, false), "send "+m.Type)
	}
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	e := s.appendEvent(r, draft{typ: m.Type, sender: userID, content: content, device: m.DeviceID, txnID: m.TxnID})
	s.commitEvent(r, e)
	return e.id, nil
}

// commitEvent releases s.mu (held for writing) and wakes who sees e.
func (s *Store) commitEvent(r *room, e *event) {
	wake := r.audience(e)
	s.mu.Unlock()
	s.wake.notify(wake...)
}

// SetState sends a state event as userID and returns its event ID. Sending
// the same content as the current event of that type and key, by the same
// sender, returns the current event's ID and sends nothing. Membership
// changes go through JoinRoom, Invite, Leave, Kick and Ban; a m.room.member
// event here may only change the sender's own profile.
func (s *Store) SetState(userID, roomID string, st StateEvent) (string, error) {
	content, err := objectContent(st.Content)
	if err != nil {
		return "", err
	}
	if st.Type == "m.room.create" {
		return "", errf(ErrForbidden, "m.room.create cannot be changed")
	}
	s.mu.Lock()
	r, err := s.joinedRoom(userID, roomID)
	if err == nil && st.Type != "m.room.member" { // membership has its own rules
		err = s.checkLevel(r, userID, r.powers().eventLevel(st.Type, true), "set "+st.Type)
	}
	if err == nil && st.Type == "m.room.member" {
		var c struct {
			Membership string `json:"membership"`
		}
		_ = json.Unmarshal(content, &c)
		if st.StateKey != userID || c.Membership != "join" {
			err = errf(ErrForbidden, "membership changes use the membership operations")
		}
	}
	if err == nil && st.Type == "m.room.canonical_alias" {
		err = s.checkCanonicalAlias(roomID, content)
	}
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	if cur := r.state[stateKeyOf{st.Type, st.StateKey}]; cur != nil && cur.sender == userID && bytes.Equal(cur.content, content) {
		s.mu.Unlock()
		return cur.id, nil
	}
	key := st.StateKey
	e := s.appendEvent(r, draft{typ: st.Type, sender: userID, stateKey: &key, content: content})
	s.commitEvent(r, e)
	return e.id, nil
}

// State returns the room's current state, or the state at the user's leave
// if they left.
func (s *Store) State(userID, roomID string) ([]Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, until, err := s.readableRoom(userID, roomID)
	if err != nil {
		return nil, err
	}
	return renderAll(sortedState(r.stateAt(until)), s.view(userID, "", true)), nil
}

// StateEvent returns one state event (its Content is what GET
// /state/{eventType}/{stateKey} answers), with the visibility of State.
func (s *Store) StateEvent(userID, roomID, typ, stateKey string) (Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, until, err := s.readableRoom(userID, roomID)
	if err != nil {
		return Event{}, err
	}
	e := r.stateAt(until)[stateKeyOf{typ, stateKey}]
	if e == nil {
		return Event{}, errf(ErrNotFound, "no %s state with key %q in %s", typ, stateKey, roomID)
	}
	return e.render(s.view(userID, "", true)), nil
}

// Redact redacts an event as userID and returns the redaction's event ID. A
// user may redact their own events, or others' with the redact level. The
// transaction ID deduplicates as in SendMessage.
func (s *Store) Redact(userID, roomID, eventID, reason string, tx Send) (string, error) {
	s.mu.Lock()
	if id, ok := s.w.txns[txnKey{userID, tx.DeviceID, tx.TxnID}]; ok && tx.TxnID != "" {
		s.mu.Unlock()
		return id, nil
	}
	r, err := s.joinedRoom(userID, roomID)
	var target *event
	if err == nil {
		target = s.w.events[eventID]
		if target == nil || target.roomID != roomID {
			err = errf(ErrNotFound, "unknown event %s in %s", eventID, roomID)
		}
	}
	if err == nil && target.sender != userID {
		err = s.checkLevel(r, userID, levelOr(r.powers().Redact, 50), "redact others' events")
	}
	if err == nil {
		err = s.checkLevel(r, userID, r.powers().eventLevel("m.room.redaction", false), "send m.room.redaction")
	}
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	c := map[string]string{"redacts": eventID}
	if reason != "" {
		c["reason"] = reason
	}
	e := s.appendEvent(r, draft{typ: "m.room.redaction", sender: userID, content: mustJSON(c), redacts: eventID, device: tx.DeviceID, txnID: tx.TxnID})
	if target.redactedBy == nil {
		target.redactedBy = e
		target.content = redactedContent(target.typ, target.content)
		target.decodeLevels()
		for user := range r.unread {
			s.recountUnread(r, user)
		}
	}
	s.commitEvent(r, e)
	return e.id, nil
}

// EventByID returns one event of a room the user may read.
func (s *Store) EventByID(userID, roomID, eventID string) (Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, e, _, err := s.readableEvent(userID, roomID, eventID)
	if err != nil {
		return Event{}, err
	}
	return e.render(s.view(userID, "", true)), nil
}

// readableEvent returns an event the user may read, its room and the last
// position of the room they may see. The caller holds s.mu.
func (s *Store) readableEvent(userID, roomID, eventID string) (*room, *event, int64, error) {
	r, until, err := s.readableRoom(userID, roomID)
	if err != nil {
		return nil, nil, 0, err
	}
	e := s.w.events[eventID]
	if e == nil || e.roomID != r.id || e.pos > until {
		return nil, nil, 0, errf(ErrNotFound, "unknown event %s in %s", eventID, roomID)
	}
	return r, e, until, nil
}

// MessagesQuery is the query of GET /rooms/{roomId}/messages.
type MessagesQuery struct {
	// From is where to start: a token from /sync or an earlier page. Empty
	// means the end of the timeline going backwards, the start going
	// forwards.
	From string
	// To is where to stop, a token; empty means no bound.
	To string
	// Dir is "b" (backwards, newest first) or "f".
	Dir string
	// Limit is the page size (default 10); a filter's limit overrides it
	// when set.
	Limit int
	// Filter is a RoomEventFilter (types, senders, limit...), or nil.
	Filter *RoomEventFilter
	// DeviceID is the caller's device, for unsigned.transaction_id.
	DeviceID string
}

// Messages is the answer of GET /messages.
type Messages struct {
	Start string  `json:"start"`
	End   string  `json:"end,omitempty"`
	Chunk []Event `json:"chunk"`
	State []Event `json:"state,omitempty"`
}

// DefaultMessagesLimit is the page size of Messages without a limit.
const DefaultMessagesLimit = 10

// Messages pages through a room's timeline. A token "sN" stands between
// positions N and N+1: backwards from it come the events at N and before,
// forwards the events after N. End is absent when the page reaches the end
// of what the user may see.
func (s *Store) Messages(userID, roomID string, q MessagesQuery) (Messages, error) {
	if q.Dir != "b" && q.Dir != "f" {
		return Messages{}, errf(ErrInvalidParam, "dir must be b or f")
	}
	limit := q.Limit
	if q.Filter != nil && q.Filter.Limit > 0 {
		limit = q.Filter.Limit
	}
	if limit <= 0 {
		limit = DefaultMessagesLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, until, err := s.readableRoom(userID, roomID)
	if err != nil {
		return Messages{}, err
	}
	from, to := int64(0), int64(-1)
	if q.Dir == "b" {
		from = min(s.pos, until)
	}
	if q.From != "" {
		if from, err = ParseToken(q.From); err != nil {
			return Messages{}, err
		}
	}
	if q.To != "" {
		if to, err = ParseToken(q.To); err != nil {
			return Messages{}, err
		}
	}
	page := []*event{}
	end := from
	more := false
	if q.Dir == "b" {
		for i := r.after(min(from, until)) - 1; i >= 0; i-- {
			e := r.timeline[i]
			if to >= 0 && e.pos <= to {
				break
			}
			if len(page) == limit {
				more = true
				break
			}
			end = e.pos - 1
			if q.Filter.matches(e) {
				page = append(page, e)
			}
		}
	} else {
		for i := r.after(from); i < len(r.timeline) && r.timeline[i].pos <= until; i++ {
			e := r.timeline[i]
			if to >= 0 && e.pos > to {
				break
			}
			if len(page) == limit {
				more = true
				break
			}
			end = e.pos
			if q.Filter.matches(e) {
				page = append(page, e)
			}
		}
	}
	v := s.view(userID, q.DeviceID, true)
	out := Messages{Start: FormatToken(from), Chunk: renderAll(page, v)}
	if more {
		out.End = FormatToken(end)
	}
	if q.Filter != nil && q.Filter.LazyLoadMembers {
		out.State = renderAll(lazyMembers(r.stateAt(until), page, userID), v)
	}
	return out, nil
}

// Context is the answer of GET /context/{eventId}.
type Context struct {
	Event        Event   `json:"event"`
	EventsBefore []Event `json:"events_before"`
	EventsAfter  []Event `json:"events_after"`
	Start        string  `json:"start"`
	End          string  `json:"end"`
	State        []Event `json:"state"`
}

// Context returns an event with up to limit events around it: half before
// (newest first) and the rest after, as Synapse splits them, with the
// room's state at the last returned event and tokens for Messages.
func (s *Store) Context(userID, roomID, eventID string, limit int, deviceID string) (Context, error) {
	if limit <= 0 {
		limit = DefaultMessagesLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, e, until, err := s.readableEvent(userID, roomID, eventID)
	if err != nil {
		return Context{}, err
	}
	i := r.after(e.pos) - 1
	nb := limit / 2
	before := slices.Clone(r.timeline[max(0, i-nb):i])
	slices.Reverse(before)
	j := min(r.after(until), i+1+limit-nb)
	after := r.timeline[i+1 : j]
	last := e
	if len(after) > 0 {
		last = after[len(after)-1]
	}
	start := e.pos - 1
	if len(before) > 0 {
		start = before[len(before)-1].pos - 1
	}
	v := s.view(userID, deviceID, true)
	return Context{
		Event:        e.render(v),
		EventsBefore: renderAll(before, v),
		EventsAfter:  renderAll(after, v),
		Start:        FormatToken(start),
		End:          FormatToken(last.pos),
		State:        renderAll(sortedState(r.stateAt(last.pos)), v),
	}, nil
}

// lazyMembers returns the member events of the timeline's senders (and the
// viewer), for lazy_load_members.
func lazyMembers(st map[stateKeyOf]*event, timeline []*event, viewer string) []*event {
	seen := map[string]bool{viewer: true}
	for _, e := range timeline {
		seen[e.sender] = true
	}
	var out []*event
	for _, e := range sortedState(st) {
		if e.typ == "m.room.member" && seen[*e.stateKey] {
			out = append(out, e)
		}
	}
	return out
}
