// Package keys holds the end-to-end encryption bookkeeping of the mock
// homeserver: what a client SDK uploads and fetches to start its crypto.
// It owns, per user and device, the device keys, one-time keys and fallback
// keys; per user, the cross-signing keys and the signatures uploaded on
// them; the to-device message queues; the change log of device lists; and
// the key backup versions (not the backed-up room keys). No cryptography is
// checked: keys and signatures are stored and returned as uploaded.
//
// The package knows nothing of HTTP or of rooms. What it needs from the
// rest of the homeserver comes in Config as functions: who shares a room
// with whom, a user's devices, a device's display name, and whom to wake
// when something new arrives for them.
//
// # Positions
//
// Every change (a key upload that changes a device list, a claimed key, a
// queued to-device message, a deletion) takes the next position of one
// monotonically increasing int64 stream, starting after 0. Methods that
// answer "what happened since" take and return positions of this stream; a
// sync token can carry one as its keys part. Position 0 means "before
// everything" (an initial sync). Positions survive Reset, so a token issued
// before a reset never hides later changes. The change log and the
// to-device transaction IDs seen grow until Reset (a deleted device's
// go with it): a test's worth of state, not a server's.
//
// A Store is safe for concurrent use. Config's functions are never called
// while the Store's lock is held, so they may call back into the Store.
package keys

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// Config is what a Store needs from the rest of the homeserver. Every field
// may be nil.
type Config struct {
	// Peers returns the users who share a room with userID (userID itself
	// may be among them). Nil: nobody shares a room with anybody, so a
	// user's device-list changes are seen by that user only.
	Peers func(userID string) []string
	// Devices returns the device IDs of userID, to deliver a to-device
	// message sent to "*". Nil: "*" reaches no device.
	Devices func(userID string) []string
	// DisplayName returns a device's display name, shown by Query as
	// unsigned.device_display_name when not empty. Nil: not shown.
	DisplayName func(userID, deviceID string) string
	// OnChange is called with the users who have something new: a
	// to-device message, a device-list change of themselves or of a user
	// they share a room with, a one-time key of theirs claimed. A sync
	// long-poll of theirs should look again. Nil: nobody is told.
	OnChange func(userIDs ...string)
}

// Store is the key bookkeeping of every user. Create it with New.
type Store struct {
	cfg Config

	mu      sync.Mutex
	pos     int64            // the last position taken
	users   map[string]*user // by user ID
	changes []change         // device-list changes, in position order
}

// user is one user's keys.
type user struct {
	devices map[string]*device // by device ID
	cross   map[string]*object // cross-signing keys by usage: master, self_signing, user_signing
	backups backups
}

// change records that a user's device list (device keys, cross-signing
// keys or signatures on them) changed at a position.
type change struct {
	pos    int64
	userID string
}

// New returns an empty Store.
func New(cfg Config) *Store {
	return &Store{cfg: cfg, users: make(map[string]*user)}
}

// Reset drops all state. Positions keep increasing (see the package doc).
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = make(map[string]*user)
	s.changes = nil
}

// Pos returns the current position: everything up to it has happened.
func (s *Store) Pos() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

// next takes the next position. s.mu must be held.
func (s *Store) next() int64 {
	s.pos++
	return s.pos
}

// user returns userID's keys, created empty if absent. s.mu must be held.
func (s *Store) user(userID string) *user {
	u := s.users[userID]
	if u == nil {
		u = &user{devices: make(map[string]*device), cross: make(map[string]*object)}
		s.users[userID] = u
	}
	return u
}

// device returns the device's keys, created empty if absent. s.mu must be
// held.
func (s *Store) device(userID, deviceID string) *device {
	u := s.user(userID)
	d := u.devices[deviceID]
	if d == nil {
		d = &device{oneTime: make(map[string][]oneTimeKey), fallback: make(map[string]*fallbackKey)}
		u.devices[deviceID] = d
	}
	return d
}

// lookupDevice returns the device's keys, or nil. s.mu must be held.
func (s *Store) lookupDevice(userID, deviceID string) *device {
	if u := s.users[userID]; u != nil {
		return u.devices[deviceID]
	}
	return nil
}

// changed records that userID's device list changed. s.mu must be held.
func (s *Store) changed(userID string) {
	s.changes = append(s.changes, change{pos: s.next(), userID: userID})
}

// changedBetween returns the users whose device list changed in (from, to]
// and for whom keep is true, sorted. s.mu must be held.
func (s *Store) changedBetween(from, to int64, keep func(string) bool) []string {
	i, _ := slices.BinarySearchFunc(s.changes, from+1, func(c change, p int64) int { return cmp.Compare(c.pos, p) })
	seen := make(map[string]bool)
	for _, c := range s.changes[i:] {
		if c.pos > to {
			break
		}
		if !seen[c.userID] && keep(c.userID) {
			seen[c.userID] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// peers returns the users who share a room with userID, and userID.
// Never call it with s.mu held.
func (s *Store) peers(userID string) []string {
	var out []string
	if s.cfg.Peers != nil {
		out = s.cfg.Peers(userID)
	}
	if !slices.Contains(out, userID) {
		out = append(out, userID)
	}
	return out
}

// notify tells OnChange about users, and about the users whose device list
// changed together with everyone who shares a room with them. Never call it
// with s.mu held.
func (s *Store) notify(users []string, listChanged ...string) {
	if s.cfg.OnChange == nil {
		return
	}
	for _, u := range listChanged {
		users = append(users, s.peers(u)...)
	}
	slices.Sort(users)
	users = slices.Compact(users)
	if len(users) > 0 {
		s.cfg.OnChange(users...)
	}
}
