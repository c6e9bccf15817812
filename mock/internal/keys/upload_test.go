package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestUpload(t *testing.T) {
	tests := []struct {
		name       string
		req        UploadRequest
		err        error
		wantCounts string
	}{
		{"nothing", UploadRequest{}, nil, "map[signed_curve25519:0]"},
		{"device keys", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")}, nil, "map[signed_curve25519:0]"},
		{"one-time keys", UploadRequest{OneTimeKeys: oneTimeKeys("a", 3)}, nil, "map[signed_curve25519:3]"},
		{"other algorithm", UploadRequest{OneTimeKeys: map[string]json.RawMessage{"curve25519:z": json.RawMessage(`"plain"`)}},
			nil, "map[curve25519:1 signed_curve25519:0]"},
		{"fallback key", UploadRequest{FallbackKeys: oneTimeKeys("f", 1)}, nil, "map[signed_curve25519:0]"},
		{"another user's keys", UploadRequest{DeviceKeys: deviceKeys("@bob:x", "A1")}, ErrOwnerMismatch, ""},
		{"another device's keys", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A2")}, ErrOwnerMismatch, ""},
		{"device keys not an object", UploadRequest{DeviceKeys: json.RawMessage(`[1]`)}, ErrBadJSON, ""},
		{"bad signatures", UploadRequest{DeviceKeys: json.RawMessage(`{"user_id":"@alice:x","device_id":"A1","signatures":"x"}`)}, ErrBadJSON, ""},
		{"key ID without algorithm", UploadRequest{OneTimeKeys: map[string]json.RawMessage{"AAAA": json.RawMessage(`{}`)}}, ErrBadKeyID, ""},
		{"key ID with empty ID", UploadRequest{FallbackKeys: map[string]json.RawMessage{"signed_curve25519:": json.RawMessage(`{}`)}}, ErrBadKeyID, ""},
		{"key not JSON", UploadRequest{OneTimeKeys: map[string]json.RawMessage{"a:b": json.RawMessage(`{`)}}, ErrBadJSON, ""},
		// The valid keys of a refused upload are not stored either.
		{"good one-time keys, bad device keys", UploadRequest{OneTimeKeys: oneTimeKeys("a", 2), DeviceKeys: deviceKeys("@bob:x", "B1")}, ErrOwnerMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newWorld()
			counts, err := s.Upload("@alice:x", "A1", tt.req)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Upload: %v, want %v", err, tt.err)
			}
			if err != nil {
				if c := s.Counts("@alice:x", "A1"); fmt.Sprint(c) != "{map[signed_curve25519:0] []}" {
					t.Fatalf("a refused upload stored keys: %+v", c)
				}
				if q := s.Query("@alice:x", map[string][]string{"@alice:x": nil}); len(q.DeviceKeys["@alice:x"]) != 0 {
					t.Fatalf("a refused upload stored device keys: %s", q.DeviceKeys)
				}
				return
			}
			if got := fmt.Sprint(counts); got != tt.wantCounts {
				t.Fatalf("counts %s, want %s", got, tt.wantCounts)
			}
		})
	}
}

// A one-time key ID uploaded again: the same key is accepted and counted
// once; another key under the same ID is refused.
func TestUploadOneTimeKeyAgain(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@alice:x", "A1", UploadRequest{OneTimeKeys: oneTimeKeys("a", 2)})
	if counts := upload(t, s, "@alice:x", "A1", UploadRequest{OneTimeKeys: oneTimeKeys("a", 3)}); counts["signed_curve25519"] != 3 {
		t.Fatalf("counts %v, want 3 keys", counts)
	}
	other := map[string]json.RawMessage{"signed_curve25519:a0": json.RawMessage(`{"key":"different"}`)}
	if _, err := s.Upload("@alice:x", "A1", UploadRequest{OneTimeKeys: other}); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("other key under a used ID: %v, want ErrKeyExists", err)
	}
}

// Claims take one-time keys oldest first, then the fallback key, which
// stays and is marked used; counts and sync follow.
func TestClaim(t *testing.T) {
	s, w := newWorld()
	upload(t, s, "@bob:x", "B1", UploadRequest{
		OneTimeKeys:  oneTimeKeys("a", 2),
		FallbackKeys: oneTimeKeys("fb", 1),
	})
	w.takeWoken()
	if c := s.Counts("@bob:x", "B1"); fmt.Sprint(c) != "{map[signed_curve25519:2] [signed_curve25519]}" {
		t.Fatalf("counts before claims: %+v", c)
	}
	since := s.Pos()
	want := map[string]map[string]string{"@bob:x": {"B1": "signed_curve25519", "NOPE": "signed_curve25519"}, "@nobody:x": {"D": "signed_curve25519"}}
	for i, wantKey := range []string{
		`{"signed_curve25519:a0":{"key":"k-a0"}}`,
		`{"signed_curve25519:a1":{"key":"k-a1"}}`,
		`{"signed_curve25519:fb0":{"key":"k-fb0"}}`,
		`{"signed_curve25519:fb0":{"key":"k-fb0"}}`, // the fallback key is not used up
	} {
		got := s.Claim(want)
		if len(got) != 1 || len(got["@bob:x"]) != 1 {
			t.Fatalf("claim %d: %v, want one key for B1 only", i, got)
		}
		if b, _ := json.Marshal(got["@bob:x"]["B1"]); string(b) != wantKey {
			t.Fatalf("claim %d: %s, want %s", i, b, wantKey)
		}
	}
	if got := w.takeWoken(); got != "[@bob:x]" {
		t.Fatalf("woken %s, want the owner", got)
	}
	if c := s.Counts("@bob:x", "B1"); fmt.Sprint(c) != "{map[signed_curve25519:0] []}" {
		t.Fatalf("counts after claims: %+v", c)
	}
	u := s.Sync("@bob:x", "B1", since)
	if !u.CountsChanged || u.Empty() {
		t.Fatalf("sync after a claim: %+v, want CountsChanged", u)
	}
	if u := s.Sync("@bob:x", "B1", u.Pos); u.CountsChanged || !u.Empty() {
		t.Fatalf("the next sync: %+v, want nothing new", u)
	}
	if got := s.Claim(map[string]map[string]string{"@bob:x": {"B1": "curve25519"}}); len(got) != 0 {
		t.Fatalf("claim of an algorithm without keys: %v", got)
	}
}

// A fallback key uploaded again stays used; a new one replaces it unused.
func TestFallbackKeyReplaced(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@bob:x", "B1", UploadRequest{FallbackKeys: oneTimeKeys("fb", 1)})
	s.Claim(map[string]map[string]string{"@bob:x": {"B1": "signed_curve25519"}})
	upload(t, s, "@bob:x", "B1", UploadRequest{FallbackKeys: oneTimeKeys("fb", 1)})
	if c := s.Counts("@bob:x", "B1"); len(c.UnusedFallbackKeyTypes) != 0 {
		t.Fatalf("the same fallback key uploaded again became unused: %+v", c)
	}
	upload(t, s, "@bob:x", "B1", UploadRequest{FallbackKeys: oneTimeKeys("new", 1)})
	if c := s.Counts("@bob:x", "B1"); fmt.Sprint(c.UnusedFallbackKeyTypes) != "[signed_curve25519]" {
		t.Fatalf("a new fallback key is not unused: %+v", c)
	}
	got, _ := json.Marshal(s.Claim(map[string]map[string]string{"@bob:x": {"B1": "signed_curve25519"}}))
	if string(got) != `{"@bob:x":{"B1":{"signed_curve25519:new0":{"key":"k-new0"}}}}` {
		t.Fatalf("claim gave %s, want the new fallback key", got)
	}
}
