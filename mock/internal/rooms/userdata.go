package rooms

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// userData is what the store keeps per user.
type userData struct {
	profile     Profile
	profileSet  bool
	accountData map[string]*dataEntry            // global, by type
	roomData    map[string]map[string]*dataEntry // by room ID, then type
	filters     []storedFilter                   // the filter ID is the index
	push        *pushRules                       // nil until first used: the defaults
	pushPos     int64                            // position of the last push rule change
	presence    presence
}

// dataEntry is one account data event and the position of its last change.
type dataEntry struct {
	content json.RawMessage
	pos     int64
}

// user returns a user's data, creating it. The caller holds s.mu for writing.
func (s *Store) user(userID string) *userData {
	u := s.w.users[userID]
	if u == nil {
		u = &userData{accountData: make(map[string]*dataEntry), roomData: make(map[string]map[string]*dataEntry)}
		s.w.users[userID] = u
	}
	return u
}

// Profile is a user's public profile.
type Profile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// profile returns a user's profile: what they set, or their localpart as
// display name, as homeservers give at registration. The caller holds s.mu.
func (s *Store) profile(userID string) Profile {
	if u := s.w.users[userID]; u != nil && u.profileSet {
		return u.profile
	}
	return Profile{DisplayName: localpart(userID)}
}

// Profile returns a registered user's profile.
func (s *Store) Profile(userID string) (Profile, error) {
	if !s.userExists(userID) {
		return Profile{}, errf(ErrNotFound, "unknown user %s", userID)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.profile(userID), nil
}

// SetDisplayName sets the user's display name and, as homeservers do, sends
// a new member event carrying it in every room the user is joined to.
func (s *Store) SetDisplayName(userID, name string) {
	s.setProfile(userID, func(p *Profile) { p.DisplayName = name })
}

// SetAvatarURL sets the user's avatar URL and updates their member events as
// SetDisplayName does.
func (s *Store) SetAvatarURL(userID, url string) {
	s.setProfile(userID, func(p *Profile) { p.AvatarURL = url })
}

// setProfile changes the profile and re-sends the user's join events.
func (s *Store) setProfile(userID string, change func(*Profile)) {
	s.mu.Lock()
	p := s.profile(userID)
	change(&p)
	u := s.user(userID)
	u.profile, u.profileSet = p, true
	var wake []string
	for _, roomID := range s.roomsOf(userID) { // sorted: event IDs stay repeatable
		r := s.w.rooms[roomID]
		if r.membershipOf(userID) != "join" {
			continue
		}
		key := userID
		e := s.appendEvent(r, draft{typ: "m.room.member", sender: userID, stateKey: &key, content: s.memberContent(userID, "join", "", false)})
		wake = append(wake, r.audience(e)...)
	}
	s.mu.Unlock()
	s.wake.notify(wake...)
}

// serverControlled lists the account data types clients may not set: global
// ones and room ones.
var serverControlled = map[bool]string{false: "m.push_rules", true: "m.fully_read"}

// SetAccountData sets a global account data event of the user.
func (s *Store) SetAccountData(userID, typ string, content json.RawMessage) error {
	return s.setData(userID, "", typ, content, false)
}

// SetRoomAccountData sets an account data event of the user in one room.
func (s *Store) SetRoomAccountData(userID, roomID, typ string, content json.RawMessage) error {
	if !strings.HasPrefix(roomID, "!") {
		return errf(ErrInvalidParam, "malformed room ID %q", roomID)
	}
	return s.setData(userID, roomID, typ, content, false)
}

// setData stores account data (room data when roomID is set) and wakes the
// user. internal lets the store set the server-controlled types.
func (s *Store) setData(userID, roomID, typ string, content json.RawMessage, internal bool) error {
	if !internal && typ == serverControlled[roomID != ""] {
		return errf(ErrServerControlled, "cannot set %s through the account data API", typ)
	}
	c, err := objectContent(content)
	if err != nil {
		return err
	}
	s.mu.Lock()
	u := s.user(userID)
	m := u.accountData
	if roomID != "" {
		if m = u.roomData[roomID]; m == nil {
			m = make(map[string]*dataEntry)
			u.roomData[roomID] = m
		}
	}
	m[typ] = &dataEntry{content: c, pos: s.next()}
	s.mu.Unlock()
	s.wake.notify(userID)
	return nil
}

// AccountData returns a global account data event's content.
func (s *Store) AccountData(userID, typ string) (json.RawMessage, error) {
	return s.data(userID, "", typ)
}

// RoomAccountData returns a room account data event's content.
func (s *Store) RoomAccountData(userID, roomID, typ string) (json.RawMessage, error) {
	return s.data(userID, roomID, typ)
}

// data looks account data up.
func (s *Store) data(userID, roomID, typ string) (json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var d *dataEntry
	if u := s.w.users[userID]; u != nil {
		if roomID == "" {
			d = u.accountData[typ]
		} else {
			d = u.roomData[roomID][typ]
		}
	}
	if d == nil {
		return nil, errf(ErrNotFound, "no account data %s", typ)
	}
	return d.content, nil
}

// presence is a user's presence state.
type presence struct {
	state      string // "" means never set: offline
	statusMsg  *string
	lastActive int64 // Unix milliseconds
	pos        int64
}

// PresenceStatus is the answer of GET /presence/{userId}/status and the
// content of m.presence events.
type PresenceStatus struct {
	Presence        string  `json:"presence"`
	LastActiveAgo   int64   `json:"last_active_ago,omitempty"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	CurrentlyActive bool    `json:"currently_active"`
}

// presenceStates are the values of presence.
var presenceStates = map[string]bool{"online": true, "offline": true, "unavailable": true}

// SetPresence sets the user's presence (online, offline or unavailable) and,
// when statusMsg is not nil, their status message; /sync's set_presence
// calls it with a nil statusMsg. Only a change wakes the user's room mates.
func (s *Store) SetPresence(userID, state string, statusMsg *string) error {
	if !presenceStates[state] {
		return errf(ErrInvalidParam, "presence must be online, offline or unavailable")
	}
	s.mu.Lock()
	u := s.user(userID)
	p := &u.presence
	changed := p.state != state || (statusMsg != nil && (p.statusMsg == nil || *p.statusMsg != *statusMsg))
	if state == "online" || p.lastActive == 0 {
		p.lastActive = s.cfg.Now().UnixMilli()
	}
	if !changed {
		s.mu.Unlock()
		return nil
	}
	p.state = state
	if statusMsg != nil {
		msg := *statusMsg
		p.statusMsg = &msg
	}
	p.pos = s.next()
	wake := s.roomMates(userID)
	s.mu.Unlock()
	s.wake.notify(wake...)
	return nil
}

// Presence returns a user's presence.
func (s *Store) Presence(userID string) (PresenceStatus, error) {
	if !s.userExists(userID) {
		return PresenceStatus{}, errf(ErrNotFound, "unknown user %s", userID)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.presenceOf(userID), nil
}

// presenceOf renders a user's presence. The caller holds s.mu.
func (s *Store) presenceOf(userID string) PresenceStatus {
	u := s.w.users[userID]
	if u == nil || u.presence.state == "" {
		return PresenceStatus{Presence: "offline"}
	}
	p := u.presence
	return PresenceStatus{
		Presence:        p.state,
		LastActiveAgo:   s.cfg.Now().UnixMilli() - p.lastActive,
		StatusMsg:       p.statusMsg,
		CurrentlyActive: p.state == "online",
	}
}

// roomMates returns the user and everyone joined to a room the user is
// joined to. The caller holds s.mu.
func (s *Store) roomMates(userID string) []string {
	ids := []string{userID}
	for _, roomID := range s.roomsOf(userID) {
		r := s.w.rooms[roomID]
		if r.membershipOf(userID) == "join" {
			ids = append(ids, r.joinedIDs()...)
		}
	}
	return ids
}

// SetTyping starts (for timeout on the store's clock) or stops the user's
// typing notice in a room they are joined to.
func (s *Store) SetTyping(userID, roomID string, typing bool, timeout time.Duration) error {
	s.mu.Lock()
	r, err := s.joinedRoom(userID, roomID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if typing {
		r.typing[userID] = s.cfg.Now().Add(timeout)
	} else if _, ok := r.typing[userID]; ok {
		delete(r.typing, userID)
	} else {
		s.mu.Unlock()
		return nil
	}
	r.typingPos = s.next()
	wake := r.joinedIDs()
	s.mu.Unlock()
	s.wake.notify(wake...)
	return nil
}

// ClockMoved ends the typing notices whose time is up and wakes every
// waiter, so long-polls re-check their deadline. Call it whenever the mock's
// clock is moved.
func (s *Store) ClockMoved() {
	s.mu.Lock()
	now := s.cfg.Now()
	for _, r := range s.w.rooms {
		expired := false
		for id, until := range r.typing {
			if !now.Before(until) {
				delete(r.typing, id)
				expired = true
			}
		}
		if expired {
			r.typingPos = s.next()
		}
	}
	s.mu.Unlock()
	s.WakeAll()
}

// typingUsers returns who is typing in a room now, sorted. The caller holds
// s.mu.
func (s *Store) typingUsers(r *room) []string {
	now := s.cfg.Now()
	ids := []string{}
	for id, until := range r.typing {
		if now.Before(until) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
