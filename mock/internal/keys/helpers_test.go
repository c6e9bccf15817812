package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// world stands in for the rest of the homeserver: who shares rooms, who
// has which devices, and who was woken.
type world struct {
	mu      sync.Mutex
	rooms   [][]string          // each room's members
	devices map[string][]string // device IDs by user
	woken   []string
	store   *Store
}

// newWorld returns a Store wired to a world where alice and bob share a
// room and carol is alone. OnChange calls back into the Store, which would
// deadlock if it were called under the Store's lock.
func newWorld() (*Store, *world) {
	w := &world{
		rooms:   [][]string{{"@alice:x", "@bob:x"}},
		devices: map[string][]string{"@alice:x": {"A1", "A2"}, "@bob:x": {"B1"}, "@carol:x": {"C1"}},
	}
	w.store = New(Config{
		Peers: func(userID string) []string {
			w.mu.Lock()
			defer w.mu.Unlock()
			var out []string
			for _, room := range w.rooms {
				if slices.Contains(room, userID) {
					out = append(out, room...)
				}
			}
			return out
		},
		Devices: func(userID string) []string {
			w.mu.Lock()
			defer w.mu.Unlock()
			return slices.Clone(w.devices[userID])
		},
		DisplayName: func(userID, deviceID string) string {
			if deviceID == "A1" {
				return "Alice's phone"
			}
			return ""
		},
		OnChange: func(userIDs ...string) {
			_ = w.store.Pos()
			w.mu.Lock()
			defer w.mu.Unlock()
			w.woken = append(w.woken, userIDs...)
		},
	})
	return w.store, w
}

// takeWoken returns the users woken since the last call, sorted and
// without repeats.
func (w *world) takeWoken() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.woken)
	w.woken = nil
	slices.Sort(out)
	return fmt.Sprint(slices.Compact(out))
}

// deviceKeys returns device keys for the user and device with one
// signature by the device itself.
func deviceKeys(userID, deviceID string) json.RawMessage {
	return mustJSON(map[string]any{
		"user_id":    userID,
		"device_id":  deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
		"keys":       map[string]string{"curve25519:" + deviceID: "curve-" + deviceID, "ed25519:" + deviceID: "ed-" + deviceID},
		"signatures": map[string]any{userID: map[string]string{"ed25519:" + deviceID: "sig-" + deviceID}},
	})
}

// crossKey returns a cross-signing key of userID with the public key pub.
func crossKey(userID, usage, pub string) json.RawMessage {
	return mustJSON(map[string]any{"user_id": userID, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + pub: pub}})
}

// oneTimeKeys returns n signed_curve25519 keys with IDs prefix0 .. prefix(n-1).
func oneTimeKeys(prefix string, n int) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage)
	for i := range n {
		id := fmt.Sprintf("%s%d", prefix, i)
		out["signed_curve25519:"+id] = mustJSON(map[string]string{"key": "k-" + id})
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// decode unmarshals raw into a generic value for comparisons.
func decode(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

func upload(t testing.TB, s *Store, userID, deviceID string, req UploadRequest) map[string]int {
	t.Helper()
	counts, err := s.Upload(userID, deviceID, req)
	if err != nil {
		t.Fatalf("Upload(%s, %s): %v", userID, deviceID, err)
	}
	return counts
}
