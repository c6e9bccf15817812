package rooms

import (
	"encoding/json"
	"slices"
	"strings"
)

// notifies reports whether an event counts towards unread notifications:
// a message or an encrypted event that is not redacted.
func notifies(e *event) bool {
	return (e.typ == "m.room.message" || e.typ == "m.room.encrypted") && e.redactedBy == nil
}

// mentionTargets is what a message content says about who it mentions.
type mentionTargets struct {
	Body     string `json:"body"`
	Mentions struct {
		UserIDs []string `json:"user_ids"`
	} `json:"m.mentions"`
}

// mentionsOf decodes the mention-related parts of a content.
func mentionsOf(content json.RawMessage) mentionTargets {
	var m mentionTargets
	_ = json.Unmarshal(content, &m)
	return m
}

// mentions reports whether the content mentions the user: their ID in
// m.mentions, or their ID or localpart in the body (ignoring case).
func (m mentionTargets) mentions(userID string) bool {
	local := strings.ToLower(localpart(userID))
	return slices.Contains(m.Mentions.UserIDs, userID) || strings.Contains(m.Body, userID) ||
		(local != "" && strings.Contains(strings.ToLower(m.Body), local))
}

// countUnread updates the joined members' counts for a new event: a join
// starts a member's counts at zero, a leave drops them, and a message from
// someone else counts for every other member.
func (r *room) countUnread(e *event) {
	if e.typ == "m.room.member" {
		user := *e.stateKey
		if e.membership() != "join" {
			delete(r.unread, user)
		} else if r.unread[user] == nil {
			r.unread[user] = &UnreadCounts{}
		}
		return
	}
	if !notifies(e) {
		return
	}
	m := mentionsOf(e.content)
	for user, c := range r.unread {
		if user == e.sender {
			continue
		}
		c.NotificationCount++
		if m.mentions(user) {
			c.HighlightCount++
		}
	}
}

// recountUnread recounts a joined member's notifications: the messages from
// others after both their latest read receipt and the start of their
// current stay in the room. The caller holds s.mu for writing.
func (s *Store) recountUnread(r *room, userID string) {
	c := r.unread[userID]
	if c == nil {
		return
	}
	var joined int64 // the oldest join event of the current stay
	for e := r.memberEvent(userID); e != nil && e.membership() == "join"; e = e.replaced {
		joined = e.pos
	}
	from := max(s.lastRead(r, userID), joined)
	*c = UnreadCounts{}
	for _, e := range r.timeline[r.after(from):] {
		if e.sender == userID || !notifies(e) {
			continue
		}
		c.NotificationCount++
		if mentionsOf(e.content).mentions(userID) {
			c.HighlightCount++
		}
	}
}

// unreadOf returns a member's counts.
func (r *room) unreadOf(userID string) UnreadCounts {
	if c := r.unread[userID]; c != nil {
		return *c
	}
	return UnreadCounts{}
}
