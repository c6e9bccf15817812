package state

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestSnapshotRoundTrip: a store restored from its snapshot, through JSON,
// behaves as the original would, including the refresh rotation rule.
func TestSnapshotRoundTrip(t *testing.T) {
	s, clk := newStore(t, Config{})
	first := login(t, s, LoginRequest{UserID: "alice", DeviceID: "PHONE", WithRefresh: true, InitialDisplayName: "Phone"})
	second, err := s.Refresh(first.RefreshToken) // PHONE now has a previous pair
	if err != nil {
		t.Fatal(err)
	}
	other := login(t, s, LoginRequest{UserID: "alice", DeviceID: "LAPTOP", ViaOAuth: true})
	if err := s.SoftLogout("alice", "LAPTOP"); err != nil {
		t.Fatal(err)
	}
	r := roundTrip(t, s, clk)
	data, _ := json.Marshal(s.Snapshot())
	if again, _ := json.Marshal(r.Snapshot()); string(again) != string(data) {
		t.Fatalf("snapshot changed in the round trip:\n%s\n%s", data, again)
	}
	// The old refresh token may still be reused: the new pair is unused.
	if _, err := r.Refresh(first.RefreshToken); err != nil {
		t.Fatalf("reusing the previous refresh token after restore: %v", err)
	}
	if _, err := r.Authenticate(second.AccessToken, ""); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("the replaced pair still works: %v", err)
	}
	if _, err := r.Authenticate(other.AccessToken, ""); err.(*TokenError).Cause != CauseSoftLogout {
		t.Fatalf("the soft logout was lost: %v", err)
	}
	if d, _ := r.Device("alice", "PHONE"); d.DisplayName != "Phone" {
		t.Fatalf("device %+v", d)
	}
	clk.Advance(5 * time.Minute)
	if err := r.CheckPassword("alice", "wonderland"); err != nil {
		t.Fatalf("password lost: %v", err)
	}
}

func TestRestoreRefusesInconsistentState(t *testing.T) {
	s, _ := newStore(t, Config{})
	good := func() Snapshot {
		return Snapshot{ServerName: "localhost", Users: []SnapshotUser{{ID: "@bob:localhost", Devices: []SnapshotDevice{
			{ID: "A", Current: SnapshotPair{AccessToken: "t1", RefreshToken: "r1"}},
		}}}}
	}
	for name, edit := range map[string]func(*Snapshot){
		"other server":   func(s *Snapshot) { s.ServerName = "example.org" },
		"foreign user":   func(s *Snapshot) { s.Users[0].ID = "@bob:example.org" },
		"duplicate user": func(s *Snapshot) { s.Users = append(s.Users, s.Users[0]) },
		"no access":      func(s *Snapshot) { s.Users[0].Devices[0].Current.AccessToken = "" },
		"shared token": func(s *Snapshot) {
			s.Users[0].Devices = append(s.Users[0].Devices, SnapshotDevice{ID: "B", Current: SnapshotPair{AccessToken: "r1"}})
		},
	} {
		snap := good()
		edit(&snap)
		if err := s.Restore(snap); err == nil {
			t.Errorf("%s: restored", name)
		}
		if err := s.CheckPassword("alice", "wonderland"); err != nil {
			t.Errorf("%s: the store changed although the restore failed", name)
		}
	}
	if err := s.Restore(good()); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate("t1", ""); err != nil || p.UserID != "@bob:localhost" {
		t.Fatalf("restored token: %+v %v", p, err)
	}
}
