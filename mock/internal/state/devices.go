package state

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// Device is a user's device, as the device management API shows it.
type Device struct {
	ID          string
	DisplayName string
	LastSeenTS  time.Time // zero until the first authenticated request
	LastSeenIP  string
}

// device is a Device with its tokens.
type device struct {
	Device
	user          *user
	cur           *pair    // the pair issued last; never nil
	prev          *pair    // the pair whose refresh token produced cur, if it may still be reused
	spent         []string // refresh tokens of this session rotated out before prev's, oldest first
	softLoggedOut bool
	viaOAuth      bool
}

func (d *device) principal() Principal {
	return Principal{UserID: d.user.id, DeviceID: d.ID, IsGuest: d.user.guest, ViaOAuth: d.viaOAuth}
}

// loginDevice returns u's device id, created with displayName if it does not
// exist (empty id: a new device with a generated ID). The caller gives it
// tokens. s.mu must be held.
func (s *Store) loginDevice(u *user, id, displayName string) *device {
	if d := u.devices[id]; d != nil {
		return d
	}
	if id == "" {
		id = s.newDeviceID(u)
	}
	d := &device{Device: Device{ID: id, DisplayName: displayName}, user: u}
	u.devices[id] = d
	return d
}

// newDeviceID returns ten random upper-case letters that are not one of u's
// device IDs. s.mu must be held.
func (s *Store) newDeviceID(u *user) string {
	for {
		var b [8]byte
		s.read(b[:])
		v := binary.LittleEndian.Uint64(b[:]) // 26^10 < 2^64/10^5: the bias is negligible
		id := make([]byte, 10)
		for i := range id {
			id[i] = 'A' + byte(v%26)
			v /= 26
		}
		if u.devices[string(id)] == nil {
			return string(id)
		}
	}
}

// device returns the user's device. s.mu must be held.
func (s *Store) device(userID, deviceID string) (*device, error) {
	u := s.users[s.UserID(userID)]
	if u == nil {
		return nil, ErrNotFound
	}
	d := u.devices[deviceID]
	if d == nil {
		return nil, ErrNotFound
	}
	return d, nil
}

// deleteDevice ends d and all its tokens, a change of the kind given. s.mu
// must be held, and released with unlockRemoved, which tells
// Config.OnDeviceRemoved.
func (s *Store) deleteDevice(d *device, kind ChangeKind) {
	s.endTokens(d)
	delete(d.user.devices, d.ID)
	s.changed(kind, d, nil)
	if s.cfg.OnDeviceRemoved != nil {
		s.removed = append(s.removed, d.principal())
	}
}

// unlockRemoved releases s.mu, then tells Config.OnDeviceRemoved of the
// devices deleteDevice removed while it was held. Calling the hook outside
// the lock keeps the Store out of the lock order of whatever it calls.
func (s *Store) unlockRemoved() {
	removed := s.removed
	s.removed = nil
	s.mu.Unlock()
	for _, p := range removed {
		s.cfg.OnDeviceRemoved(p.UserID, p.DeviceID)
	}
}

// Devices returns the user's devices sorted by ID (none for an unknown user).
func (s *Store) Devices(userID string) []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[s.UserID(userID)]
	if u == nil {
		return nil
	}
	out := make([]Device, 0, len(u.devices))
	for _, d := range u.devices {
		out = append(out, d.Device)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Device returns one of the user's devices, or ErrNotFound.
func (s *Store) Device(userID, deviceID string) (Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return Device{}, err
	}
	return d.Device, nil
}

// UpdateDevice sets the device's display name, or returns ErrNotFound.
func (s *Store) UpdateDevice(userID, deviceID, displayName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return err
	}
	d.DisplayName = displayName
	return nil
}

// DeleteDevice deletes the device and ends its tokens (later use: not soft),
// or returns ErrNotFound.
func (s *Store) DeleteDevice(userID, deviceID string) error {
	s.mu.Lock()
	defer s.unlockRemoved()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return err
	}
	s.deleteDevice(d, Deleted)
	return nil
}

// HardLogout is the scripted form of DeleteDevice: the device and its tokens
// are gone, and their later use is answered with SoftLogout false.
func (s *Store) HardLogout(userID, deviceID string) error {
	return s.DeleteDevice(userID, deviceID)
}

// SoftLogout soft-logs-out the device: its access and refresh tokens stop
// working with SoftLogout true (CauseSoftLogout), the device stays, and a
// later Login with its DeviceID restores it. ErrNotFound for an unknown
// device.
func (s *Store) SoftLogout(userID, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return err
	}
	d.softLoggedOut = true
	s.changed(SoftLoggedOut, d, nil)
	return nil
}

// ExpireAccessToken makes the device's access tokens expire now, so that
// their use is answered with SoftLogout true (CauseExpired) while the refresh
// token keeps working. Besides the current access token this includes its
// predecessor, which stays valid after a refresh: whichever one the client
// holds, it sees the expiry. ErrNotFound for an unknown device.
func (s *Store) ExpireAccessToken(userID, deviceID string) error {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return err
	}
	for _, p := range []*pair{d.cur, d.prev} {
		if p != nil && !expired(p.accessExpiry, now) {
			p.accessExpiry = now
		}
	}
	s.changed(Expired, d, nil)
	return nil
}

// RevokeRefreshToken ends the device's refresh tokens (a later Refresh with
// them fails with CauseUnknown); its access tokens keep working until they
// expire. ErrNotFound for an unknown device.
func (s *Store) RevokeRefreshToken(userID, deviceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.device(userID, deviceID)
	if err != nil {
		return err
	}
	s.dropRefresh(d.cur)
	if d.prev != nil {
		s.dropRefresh(d.prev)
	}
	s.changed(RefreshRevoked, d, nil)
	return nil
}
