package state

import (
	"errors"
	"fmt"
	"testing"
)

// TestThreePIDs: a requested validation session adds its address once, for
// its client secret only; addresses are unique across accounts and
// compared as stored (e-mail in lower case); deletion and deactivation free
// them.
func TestThreePIDs(t *testing.T) {
	s, clk := newStore(t, Config{})
	if _, err := s.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	sid, err := s.RequestThreePIDToken("secret", "email", "Alice@Example.org")
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"another secret":  s.AddThreePID("alice", "other", sid),
		"unknown session": s.AddThreePID("alice", "secret", "nope"),
	} {
		if !errors.Is(err, ErrThreePIDAuthFailed) {
			t.Errorf("%s: %v, want ErrThreePIDAuthFailed", name, err)
		}
	}
	clk.Advance(ThreePIDSessionLifetime / 2)
	if err := s.AddThreePID("alice", "secret", sid); err != nil {
		t.Fatal(err)
	}
	want := []ThreePID{{Medium: "email", Address: "alice@example.org", ValidatedAt: epoch, AddedAt: epoch.Add(ThreePIDSessionLifetime / 2)}}
	if got := s.ThreePIDs("alice"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ThreePIDs = %+v, want %+v", got, want)
	}
	if err := s.AddThreePID("alice", "secret", sid); !errors.Is(err, ErrThreePIDAuthFailed) {
		t.Errorf("a used session: %v", err)
	}
	if _, err := s.RequestThreePIDToken("bob's", "email", "ALICE@example.org"); !errors.Is(err, ErrThreePIDInUse) {
		t.Errorf("requesting a used address: %v", err)
	}

	// Two sessions for one address: the second account to add it fails.
	phone1, _ := s.RequestThreePIDToken("a", "msisdn", "447700900000")
	phone2, _ := s.RequestThreePIDToken("b", "msisdn", "447700900000")
	if err := s.AddThreePID("bob", "b", phone2); err != nil {
		t.Fatal(err)
	}
	if err := s.AddThreePID("alice", "a", phone1); !errors.Is(err, ErrThreePIDInUse) {
		t.Errorf("adding bob's number to alice: %v", err)
	}

	expired, _ := s.RequestThreePIDToken("c", "email", "late@example.org")
	clk.Advance(ThreePIDSessionLifetime)
	if err := s.AddThreePID("alice", "c", expired); !errors.Is(err, ErrThreePIDAuthFailed) {
		t.Errorf("an expired session: %v", err)
	}

	// The snapshot keeps them, and the uniqueness with them.
	r := roundTrip(t, s, clk)
	if got := r.ThreePIDs("alice"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("restored ThreePIDs = %+v", got)
	}
	if _, err := r.RequestThreePIDToken("x", "msisdn", "447700900000"); !errors.Is(err, ErrThreePIDInUse) {
		t.Errorf("bob's restored number: %v", err)
	}
	snap := r.Snapshot()
	snap.Users[1].ThreePIDs = append(snap.Users[1].ThreePIDs, want[0]) // alice's address on bob too
	if err := r.Restore(snap); err == nil {
		t.Error("Restore accepted an address on two accounts")
	}

	if ok, err := s.DeleteThreePID("alice", "email", "ALICE@example.org"); !ok || err != nil {
		t.Fatalf("DeleteThreePID = %v, %v", ok, err)
	}
	if ok, _ := s.DeleteThreePID("alice", "email", "alice@example.org"); ok {
		t.Error("deleted twice")
	}
	if _, err := s.DeleteThreePID("nobody", "email", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if got := s.ThreePIDs("alice"); len(got) != 0 {
		t.Errorf("after deletion: %+v", got)
	}
	if err := s.Deactivate("bob"); err != nil {
		t.Fatal(err)
	}
	again, err := s.RequestThreePIDToken("a", "msisdn", "447700900000")
	if err != nil {
		t.Fatalf("a deactivated account's number stays in use: %v", err)
	}
	if err := s.AddThreePID("alice", "a", again); err != nil {
		t.Fatal(err)
	}
	if err := s.AddThreePID("bob", "a", again); !errors.Is(err, ErrUserDeactivated) {
		t.Errorf("adding to a deactivated account: %v", err)
	}
}
