package keys

import (
	"encoding/json"
	"slices"
)

// Cross-signing key usages, the keys of a user's cross-signing map.
const (
	usageMaster      = "master"
	usageSelfSigning = "self_signing"
	usageUserSigning = "user_signing"
)

// QueryResult is the answer of POST /keys/query, ready to be encoded.
type QueryResult struct {
	// DeviceKeys maps user ID then device ID to device keys, with the
	// signatures uploaded since merged in. Every user asked for has an
	// entry, empty if none of the devices asked for has keys.
	DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
	// MasterKeys maps user ID to master key, for the users who have one.
	MasterKeys map[string]json.RawMessage `json:"master_keys"`
	// SelfSigningKeys maps user ID to self-signing key.
	SelfSigningKeys map[string]json.RawMessage `json:"self_signing_keys"`
	// UserSigningKeys holds the caller's own user-signing key, if asked
	// for and uploaded; nobody else's is ever shown.
	UserSigningKeys map[string]json.RawMessage `json:"user_signing_keys"`
	// Failures is always empty: every user is local.
	Failures map[string]json.RawMessage `json:"failures"`
}

// Query is POST /keys/query for callerID: want maps user ID to the device
// IDs asked for (none: all the user's devices).
func (s *Store) Query(callerID string, want map[string][]string) QueryResult {
	type shown struct {
		userID, deviceID string
		keys             *object
	}
	var devices []shown
	r := QueryResult{
		DeviceKeys:      make(map[string]map[string]json.RawMessage),
		MasterKeys:      make(map[string]json.RawMessage),
		SelfSigningKeys: make(map[string]json.RawMessage),
		UserSigningKeys: make(map[string]json.RawMessage),
		Failures:        make(map[string]json.RawMessage),
	}
	s.mu.Lock()
	for userID, deviceIDs := range want {
		r.DeviceKeys[userID] = make(map[string]json.RawMessage)
		u := s.users[userID]
		if u == nil {
			continue
		}
		for deviceID, d := range u.devices {
			if d.keys != nil && (len(deviceIDs) == 0 || slices.Contains(deviceIDs, deviceID)) {
				devices = append(devices, shown{userID, deviceID, d.keys.clone()})
			}
		}
		if k := u.cross[usageMaster]; k != nil {
			r.MasterKeys[userID] = k.json(nil)
		}
		if k := u.cross[usageSelfSigning]; k != nil {
			r.SelfSigningKeys[userID] = k.json(nil)
		}
		if k := u.cross[usageUserSigning]; k != nil && userID == callerID {
			r.UserSigningKeys[userID] = k.json(nil)
		}
	}
	s.mu.Unlock()

	for _, d := range devices { // DisplayName may take other locks: not under s.mu
		var extra map[string]any
		if s.cfg.DisplayName != nil {
			if name := s.cfg.DisplayName(d.userID, d.deviceID); name != "" {
				extra = map[string]any{"unsigned": map[string]string{"device_display_name": name}}
			}
		}
		r.DeviceKeys[d.userID][d.deviceID] = d.keys.json(extra)
	}
	return r
}

// Changed returns the users whose device list changed at a position in
// (from, to] and who are userID or share a room with userID, sorted: the
// changed list of GET /keys/changes and of sync's device_lists. The users
// who newly share a room with userID, and the left list, are the rooms'
// to tell. An initial sync (from 0) should not ask: its client queries
// every key it needs.
func (s *Store) Changed(userID string, from, to int64) []string {
	peers := make(map[string]bool)
	for _, p := range s.peers(userID) {
		peers[p] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changedBetween(from, to, func(u string) bool { return peers[u] })
}
