package state

import (
	"errors"
	"fmt"
	"slices"
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

// TestOnDeviceRemovedHearsEveryRemoval: each way a device goes tells the
// hook once, outside the lock (the hook reads the Store, which would
// deadlock under it), and a soft logout, which keeps the device, does not.
func TestOnDeviceRemovedHearsEveryRemoval(t *testing.T) {
	var heard []string
	var s *Store
	s, _ = newStore(t, Config{OnDeviceRemoved: func(user, device string) {
		if _, err := s.Device(user, device); !errors.Is(err, ErrNotFound) {
			t.Errorf("device %s still there when the hook runs: %v", device, err)
		}
		heard = append(heard, device)
	}})
	dev := func(id string) Session { return login(t, s, LoginRequest{DeviceID: id, WithRefresh: true}) }
	dev("DEL")
	logout := dev("OUT")
	revoked := dev("REV")
	soft := dev("SOFT")
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"DeleteDevice", func() error { return s.DeleteDevice("alice", "DEL") }, []string{"DEL"}},
		{"Logout", func() error { _, err := s.Logout(logout.AccessToken); return err }, []string{"OUT"}},
		{"RevokeToken", func() error {
			if !s.RevokeToken(revoked.RefreshToken) {
				return errors.New("not revoked")
			}
			return nil
		}, []string{"REV"}},
		{"SoftLogout", func() error { return s.SoftLogout("alice", soft.DeviceID) }, nil},
		{"ChangePassword", func() error { dev("KEEP"); dev("PW"); return s.ChangePassword("alice", "new", "KEEP", true) }, []string{"PW", "SOFT"}},
		{"LogoutAll", func() error { dev("ALL"); return s.LogoutAll("alice") }, []string{"ALL", "KEEP"}},
		{"Deactivate", func() error { dev("DEACT"); return s.Deactivate("alice") }, []string{"DEACT"}},
	}
	for _, st := range steps {
		heard = nil
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		slices.Sort(heard)
		if !slices.Equal(heard, st.want) {
			t.Errorf("%s: hook heard %v, want %v", st.name, heard, st.want)
		}
	}
}
