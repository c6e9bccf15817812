package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Snapshot is the lasting part of a Store, in a form that encoding/json
// writes and reads: users, their devices and the token pairs of each.
// Login tokens and user-interactive auth sessions live for minutes and are
// left out.
type Snapshot struct {
	ServerName string         `json:"server_name"`
	LastGuest  int            `json:"last_guest,omitempty"`
	Users      []SnapshotUser `json:"users"`
}

// SnapshotUser is a user in a Snapshot.
type SnapshotUser struct {
	ID       string           `json:"id"`
	Password string           `json:"password,omitempty"`
	Guest    bool             `json:"guest,omitempty"`
	Devices  []SnapshotDevice `json:"devices,omitempty"`
}

// SnapshotDevice is a device in a Snapshot, with its current pair and the
// previous one while its refresh token may still be reused.
type SnapshotDevice struct {
	ID            string        `json:"id"`
	DisplayName   string        `json:"display_name,omitempty"`
	LastSeenTS    time.Time     `json:"last_seen_ts,omitzero"`
	LastSeenIP    string        `json:"last_seen_ip,omitempty"`
	SoftLoggedOut bool          `json:"soft_logged_out,omitempty"`
	ViaOAuth      bool          `json:"via_oauth,omitempty"`
	Current       SnapshotPair  `json:"current"`
	Previous      *SnapshotPair `json:"previous,omitempty"`
}

// SnapshotPair is a token pair in a Snapshot.
type SnapshotPair struct {
	AccessToken   string    `json:"access_token,omitempty"`
	RefreshToken  string    `json:"refresh_token,omitempty"`
	AccessExpiry  time.Time `json:"access_expiry,omitzero"`
	RefreshExpiry time.Time `json:"refresh_expiry,omitzero"`
	AccessUsed    bool      `json:"access_used,omitempty"`
}

// Snapshot returns the store's lasting state, consistent as of one moment,
// users and devices sorted by ID.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{ServerName: s.cfg.ServerName, LastGuest: s.lastGuest, Users: make([]SnapshotUser, 0, len(s.users))}
	for _, u := range s.users {
		su := SnapshotUser{ID: u.id, Password: u.password, Guest: u.guest}
		for _, d := range u.devices {
			sd := SnapshotDevice{
				ID: d.ID, DisplayName: d.DisplayName, LastSeenTS: d.LastSeenTS, LastSeenIP: d.LastSeenIP,
				SoftLoggedOut: d.softLoggedOut, ViaOAuth: d.viaOAuth, Current: d.cur.snapshot(),
			}
			if d.prev != nil {
				prev := d.prev.snapshot()
				sd.Previous = &prev
			}
			su.Devices = append(su.Devices, sd)
		}
		slices.SortFunc(su.Devices, func(a, b SnapshotDevice) int { return strings.Compare(a.ID, b.ID) })
		snap.Users = append(snap.Users, su)
	}
	slices.SortFunc(snap.Users, func(a, b SnapshotUser) int { return strings.Compare(a.ID, b.ID) })
	return snap
}

func (p *pair) snapshot() SnapshotPair {
	return SnapshotPair{AccessToken: p.access, RefreshToken: p.refresh, AccessExpiry: p.accessExpiry, RefreshExpiry: p.refreshExpiry, AccessUsed: p.accessUsed}
}

// Restore replaces the store's users, devices and tokens with snap's. It
// checks snap first and changes nothing when snap is inconsistent: another
// server name, duplicate users, devices or tokens, or a device without an
// access token.
func (s *Store) Restore(snap Snapshot) error {
	if snap.ServerName != s.cfg.ServerName {
		return fmt.Errorf("the state is of server %q, not %q", snap.ServerName, s.cfg.ServerName)
	}
	users := make(map[string]*user, len(snap.Users))
	access, refresh := map[string]*pair{}, map[string]*pair{}
	add := func(d *device, sp SnapshotPair) (*pair, error) {
		p := &pair{dev: d, access: sp.AccessToken, refresh: sp.RefreshToken, accessExpiry: sp.AccessExpiry, refreshExpiry: sp.RefreshExpiry, accessUsed: sp.AccessUsed}
		for token, m := range map[string]map[string]*pair{p.access: access, p.refresh: refresh} {
			if token == "" {
				continue
			}
			if access[token] != nil || refresh[token] != nil {
				return nil, errors.New("a token appears twice")
			}
			m[token] = p
		}
		return p, nil
	}
	for _, su := range snap.Users {
		if !strings.HasPrefix(su.ID, "@") || !strings.HasSuffix(su.ID, ":"+s.cfg.ServerName) || users[su.ID] != nil {
			return fmt.Errorf("user %q: not a user ID of this server, or listed twice", su.ID)
		}
		u := &user{id: su.ID, password: su.Password, guest: su.Guest, devices: map[string]*device{}}
		users[su.ID] = u
		for _, sd := range su.Devices {
			if sd.ID == "" || u.devices[sd.ID] != nil || sd.Current.AccessToken == "" {
				return fmt.Errorf("user %s: device %q has no ID or access token, or is listed twice", su.ID, sd.ID)
			}
			d := &device{Device: Device{ID: sd.ID, DisplayName: sd.DisplayName, LastSeenTS: sd.LastSeenTS, LastSeenIP: sd.LastSeenIP}, user: u, softLoggedOut: sd.SoftLoggedOut, viaOAuth: sd.ViaOAuth}
			var err error
			if d.cur, err = add(d, sd.Current); err != nil {
				return fmt.Errorf("user %s, device %s: %w", su.ID, sd.ID, err)
			}
			if sd.Previous != nil {
				if d.prev, err = add(d, *sd.Previous); err != nil {
					return fmt.Errorf("user %s, device %s: %w", su.ID, sd.ID, err)
				}
			}
			u.devices[sd.ID] = d
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users, s.access, s.refresh, s.lastGuest = users, access, refresh, snap.LastGuest
	clear(s.spent) // not kept in a snapshot: replays of older tokens go unnoticed
	clear(s.loginTokens)
	clear(s.uia)
	return nil
}
