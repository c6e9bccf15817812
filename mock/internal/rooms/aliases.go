package rooms

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// alias is a room alias entry.
type alias struct {
	roomID, creator string
}

// checkNewAlias fails unless name is a well-formed alias on this server that
// is not taken. The caller holds s.mu.
func (s *Store) checkNewAlias(name string) error {
	local, server, ok := strings.Cut(strings.TrimPrefix(name, "#"), ":")
	if !strings.HasPrefix(name, "#") || !ok || local == "" || strings.ContainsAny(local, ": \t\n") || len(name) > 255 {
		return errf(ErrInvalidParam, "malformed room alias %q", name)
	}
	if server != s.cfg.ServerName {
		return errf(ErrInvalidParam, "room alias %s is not on server %s", name, s.cfg.ServerName)
	}
	if s.w.aliases[name] != nil {
		return errf(ErrRoomInUse, "room alias %s already exists", name)
	}
	return nil
}

// SetAlias maps a new alias to a room, as userID. The alias must be on this
// server and free; the room must exist.
func (s *Store) SetAlias(userID, name, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkNewAlias(name); err != nil {
		return err
	}
	if _, err := s.room(roomID); err != nil {
		return err
	}
	s.w.aliases[name] = &alias{roomID: roomID, creator: userID}
	return nil
}

// ResolveAlias returns the room an alias points to and the servers that
// know it (this one).
func (s *Store) ResolveAlias(name string) (roomID string, servers []string, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.w.aliases[name]
	if a == nil {
		return "", nil, errf(ErrNotFound, "room alias %s not found", name)
	}
	return a.roomID, []string{s.cfg.ServerName}, nil
}

// DeleteAlias removes an alias, as its creator or a room member with the
// level to change m.room.canonical_alias.
func (s *Store) DeleteAlias(userID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.w.aliases[name]
	if a == nil {
		return errf(ErrNotFound, "room alias %s not found", name)
	}
	if a.creator != userID {
		r := s.w.rooms[a.roomID]
		if r == nil || r.membershipOf(userID) != "join" ||
			r.powers().userLevel(userID) < r.powers().eventLevel("m.room.canonical_alias", true) {
			return errf(ErrForbidden, "%s may not delete %s", userID, name)
		}
	}
	delete(s.w.aliases, name)
	return nil
}

// RoomAliases returns the local aliases of a room the user can read, sorted.
func (s *Store) RoomAliases(userID, roomID string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, _, err := s.readableRoom(userID, roomID); err != nil {
		return nil, err
	}
	names := []string{}
	for name, a := range s.w.aliases {
		if a.roomID == roomID {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// checkCanonicalAlias fails unless every alias of a m.room.canonical_alias
// content points to the room. The caller holds s.mu.
func (s *Store) checkCanonicalAlias(roomID string, content json.RawMessage) error {
	var c struct {
		Alias      string   `json:"alias"`
		AltAliases []string `json:"alt_aliases"`
	}
	if json.Unmarshal(content, &c) != nil {
		return errf(ErrBadJSON, "malformed m.room.canonical_alias content")
	}
	for _, name := range append([]string{c.Alias}, c.AltAliases...) {
		if name == "" {
			continue
		}
		if a := s.w.aliases[name]; a == nil || a.roomID != roomID {
			return errf(ErrInvalidParam, "alias %s does not point to %s", name, roomID)
		}
	}
	return nil
}

// Visibility returns "public" when the room is in the directory, "private"
// otherwise.
func (s *Store) Visibility(roomID string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.room(roomID); err != nil {
		return "", err
	}
	if _, ok := s.w.directory[roomID]; ok {
		return "public", nil
	}
	return "private", nil
}

// SetVisibility publishes ("public") or hides ("private") a room in the
// directory, as a joined member with the level to change
// m.room.canonical_alias.
func (s *Store) SetVisibility(userID, roomID, visibility string) error {
	if visibility != "public" && visibility != "private" {
		return errf(ErrInvalidParam, "visibility must be public or private")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.joinedRoom(userID, roomID)
	if err != nil {
		return err
	}
	if err := s.checkLevel(r, userID, r.powers().eventLevel("m.room.canonical_alias", true), "publish the room"); err != nil {
		return err
	}
	if visibility == "public" {
		s.w.directory[roomID] = struct{}{}
	} else {
		delete(s.w.directory, roomID)
	}
	return nil
}

// PublicRoom is one entry of the room directory.
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// PublicRooms is the answer of GET/POST /publicRooms.
type PublicRooms struct {
	Chunk                  []PublicRoom `json:"chunk"`
	NextBatch              string       `json:"next_batch,omitempty"`
	PrevBatch              string       `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate int          `json:"total_room_count_estimate"`
}

// PublicRooms lists the directory, largest rooms first, then by room ID.
// since is a next_batch or prev_batch from an earlier page ("p<offset>");
// search, when not empty, keeps rooms whose name, topic or alias contains
// it, ignoring case.
func (s *Store) PublicRooms(limit int, since, search string) (PublicRooms, error) {
	offset := 0
	if since != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(since, "p"))
		if !strings.HasPrefix(since, "p") || err != nil || n < 0 {
			return PublicRooms{}, errf(ErrInvalidParam, "malformed since %q", since)
		}
		offset = n
	}
	s.mu.RLock()
	all := []PublicRoom{}
	for id := range s.w.directory {
		p := s.w.rooms[id].public()
		hay := strings.ToLower(p.Name + " " + p.Topic + " " + p.CanonicalAlias)
		if search == "" || strings.Contains(hay, strings.ToLower(search)) {
			all = append(all, p)
		}
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].NumJoinedMembers != all[j].NumJoinedMembers {
			return all[i].NumJoinedMembers > all[j].NumJoinedMembers
		}
		return all[i].RoomID < all[j].RoomID
	})
	out := PublicRooms{TotalRoomCountEstimate: len(all), Chunk: []PublicRoom{}}
	offset = min(offset, len(all))
	end := len(all)
	if limit > 0 {
		end = min(end, offset+limit)
	}
	out.Chunk = append(out.Chunk, all[offset:end]...)
	if end < len(all) {
		out.NextBatch = "p" + strconv.Itoa(end)
	}
	if offset > 0 {
		out.PrevBatch = "p" + strconv.Itoa(max(0, offset-max(limit, 0)))
	}
	return out, nil
}

// public returns the room's directory entry.
func (r *room) public() PublicRoom {
	var c struct {
		Name              string `json:"name"`
		Topic             string `json:"topic"`
		Alias             string `json:"alias"`
		URL               string `json:"url"`
		HistoryVisibility string `json:"history_visibility"`
		GuestAccess       string `json:"guest_access"`
		Type              string `json:"type"`
	}
	for _, t := range []string{"m.room.name", "m.room.topic", "m.room.canonical_alias", "m.room.avatar", "m.room.history_visibility", "m.room.guest_access", "m.room.create"} {
		r.stateContent(t, &c)
	}
	return PublicRoom{
		RoomID: r.id, Name: c.Name, Topic: c.Topic, CanonicalAlias: c.Alias, AvatarURL: c.URL,
		NumJoinedMembers: len(r.unread),
		WorldReadable:    c.HistoryVisibility == "world_readable",
		GuestCanJoin:     c.GuestAccess == "can_join",
		JoinRule:         r.joinRule(),
		RoomType:         c.Type,
	}
}
