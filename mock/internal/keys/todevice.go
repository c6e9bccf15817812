package keys

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// MaxToDevicePerSync is the most to-device messages one Sync delivers; the
// rest come with the next one. Synapse uses the same limit.
const MaxToDevicePerSync = 100

// ToDeviceEvent is a to-device message as sync's to_device.events shows it.
type ToDeviceEvent struct {
	Sender  string          `json:"sender"`  // the sending user's ID
	Type    string          `json:"type"`    // the event type of the send
	Content json.RawMessage `json:"content"` // a JSON object, as sent
}

// queued is a to-device message waiting in a device's inbox.
type queued struct {
	pos   int64
	event ToDeviceEvent
}

// SendToDevice is PUT /sendToDevice/{eventType}/{txnId} from the sender's
// device: messages maps user ID, then device ID ("*": each of the user's
// devices, as Config.Devices lists them), to the message content. A
// transaction ID the sending device has used before changes nothing (the
// device, not the access token, scopes it, so a retry after a token refresh
// is still recognised). A message to a device that has no keys yet is
// queued all the same. ErrBadJSON if a content is not a JSON object; then
// nothing is sent.
func (s *Store) SendToDevice(senderID, senderDevice, txnID, eventType string, messages map[string]map[string]json.RawMessage) error {
	type target struct {
		userID, deviceID string
		content          json.RawMessage
	}
	var targets []target
	// Sorted, so that a send queues its messages in a repeatable order.
	for _, userID := range slices.Sorted(maps.Keys(messages)) {
		for _, deviceID := range slices.Sorted(maps.Keys(messages[userID])) {
			content := messages[userID][deviceID]
			if !isObject(content) {
				return fmt.Errorf("%w: content for %s device %s", ErrBadJSON, userID, deviceID)
			}
			content = slices.Clone(content)
			devices := []string{deviceID}
			if deviceID == "*" {
				devices = nil
				if s.cfg.Devices != nil {
					devices = s.cfg.Devices(userID)
				}
			}
			for _, d := range devices {
				targets = append(targets, target{userID, d, content})
			}
		}
	}

	s.mu.Lock()
	sender := s.device(senderID, senderDevice)
	if sender.sent[txnID] {
		s.mu.Unlock()
		return nil
	}
	if sender.sent == nil {
		sender.sent = make(map[string]bool)
	}
	sender.sent[txnID] = true
	var woken []string
	for _, t := range targets {
		d := s.device(t.userID, t.deviceID)
		d.inbox = append(d.inbox, queued{pos: s.next(), event: ToDeviceEvent{Sender: senderID, Type: eventType, Content: t.content}})
		woken = append(woken, t.userID)
	}
	s.mu.Unlock()
	s.notify(woken)
	return nil
}

// SyncUpdate is the keys part of a device's sync answer.
type SyncUpdate struct {
	// Pos is the position this answer reaches: the next sync passes it as
	// since. It is below Pos() when to-device messages were held back.
	Pos int64
	// ToDevice is to_device.events: the messages queued after since, up
	// to MaxToDevicePerSync.
	ToDevice []ToDeviceEvent
	// Changed is device_lists.changed as Changed gives it for (since,
	// Pos]; empty on an initial sync (since 0).
	Changed []string
	// Counts is device_one_time_keys_count and
	// device_unused_fallback_key_types.
	Counts Counts
	// CountsChanged reports whether one of the device's keys was claimed
	// after since.
	CountsChanged bool
}

// Empty reports whether the update holds nothing new, so that a long-poll
// may go on waiting.
func (u SyncUpdate) Empty() bool {
	return len(u.ToDevice) == 0 && len(u.Changed) == 0 && !u.CountsChanged
}

// Sync returns what a sync from since (a position of this Store; 0 for an
// initial sync) brings the device. Passing since acknowledges the
// to-device messages up to it: they are deleted, as the spec requires.
func (s *Store) Sync(userID, deviceID string, since int64) SyncUpdate {
	peers := make(map[string]bool)
	if since > 0 {
		for _, p := range s.peers(userID) {
			peers[p] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := SyncUpdate{Pos: s.pos}
	d := s.lookupDevice(userID, deviceID)
	if d == nil {
		d = &device{}
	}
	acked, _ := slices.BinarySearchFunc(d.inbox, since+1, func(q queued, p int64) int { return cmp.Compare(q.pos, p) })
	d.inbox = slices.Delete(d.inbox, 0, acked)
	for i, q := range d.inbox {
		if i == MaxToDevicePerSync {
			u.Pos = d.inbox[i-1].pos
			break
		}
		u.ToDevice = append(u.ToDevice, q.event)
	}
	if since > 0 {
		u.Changed = s.changedBetween(since, u.Pos, func(u string) bool { return peers[u] })
	}
	u.Counts = d.counts()
	u.CountsChanged = d.countsChangedAt > since && d.countsChangedAt <= u.Pos
	return u
}

// DeleteDevice forgets the device: its keys, the signatures on them, its
// queued to-device messages and the transaction IDs it sent with. The
// user's device list is marked changed if the device had keys. Call it
// when a device is deleted or logged out.
func (s *Store) DeleteDevice(userID, deviceID string) {
	s.mu.Lock()
	u := s.users[userID]
	var d *device
	if u != nil {
		d = u.devices[deviceID]
		delete(u.devices, deviceID)
	}
	hadKeys := d != nil && d.keys != nil
	if hadKeys {
		s.changed(userID)
	}
	s.mu.Unlock()
	if hadKeys {
		s.notify(nil, userID)
	}
}
