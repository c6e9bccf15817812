package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// device is one device's keys and to-device state.
type device struct {
	keys            *object                 // device keys; nil until uploaded
	oneTime         map[string][]oneTimeKey // unclaimed one-time keys by algorithm, oldest first
	fallback        map[string]*fallbackKey // by algorithm
	countsChangedAt int64                   // position of the last claim of one of its keys
	inbox           []queued                // to-device messages for it, in position order
	sent            map[string]bool         // transaction IDs it has sent to-device messages with
}

// oneTimeKey is an uploaded one-time key.
type oneTimeKey struct {
	id  string // "algorithm:keyid"
	key json.RawMessage
}

// fallbackKey is a device's fallback key for one algorithm.
type fallbackKey struct {
	oneTimeKey
	used bool // claimed since it was uploaded
}

// UploadRequest is the body of POST /keys/upload. Every field may be empty.
type UploadRequest struct {
	// DeviceKeys is the device's identity keys, a JSON object whose
	// user_id and device_id must be the caller's.
	DeviceKeys json.RawMessage
	// OneTimeKeys maps "algorithm:keyid" to a key (a JSON object or
	// string).
	OneTimeKeys map[string]json.RawMessage
	// FallbackKeys maps "algorithm:keyid" to a key; each replaces the
	// device's fallback key for its algorithm.
	FallbackKeys map[string]json.RawMessage
}

// Counts is what a device's sync says about its one-time and fallback keys.
type Counts struct {
	// OneTimeKeys is device_one_time_keys_count: unclaimed one-time keys by
	// algorithm. It always holds signed_curve25519 (0 if none), as Synapse
	// does, since clients read a missing count as "unknown".
	OneTimeKeys map[string]int
	// UnusedFallbackKeyTypes is device_unused_fallback_key_types: the
	// algorithms with a fallback key not yet claimed, sorted; never nil,
	// since its presence tells clients the server supports fallback keys.
	UnusedFallbackKeyTypes []string
}

// Upload stores the keys a device uploads and returns its one-time key
// counts (one_time_key_counts). On error nothing is stored: ErrBadJSON,
// ErrOwnerMismatch, ErrBadKeyID, ErrKeyExists. New or changed device keys
// mark the user's device list changed.
func (s *Store) Upload(userID, deviceID string, req UploadRequest) (map[string]int, error) {
	var keys *object
	if len(req.DeviceKeys) > 0 {
		var err error
		if keys, err = parseObject(req.DeviceKeys); err != nil {
			return nil, err
		}
		if u, d := keys.str("user_id"), keys.str("device_id"); u != userID || d != deviceID {
			return nil, fmt.Errorf("%w: device_keys are for %q device %q, the caller is %q device %q",
				ErrOwnerMismatch, u, d, userID, deviceID)
		}
	}
	oneTime, err := parseKeys(req.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	fallback, err := parseKeys(req.FallbackKeys)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	d := s.device(userID, deviceID)
	for _, k := range oneTime {
		if old, ok := d.findOneTime(k.id); ok && !bytes.Equal(old.key, k.key) {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, k.id)
		}
	}
	for _, k := range oneTime {
		if _, ok := d.findOneTime(k.id); !ok {
			alg := algorithm(k.id)
			d.oneTime[alg] = append(d.oneTime[alg], k)
		}
	}
	for _, k := range fallback {
		alg := algorithm(k.id)
		if old := d.fallback[alg]; old == nil || old.id != k.id || !bytes.Equal(old.key, k.key) {
			d.fallback[alg] = &fallbackKey{oneTimeKey: k}
		}
	}
	listChanged := false
	switch {
	case keys == nil:
	case d.keys != nil && d.keys.sameKey(keys):
		listChanged = d.keys.addAllSignatures(keys) // keeps signatures uploaded since
	default:
		d.keys, listChanged = keys, true
	}
	if listChanged {
		s.changed(userID)
	}
	counts := d.counts().OneTimeKeys
	s.mu.Unlock()

	if listChanged {
		s.notify(nil, userID)
	}
	return counts, nil
}

// parseKeys checks and compacts one-time or fallback keys, sorted by ID.
func parseKeys(in map[string]json.RawMessage) ([]oneTimeKey, error) {
	out := make([]oneTimeKey, 0, len(in))
	for _, id := range slices.Sorted(maps.Keys(in)) {
		alg, keyID, ok := strings.Cut(id, ":")
		if !ok || alg == "" || keyID == "" {
			return nil, fmt.Errorf("%w: %q", ErrBadKeyID, id)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, in[id]); err != nil {
			return nil, fmt.Errorf("%w: key %s: %v", ErrBadJSON, id, err)
		}
		out = append(out, oneTimeKey{id: id, key: buf.Bytes()})
	}
	return out, nil
}

// algorithm returns the algorithm part of a key ID "algorithm:keyid".
func algorithm(id string) string {
	alg, _, _ := strings.Cut(id, ":")
	return alg
}

// findOneTime returns the unclaimed one-time key id.
func (d *device) findOneTime(id string) (oneTimeKey, bool) {
	for _, k := range d.oneTime[algorithm(id)] {
		if k.id == id {
			return k, true
		}
	}
	return oneTimeKey{}, false
}

// counts returns the device's key counts.
func (d *device) counts() Counts {
	c := Counts{OneTimeKeys: map[string]int{"signed_curve25519": 0}, UnusedFallbackKeyTypes: []string{}}
	for alg, keys := range d.oneTime {
		if len(keys) > 0 {
			c.OneTimeKeys[alg] = len(keys)
		}
	}
	for alg, k := range d.fallback {
		if !k.used {
			c.UnusedFallbackKeyTypes = append(c.UnusedFallbackKeyTypes, alg)
		}
	}
	slices.Sort(c.UnusedFallbackKeyTypes)
	return c
}

// Counts returns the device's one-time key counts and unused fallback key
// types (zero counts for a device that uploaded nothing).
func (s *Store) Counts(userID, deviceID string) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.lookupDevice(userID, deviceID); d != nil {
		return d.counts()
	}
	return (&device{}).counts()
}

// Claim is POST /keys/claim: for each user, device and algorithm asked for,
// it takes the device's oldest one-time key of that algorithm, or else its
// fallback key for it (which stays, marked used). The result maps user ID,
// device ID, then "algorithm:keyid" to the key; devices with neither key
// are left out. The owners of claimed keys are woken, since their counts
// changed.
func (s *Store) Claim(want map[string]map[string]string) map[string]map[string]map[string]json.RawMessage {
	out := make(map[string]map[string]map[string]json.RawMessage)
	var owners []string
	s.mu.Lock()
	for userID, devices := range want {
		for deviceID, alg := range devices {
			d := s.lookupDevice(userID, deviceID)
			if d == nil {
				continue
			}
			k, ok := d.claim(alg)
			if !ok {
				continue
			}
			d.countsChangedAt = s.next()
			if out[userID] == nil {
				out[userID] = make(map[string]map[string]json.RawMessage)
				owners = append(owners, userID)
			}
			out[userID][deviceID] = map[string]json.RawMessage{k.id: k.key}
		}
	}
	s.mu.Unlock()
	s.notify(owners)
	return out
}

// claim takes a one-time key of alg, or else returns the fallback key of
// alg marked used.
func (d *device) claim(alg string) (oneTimeKey, bool) {
	if keys := d.oneTime[alg]; len(keys) > 0 {
		d.oneTime[alg] = keys[1:]
		return keys[0], true
	}
	if f := d.fallback[alg]; f != nil {
		f.used = true
		return f.oneTimeKey, true
	}
	return oneTimeKey{}, false
}
