package rooms

import "sort"

// receiptKey identifies a receipt: one per type, user and thread ("" for an
// unthreaded receipt).
type receiptKey struct{ typ, user, thread string }

// receipt is where a user's receipt points and when it was set.
type receipt struct {
	eventID string
	ts      int64
	pos     int64
}

// receiptTypes are the receipt types the store keeps.
var receiptTypes = map[string]bool{"m.read": true, "m.read.private": true}

// SendReceipt records a receipt (m.read, m.read.private, or m.fully_read,
// which sets the read marker) of the user on an event of a room they are
// joined to. threadID is "" (unthreaded), "main" or a thread root's event ID.
// Receipts only move: one for an event older than the current one of the
// same type and thread is kept but changes nothing.
func (s *Store) SendReceipt(userID, roomID, typ, eventID, threadID string) error {
	if typ == "m.fully_read" {
		return s.SetReadMarkers(userID, roomID, eventID, "", "")
	}
	if !receiptTypes[typ] {
		return errf(ErrInvalidParam, "unknown receipt type %q", typ)
	}
	s.mu.Lock()
	r, e, err := s.receiptTarget(userID, roomID, eventID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	wake := s.putReceipt(r, receiptKey{typ, userID, threadID}, e)
	s.mu.Unlock()
	s.wake.notify(wake...)
	return nil
}

// receiptTarget checks that the user is joined and the event is in the room.
// The caller holds s.mu.
func (s *Store) receiptTarget(userID, roomID, eventID string) (*room, *event, error) {
	r, err := s.joinedRoom(userID, roomID)
	if err != nil {
		return nil, nil, err
	}
	e := s.w.events[eventID]
	if e == nil || e.roomID != roomID {
		return nil, nil, errf(ErrNotFound, "unknown event %s in %s", eventID, roomID)
	}
	return r, e, nil
}

// putReceipt stores a receipt that moves forward and returns who must be
// woken: the room's members, or only the user for a private receipt. The
// caller holds s.mu for writing.
func (s *Store) putReceipt(r *room, k receiptKey, e *event) []string {
	if old := r.receipts[k]; old != nil {
		if cur := s.w.events[old.eventID]; cur != nil && cur.pos >= e.pos {
			return nil
		}
	}
	r.receipts[k] = &receipt{eventID: e.id, ts: s.cfg.Now().UnixMilli(), pos: s.next()}
	s.recountUnread(r, k.user)
	if k.typ == "m.read.private" {
		return []string{k.user}
	}
	return r.joinedIDs()
}

// SetReadMarkers moves the user's fully-read marker (room account data
// m.fully_read), public read receipt and private read receipt; empty
// arguments are left alone.
func (s *Store) SetReadMarkers(userID, roomID, fullyRead, read, readPrivate string) error {
	s.mu.Lock()
	// Check every event first, so that a bad one changes nothing.
	for _, id := range []string{fullyRead, read, readPrivate} {
		if id == "" {
			continue
		}
		if _, _, err := s.receiptTarget(userID, roomID, id); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	var wake []string
	for _, m := range []struct{ typ, eventID string }{{"m.read", read}, {"m.read.private", readPrivate}} {
		if m.eventID != "" {
			r, e, _ := s.receiptTarget(userID, roomID, m.eventID)
			wake = append(wake, s.putReceipt(r, receiptKey{m.typ, userID, ""}, e)...)
		}
	}
	s.mu.Unlock()
	s.wake.notify(wake...)
	if fullyRead != "" {
		return s.setData(userID, roomID, "m.fully_read", mustJSON(map[string]string{"event_id": fullyRead}), true)
	}
	return nil
}

// receiptContent builds an m.receipt content from receipts newer than since
// that the viewer may see (private ones only their own); nil when none.
func (r *room) receiptContent(viewer string, since int64) map[string]map[string]map[string]any {
	keys := make([]receiptKey, 0, len(r.receipts))
	for k, rc := range r.receipts {
		if rc.pos > since && (k.typ != "m.read.private" || k.user == viewer) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool { return r.receipts[keys[i]].pos < r.receipts[keys[j]].pos })
	out := make(map[string]map[string]map[string]any)
	for _, k := range keys {
		rc := r.receipts[k]
		byType := out[rc.eventID]
		if byType == nil {
			byType = make(map[string]map[string]any)
			out[rc.eventID] = byType
		}
		byUser := byType[k.typ]
		if byUser == nil {
			byUser = make(map[string]any)
			byType[k.typ] = byUser
		}
		info := map[string]any{"ts": rc.ts}
		if k.thread != "" {
			info["thread_id"] = k.thread
		}
		byUser[k.user] = info
	}
	return out
}

// lastRead returns the position of the event of the user's latest read
// receipt, public or private, in any thread; 0 when none.
func (s *Store) lastRead(r *room, userID string) int64 {
	var pos int64
	for k, rc := range r.receipts {
		if k.user == userID {
			if e := s.w.events[rc.eventID]; e != nil && e.pos > pos {
				pos = e.pos
			}
		}
	}
	return pos
}
