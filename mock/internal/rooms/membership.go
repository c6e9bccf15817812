package rooms

import (
	"encoding/json"
	"strings"
)

// memberContent builds an m.room.member content carrying the target's
// profile, as homeservers do.
func (s *Store) memberContent(target, membership, reason string, isDirect bool) json.RawMessage {
	c := map[string]any{"membership": membership}
	if membership == "join" || membership == "invite" {
		p := s.profile(target)
		if p.DisplayName != "" {
			c["displayname"] = p.DisplayName
		}
		if p.AvatarURL != "" {
			c["avatar_url"] = p.AvatarURL
		}
	}
	if reason != "" {
		c["reason"] = reason
	}
	if isDirect {
		c["is_direct"] = true
	}
	return mustJSON(c)
}

// changeMembership appends a membership event and wakes who sees it. The
// caller holds s.mu for writing; it is released here.
func (s *Store) changeMembership(r *room, sender, target, membership, reason string) {
	key := target
	s.commitEvent(r, s.appendEvent(r, draft{
		typ: "m.room.member", sender: sender, stateKey: &key,
		content: s.memberContent(target, membership, reason, false),
	}))
}

// JoinRoom joins userID to a room given by ID or alias and returns the room
// ID. A user may join a public room, or any room they are invited to; a
// banned user may not. Joining a room one is in changes nothing.
func (s *Store) JoinRoom(userID, roomIDOrAlias string) (string, error) {
	s.mu.Lock()
	roomID := roomIDOrAlias
	if strings.HasPrefix(roomIDOrAlias, "#") {
		a := s.w.aliases[roomIDOrAlias]
		if a == nil {
			s.mu.Unlock()
			return "", errf(ErrNotFound, "unknown alias %s", roomIDOrAlias)
		}
		roomID = a.roomID
	}
	r, err := s.room(roomID)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	switch m := r.membershipOf(userID); {
	case m == "join":
		s.mu.Unlock()
		return roomID, nil
	case m == "ban":
		s.mu.Unlock()
		return "", errf(ErrForbidden, "%s is banned from %s", userID, roomID)
	case m == "invite", r.joinRule() == "public":
	default:
		s.mu.Unlock()
		return "", errf(ErrForbidden, "%s is not invited to %s", userID, roomID)
	}
	s.changeMembership(r, userID, userID, "join", "")
	return roomID, nil
}

// Invite invites target to a room as userID, who must be joined with the
// invite power level. The target must exist and be neither joined nor
// banned. Inviting an invited user again changes nothing.
func (s *Store) Invite(userID, roomID, target, reason string) error {
	if err := s.checkTarget(target); err != nil {
		return err
	}
	s.mu.Lock()
	r, err := s.joinedRoom(userID, roomID)
	if err == nil {
		err = s.checkLevel(r, userID, levelOr(r.powers().Invite, 0), "invite")
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	switch r.membershipOf(target) {
	case "invite":
		s.mu.Unlock()
		return nil
	case "join", "ban":
		s.mu.Unlock()
		return errf(ErrForbidden, "%s is %s in %s", target, r.membershipOf(target), roomID)
	}
	s.changeMembership(r, userID, target, "invite", reason)
	return nil
}

// Leave makes userID leave a room, or reject its invite. Leaving a room one
// has already left changes nothing; a user who never had a membership in the
// room gets ErrForbidden.
func (s *Store) Leave(userID, roomID, reason string) error {
	s.mu.Lock()
	r, err := s.room(roomID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	switch r.membershipOf(userID) {
	case "join", "invite":
		s.changeMembership(r, userID, userID, "leave", reason)
		return nil
	case "":
		s.mu.Unlock()
		return errf(ErrForbidden, "%s is not in room %s", userID, roomID)
	default:
		s.mu.Unlock()
		return nil
	}
}

// Forget hides a room the user has left from their syncs. Forgetting a room
// one is still joined to fails with ErrStillJoined; forgetting an unknown
// room succeeds, as in Synapse.
func (s *Store) Forget(userID, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.w.rooms[roomID]
	if r == nil {
		return nil
	}
	if m := r.membershipOf(userID); m == "join" || m == "invite" {
		return errf(ErrStillJoined, "%s is still %sd in %s", userID, m, roomID)
	}
	delete(s.w.memberOf[userID], roomID)
	return nil
}

// Kick removes target (joined or invited) from a room as userID, who needs
// the kick level and a level above the target's.
func (s *Store) Kick(userID, roomID, target, reason string) error {
	return s.sanction(userID, roomID, target, reason, "leave")
}

// Ban bans target from a room as userID, who needs the ban level and a level
// above the target's.
func (s *Store) Ban(userID, roomID, target, reason string) error {
	return s.sanction(userID, roomID, target, reason, "ban")
}

// sanction kicks (membership "leave") or bans a target.
func (s *Store) sanction(userID, roomID, target, reason, membership string) error {
	s.mu.Lock()
	r, err := s.joinedRoom(userID, roomID)
	if err == nil && !validUserID(target) {
		err = errf(ErrInvalidParam, "malformed user ID %q", target)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	pl := r.powers()
	need, what := levelOr(pl.Ban, 50), "ban"
	if membership == "leave" {
		need, what = levelOr(pl.Kick, 50), "kick"
		if m := r.membershipOf(target); m != "join" && m != "invite" {
			s.mu.Unlock()
			return errf(ErrForbidden, "%s is not in room %s", target, roomID)
		}
	}
	if err := s.checkLevel(r, userID, need, what); err != nil {
		s.mu.Unlock()
		return err
	}
	if target != userID && pl.userLevel(target) >= pl.userLevel(userID) {
		s.mu.Unlock()
		return errf(ErrForbidden, "%s's power level is not below %s's", target, userID)
	}
	s.changeMembership(r, userID, target, membership, reason)
	return nil
}

// Unban lifts target's ban as userID, who needs the ban level.
func (s *Store) Unban(userID, roomID, target, reason string) error {
	s.mu.Lock()
	r, err := s.joinedRoom(userID, roomID)
	if err == nil {
		err = s.checkLevel(r, userID, levelOr(r.powers().Ban, 50), "unban")
	}
	if err == nil && r.membershipOf(target) != "ban" {
		err = errf(ErrForbidden, "%s is not banned from %s", target, roomID)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.changeMembership(r, userID, target, "leave", reason)
	return nil
}

// checkLevel fails unless the user's power level reaches need.
func (s *Store) checkLevel(r *room, userID string, need int, what string) error {
	if r.powers().userLevel(userID) < need {
		return errf(ErrForbidden, "%s needs power level %d to %s", userID, need, what)
	}
	return nil
}

// JoinedRooms returns the IDs of the rooms userID is joined to, sorted.
func (s *Store) JoinedRooms(userID string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := []string{}
	for _, id := range s.roomsOf(userID) {
		if s.w.rooms[id].membershipOf(userID) == "join" {
			ids = append(ids, id)
		}
	}
	return ids
}

// MembersQuery narrows GET /members.
type MembersQuery struct {
	// At is a sync or pagination token: the members at that point.
	At string
	// Membership keeps only this membership; NotMembership drops one.
	Membership, NotMembership string
}

// Members returns the room's m.room.member events, which the user must be
// able to read (joined, or left: the members at their leave).
func (s *Store) Members(userID, roomID string, q MembersQuery) ([]Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, until, err := s.readableRoom(userID, roomID)
	if err != nil {
		return nil, err
	}
	if q.At != "" {
		at, err := ParseToken(q.At)
		if err != nil {
			return nil, err
		}
		until = min(until, at)
	}
	var out []*event
	for _, e := range sortedState(r.stateAt(until)) {
		m := ""
		if e.typ == "m.room.member" {
			m = e.membership()
		}
		if m == "" || (q.Membership != "" && m != q.Membership) || (q.NotMembership != "" && m == q.NotMembership) {
			continue
		}
		out = append(out, e)
	}
	return renderAll(out, s.view(userID, "", true)), nil
}

// JoinedMember is one entry of GET /joined_members.
type JoinedMember struct {
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// JoinedMembers returns the joined members of a room the user is joined to,
// with the profile in their member event.
func (s *Store) JoinedMembers(userID, roomID string) (map[string]JoinedMember, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.joinedRoom(userID, roomID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]JoinedMember)
	for _, id := range r.members("join") {
		var c struct {
			DisplayName string `json:"displayname"`
			AvatarURL   string `json:"avatar_url"`
		}
		_ = json.Unmarshal(r.memberEvent(id).content, &c)
		out[id] = JoinedMember{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL}
	}
	return out, nil
}

// view returns the rendering view for a user at the current time.
func (s *Store) view(userID, deviceID string, withRoomID bool) view {
	return view{userID: userID, deviceID: deviceID, nowMS: s.cfg.Now().UnixMilli(), withRoomID: withRoomID}
}
