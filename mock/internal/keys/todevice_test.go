package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// content returns a to-device message content numbered n.
func content(n int) map[string]json.RawMessage {
	return map[string]json.RawMessage{"x": mustJSON(map[string]int{"n": n})}
}

// inboxes returns the to-device message bodies each device gets from an
// initial sync, without acknowledging them.
func inboxes(s *Store, devices ...string) string {
	out := ""
	for _, d := range devices {
		user := map[byte]string{'A': "@alice:x", 'B': "@bob:x", 'C': "@carol:x"}[d[0]]
		out += d + ":"
		for _, e := range s.Sync(user, d, 0).ToDevice {
			out += fmt.Sprintf(" %s/%s/%s", e.Sender, e.Type, e.Content)
		}
		out += ";"
	}
	return out
}

func TestSendToDevice(t *testing.T) {
	msg := json.RawMessage(`{"body":1}`)
	tests := []struct {
		name     string
		messages map[string]map[string]json.RawMessage
		err      error
		want     string
		woken    string
	}{
		{"one device", map[string]map[string]json.RawMessage{"@alice:x": {"A2": msg}}, nil,
			`A1:;A2: @bob:x/m.test/{"body":1};B1:;`, "[@alice:x]"},
		{"all of a user's devices", map[string]map[string]json.RawMessage{"@alice:x": {"*": msg}}, nil,
			`A1: @bob:x/m.test/{"body":1};A2: @bob:x/m.test/{"body":1};B1:;`, "[@alice:x]"},
		{"several users", map[string]map[string]json.RawMessage{"@alice:x": {"A1": msg}, "@bob:x": {"B1": msg}}, nil,
			`A1: @bob:x/m.test/{"body":1};A2:;B1: @bob:x/m.test/{"body":1};`, "[@alice:x @bob:x]"},
		{"content not an object", map[string]map[string]json.RawMessage{"@alice:x": {"A1": msg, "A2": json.RawMessage(`"x"`)}}, ErrBadJSON,
			`A1:;A2:;B1:;`, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w := newWorld()
			if err := s.SendToDevice("@bob:x", "B1", "txn1", "m.test", tt.messages); !errors.Is(err, tt.err) {
				t.Fatalf("SendToDevice: %v, want %v", err, tt.err)
			}
			if got := inboxes(s, "A1", "A2", "B1"); got != tt.want {
				t.Fatalf("inboxes %s, want %s", got, tt.want)
			}
			if got := w.takeWoken(); got != tt.woken {
				t.Fatalf("woken %s, want %s", got, tt.woken)
			}
		})
	}
}

// A transaction ID is used once per sending device; another device of the
// same user may use it too.
func TestSendToDeviceIdempotent(t *testing.T) {
	s, _ := newWorld()
	send := func(device, txn string, n int) {
		if err := s.SendToDevice("@bob:x", device, txn, "m.test", map[string]map[string]json.RawMessage{"@alice:x": content(n)}); err != nil {
			t.Fatal(err)
		}
	}
	send("B1", "t1", 1)
	send("B1", "t1", 2) // a retry: ignored
	send("B2", "t1", 3) // another device
	send("B1", "t2", 4)
	var got []string
	for _, e := range s.Sync("@alice:x", "x", 0).ToDevice {
		got = append(got, string(e.Content))
	}
	if fmt.Sprint(got) != `[{"n":1} {"n":3} {"n":4}]` {
		t.Fatalf("delivered %v", got)
	}
}

// Messages come with every sync until a later sync's since acknowledges
// them; a sync delivers at most MaxToDevicePerSync and its Pos stops at the
// last one delivered.
func TestToDeviceDelivery(t *testing.T) {
	s, _ := newWorld()
	const total = MaxToDevicePerSync + 20
	for i := range total {
		if err := s.SendToDevice("@bob:x", "B1", fmt.Sprint(i), "m.test", map[string]map[string]json.RawMessage{"@alice:x": {"A1": content(i)["x"]}}); err != nil {
			t.Fatal(err)
		}
	}
	first := s.Sync("@alice:x", "A1", 0)
	if len(first.ToDevice) != MaxToDevicePerSync || first.Pos >= s.Pos() {
		t.Fatalf("first sync: %d messages, pos %d of %d", len(first.ToDevice), first.Pos, s.Pos())
	}
	if again := s.Sync("@alice:x", "A1", 0); len(again.ToDevice) != MaxToDevicePerSync || string(again.ToDevice[0].Content) != `{"n":0}` {
		t.Fatal("a sync from the same since did not get the same messages again")
	}
	second := s.Sync("@alice:x", "A1", first.Pos)
	if len(second.ToDevice) != total-MaxToDevicePerSync || string(second.ToDevice[0].Content) != fmt.Sprintf(`{"n":%d}`, MaxToDevicePerSync) {
		t.Fatalf("second sync: %d messages starting %s", len(second.ToDevice), second.ToDevice[0].Content)
	}
	if second.Pos != s.Pos() {
		t.Fatalf("second sync pos %d, want %d", second.Pos, s.Pos())
	}
	if third := s.Sync("@alice:x", "A1", second.Pos); !third.Empty() {
		t.Fatalf("third sync: %+v, want nothing", third)
	}
	if stale := s.Sync("@alice:x", "A1", 0); len(stale.ToDevice) != 0 {
		t.Fatalf("acknowledged messages came back: %d", len(stale.ToDevice))
	}
}

// Deleting a device drops its queued messages and its keys.
func TestDeleteDevice(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1"), OneTimeKeys: oneTimeKeys("a", 3)})
	if err := s.SendToDevice("@bob:x", "B1", "t", "m.test", map[string]map[string]json.RawMessage{"@alice:x": {"*": json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	s.DeleteDevice("@alice:x", "A1")
	if got := inboxes(s, "A1", "A2"); got != `A1:;A2: @bob:x/m.test/{};` {
		t.Fatalf("inboxes after deleting A1: %s", got)
	}
	if r := s.Query("@bob:x", map[string][]string{"@alice:x": nil}); len(r.DeviceKeys["@alice:x"]) != 0 {
		t.Fatalf("keys after deleting A1: %s", r.DeviceKeys)
	}
	if c := s.Counts("@alice:x", "A1"); c.OneTimeKeys["signed_curve25519"] != 0 {
		t.Fatalf("counts after deleting A1: %v", c)
	}
}

// Sync's device_lists.changed: nothing on an initial sync, then the
// changes of users who share a room with the caller.
func TestSyncDeviceLists(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@bob:x", "B1", UploadRequest{DeviceKeys: deviceKeys("@bob:x", "B1")})
	initial := s.Sync("@alice:x", "A1", 0)
	if len(initial.Changed) != 0 {
		t.Fatalf("initial sync changed %v", initial.Changed)
	}
	upload(t, s, "@carol:x", "C1", UploadRequest{DeviceKeys: deviceKeys("@carol:x", "C1")})
	if u := s.Sync("@alice:x", "A1", initial.Pos); !u.Empty() {
		t.Fatalf("carol shares no room with alice, yet: %+v", u)
	}
	upload(t, s, "@bob:x", "B2", UploadRequest{DeviceKeys: deviceKeys("@bob:x", "B2")})
	if u := s.Sync("@alice:x", "A1", initial.Pos); fmt.Sprint(u.Changed) != "[@bob:x]" {
		t.Fatalf("changed %v, want bob", u.Changed)
	}
}

func TestBackup(t *testing.T) {
	s, _ := newWorld()
	if _, err := s.Backup("@alice:x", ""); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("no backup: %v, want ErrNoBackup", err)
	}
	v1 := s.CreateBackup("@alice:x", "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{"public_key":"P1"}`))
	v2 := s.CreateBackup("@alice:x", "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{"public_key":"P2"}`))
	tests := []struct {
		name string
		do   func() error
		err  error
	}{
		{"update v1", func() error {
			return s.UpdateBackup("@alice:x", v1, v1, "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{"public_key":"P1b"}`))
		}, nil},
		{"update with another algorithm", func() error {
			return s.UpdateBackup("@alice:x", v1, "", "other", json.RawMessage(`{}`))
		}, ErrBackupMismatch},
		{"update with another body version", func() error {
			return s.UpdateBackup("@alice:x", v1, v2, "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{}`))
		}, ErrBackupMismatch},
		{"update an unknown version", func() error {
			return s.UpdateBackup("@alice:x", "99", "", "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{}`))
		}, ErrNoBackup},
		{"another user's backup", func() error { _, err := s.Backup("@bob:x", v1); return err }, ErrNoBackup},
		{"delete v2", func() error { return s.DeleteBackup("@alice:x", v2) }, nil},
		{"delete v2 again", func() error { return s.DeleteBackup("@alice:x", v2) }, ErrNoBackup},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, tt.err) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.err)
		}
	}
	cur, err := s.Backup("@alice:x", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(cur); string(got) != `{"version":"1","algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{"public_key":"P1b"},"count":0,"etag":"0"}` {
		t.Fatalf("current backup after deleting v2: %s", got)
	}
	if v3 := s.CreateBackup("@alice:x", "a", json.RawMessage(`{}`)); v3 == v2 || v3 == v1 {
		t.Fatalf("a new version reuses %s", v3)
	}
}

func TestReset(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1"), OneTimeKeys: oneTimeKeys("a", 1)})
	s.CreateBackup("@alice:x", "a", json.RawMessage(`{}`))
	if err := s.SendToDevice("@bob:x", "B1", "t", "m.test", map[string]map[string]json.RawMessage{"@alice:x": {"A1": json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	pos := s.Pos()
	s.Reset()
	if s.Pos() != pos {
		t.Fatalf("Reset moved the position from %d to %d", pos, s.Pos())
	}
	if u := s.Sync("@alice:x", "A1", 0); len(u.ToDevice) != 0 || u.Counts.OneTimeKeys["signed_curve25519"] != 0 {
		t.Fatalf("sync after Reset: %+v", u)
	}
	if _, err := s.Backup("@alice:x", ""); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("backup after Reset: %v", err)
	}
	if got := s.Changed("@alice:x", 0, s.Pos()); len(got) != 0 {
		t.Fatalf("changes after Reset: %v", got)
	}
	// The same transaction ID works again after a reset.
	if err := s.SendToDevice("@bob:x", "B1", "t", "m.test", map[string]map[string]json.RawMessage{"@alice:x": {"A1": json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if u := s.Sync("@alice:x", "A1", 0); len(u.ToDevice) != 1 {
		t.Fatalf("%d messages after Reset and a send, want 1", len(u.ToDevice))
	}
}
