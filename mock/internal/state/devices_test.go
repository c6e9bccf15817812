package state

import (
	"errors"
	"fmt"
	"testing"
)

func TestDevices(t *testing.T) {
	s, _ := newStore(t, Config{})
	for _, id := range []string{"CCC", "AAA", "BBB"} {
		login(t, s, LoginRequest{DeviceID: id, InitialDisplayName: "name " + id})
	}
	var ids []string
	for _, d := range s.Devices("@alice:localhost") {
		ids = append(ids, d.ID)
	}
	if got := fmt.Sprint(ids); got != "[AAA BBB CCC]" {
		t.Fatalf("Devices = %s", got)
	}
	if got := s.Devices("nobody"); len(got) != 0 {
		t.Fatalf("Devices(unknown) = %+v", got)
	}

	if err := s.UpdateDevice("alice", "BBB", "Phone"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Device("alice", "BBB"); err != nil || d.DisplayName != "Phone" {
		t.Fatalf("Device = %+v, %v", d, err)
	}
	if _, err := s.Device("alice", "ZZZ"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Device(unknown) = %v", err)
	}
	if err := s.DeleteDevice("alice", "AAA"); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Devices("alice")); got != 2 {
		t.Fatalf("%d devices after DeleteDevice, want 2", got)
	}
}

func TestGeneratedDeviceIDsAreUnique(t *testing.T) {
	s, _ := newStore(t, Config{Deterministic: true})
	seen := map[string]bool{}
	for range 1000 {
		id := login(t, s, LoginRequest{}).DeviceID
		if seen[id] {
			t.Fatalf("device ID %s issued twice", id)
		}
		seen[id] = true
	}
}
