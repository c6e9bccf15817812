package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestQuery(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")})
	upload(t, s, "@alice:x", "A2", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A2")})
	upload(t, s, "@bob:x", "B1", UploadRequest{DeviceKeys: deviceKeys("@bob:x", "B1")})
	for _, u := range []string{"@alice:x", "@bob:x"} {
		if _, err := s.UploadCrossSigning(u, CrossSigningKeys{
			Master:      crossKey(u, "master", "M"+u),
			SelfSigning: crossKey(u, "self_signing", "S"+u),
			UserSigning: crossKey(u, "user_signing", "U"+u),
		}, false); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, caller string
		want         map[string][]string
		devices      string // user/device pairs in device_keys
		master, self string // users with such keys
		userSigning  string
	}{
		{"all of alice's devices", "@bob:x", map[string][]string{"@alice:x": nil}, "[@alice:x/A1 @alice:x/A2]", "[@alice:x]", "[@alice:x]", "[]"},
		{"one device", "@bob:x", map[string][]string{"@alice:x": {"A2", "GONE"}}, "[@alice:x/A2]", "[@alice:x]", "[@alice:x]", "[]"},
		{"own user-signing key", "@alice:x", map[string][]string{"@alice:x": {}, "@bob:x": {}}, "[@alice:x/A1 @alice:x/A2 @bob:x/B1]", "[@alice:x @bob:x]", "[@alice:x @bob:x]", "[@alice:x]"},
		{"unknown user", "@alice:x", map[string][]string{"@nobody:x": nil}, "[]", "[]", "[]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Query(tt.caller, tt.want)
			var devices []string
			for u, ds := range r.DeviceKeys {
				for d, raw := range ds {
					devices = append(devices, u+"/"+d)
					v := decode(t, raw)
					if v["device_id"] != d || v["user_id"] != u {
						t.Fatalf("%s/%s shows %s", u, d, raw)
					}
				}
			}
			slices.Sort(devices)
			for _, c := range []struct{ name, got, want string }{
				{"device_keys", fmt.Sprint(devices), tt.devices},
				{"master_keys", users(r.MasterKeys), tt.master},
				{"self_signing_keys", users(r.SelfSigningKeys), tt.self},
				{"user_signing_keys", users(r.UserSigningKeys), tt.userSigning},
			} {
				if c.got != c.want {
					t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
				}
			}
			for u := range tt.want {
				if r.DeviceKeys[u] == nil {
					t.Errorf("device_keys has no entry for %s", u)
				}
			}
			if r.Failures == nil || len(r.Failures) != 0 {
				t.Errorf("failures %v, want empty", r.Failures)
			}
		})
	}

	a1 := decode(t, s.Query("@bob:x", map[string][]string{"@alice:x": {"A1"}}).DeviceKeys["@alice:x"]["A1"])
	if got := fmt.Sprint(a1["unsigned"]); got != "map[device_display_name:Alice's phone]" {
		t.Fatalf("A1 unsigned: %s", got)
	}
	if _, ok := decode(t, s.Query("@bob:x", map[string][]string{"@alice:x": {"A2"}}).DeviceKeys["@alice:x"]["A2"])["unsigned"]; ok {
		t.Fatal("A2 has no display name, yet shows unsigned")
	}
}

func users(m map[string]json.RawMessage) string {
	return fmt.Sprint(slices.Sorted(func(yield func(string) bool) {
		for u := range m {
			if !yield(u) {
				return
			}
		}
	}))
}

// Which uploads mark a device list changed, who is told, and who sees the
// change in Changed.
func TestChanged(t *testing.T) {
	s, w := newWorld()
	steps := []struct {
		name    string
		do      func() error
		changed bool   // whether the position moved with a change of owner
		owner   string // whose list changed
		woken   string
	}{
		{"alice uploads device keys", uploadStep(s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")}),
			true, "@alice:x", "[@alice:x @bob:x]"},
		{"the same device keys again", uploadStep(s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")}),
			false, "", "[]"},
		{"one-time keys only", uploadStep(s, "@alice:x", "A1", UploadRequest{OneTimeKeys: oneTimeKeys("a", 5)}),
			false, "", "[]"},
		{"carol, alone, uploads device keys", uploadStep(s, "@carol:x", "C1", UploadRequest{DeviceKeys: deviceKeys("@carol:x", "C1")}),
			true, "@carol:x", "[@carol:x]"},
		{"bob uploads cross-signing keys", func() error {
			_, err := s.UploadCrossSigning("@bob:x", CrossSigningKeys{Master: crossKey("@bob:x", "master", "MB")}, false)
			return err
		}, true, "@bob:x", "[@alice:x @bob:x]"},
		{"alice signs bob's master key", func() error {
			f := s.UploadSignatures("@alice:x", map[string]map[string]json.RawMessage{"@bob:x": {"MB": signedBy("@alice:x", "USK", crossKey("@bob:x", "master", "MB"))}})
			return errors.Join(flatten(f)...)
		}, true, "@bob:x", "[@alice:x @bob:x]"},
		{"alice deletes A1", func() error { s.DeleteDevice("@alice:x", "A1"); return nil }, true, "@alice:x", "[@alice:x @bob:x]"},
		{"alice deletes A1 again", func() error { s.DeleteDevice("@alice:x", "A1"); return nil }, false, "", "[]"},
		{"bob's cross-signing is reset", func() error { s.ResetCrossSigning("@bob:x"); return nil }, true, "@bob:x", "[@alice:x @bob:x]"},
	}
	for _, st := range steps {
		before := s.Pos()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		after := s.Pos()
		if got := w.takeWoken(); got != st.woken {
			t.Errorf("%s: woke %s, want %s", st.name, got, st.woken)
		}
		for _, viewer := range []string{"@alice:x", "@bob:x", "@carol:x"} {
			got := s.Changed(viewer, before, after)
			sees := st.changed && (viewer == st.owner || viewer != "@carol:x" && st.owner != "@carol:x")
			if want := map[bool]string{true: "[" + st.owner + "]", false: "[]"}[sees]; fmt.Sprint(got) != want {
				t.Errorf("%s: Changed for %s = %v, want %s", st.name, viewer, got, want)
			}
		}
	}
	if got := s.Changed("@alice:x", 0, s.Pos()); fmt.Sprint(got) != "[@alice:x @bob:x]" {
		t.Fatalf("Changed over everything: %v", got)
	}
	if got := s.Changed("@alice:x", s.Pos(), s.Pos()); len(got) != 0 {
		t.Fatalf("Changed over nothing: %v", got)
	}
}

// uploadStep returns a step of TestChanged that uploads req.
func uploadStep(s *Store, userID, deviceID string, req UploadRequest) func() error {
	return func() error {
		_, err := s.Upload(userID, deviceID, req)
		return err
	}
}

// signedBy returns obj with a signature by signer's key keyID.
func signedBy(signer, keyID string, obj json.RawMessage) json.RawMessage {
	var v map[string]any
	_ = json.Unmarshal(obj, &v)
	v["signatures"] = map[string]any{signer: map[string]string{"ed25519:" + keyID: "sig-by-" + keyID}}
	return mustJSON(v)
}

func flatten(f map[string]map[string]error) []error {
	var out []error
	for u, keys := range f {
		for k, err := range keys {
			out = append(out, fmt.Errorf("%s %s: %w", u, k, err))
		}
	}
	return out
}

func TestUploadCrossSigning(t *testing.T) {
	const me = "@alice:x"
	master, master2 := crossKey(me, "master", "M1"), crossKey(me, "master", "M2")
	self := crossKey(me, "self_signing", "S1")
	tests := []struct {
		name       string
		before     []CrossSigningKeys
		upload     CrossSigningKeys
		mayReplace bool
		replaced   bool
		err        error
		master     string // the master public key after, "" for none
	}{
		{"first upload", nil, CrossSigningKeys{Master: master, SelfSigning: self}, false, false, nil, "M1"},
		{"identical again", []CrossSigningKeys{{Master: master}}, CrossSigningKeys{Master: master}, false, false, nil, "M1"},
		{"identical with a new signature", []CrossSigningKeys{{Master: master}}, CrossSigningKeys{Master: signedBy(me, "A1", master)}, false, false, nil, "M1"},
		{"adding a self-signing key", []CrossSigningKeys{{Master: master}}, CrossSigningKeys{SelfSigning: self}, false, false, nil, "M1"},
		{"replacing without auth", []CrossSigningKeys{{Master: master}}, CrossSigningKeys{Master: master2}, false, false, ErrReplaceNeedsAuth, "M1"},
		{"replacing with auth", []CrossSigningKeys{{Master: master}}, CrossSigningKeys{Master: master2}, true, true, nil, "M2"},
		{"self-signing without master", nil, CrossSigningKeys{SelfSigning: self}, false, false, ErrMissingMasterKey, ""},
		{"another user's key", nil, CrossSigningKeys{Master: crossKey("@bob:x", "master", "M1")}, false, false, ErrOwnerMismatch, ""},
		{"not an object", nil, CrossSigningKeys{Master: json.RawMessage(`"M1"`)}, false, false, ErrBadJSON, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newWorld()
			for _, k := range tt.before {
				if _, err := s.UploadCrossSigning(me, k, false); err != nil {
					t.Fatal(err)
				}
			}
			replaced, err := s.UploadCrossSigning(me, tt.upload, tt.mayReplace)
			if replaced != tt.replaced || !errors.Is(err, tt.err) {
				t.Fatalf("replaced %v err %v, want %v %v", replaced, err, tt.replaced, tt.err)
			}
			r := s.Query(me, map[string][]string{me: nil})
			got := ""
			if raw := r.MasterKeys[me]; raw != nil {
				for _, pub := range decode(t, raw)["keys"].(map[string]any) {
					got = pub.(string)
				}
			}
			if got != tt.master {
				t.Fatalf("master key %q, want %q", got, tt.master)
			}
		})
	}
}

// After ResetCrossSigning the keys are gone and a new master key uploads
// without auth.
func TestResetCrossSigning(t *testing.T) {
	s, _ := newWorld()
	if _, err := s.UploadCrossSigning("@alice:x", CrossSigningKeys{Master: crossKey("@alice:x", "master", "M1")}, false); err != nil {
		t.Fatal(err)
	}
	s.ResetCrossSigning("@alice:x")
	if r := s.Query("@alice:x", map[string][]string{"@alice:x": nil}); len(r.MasterKeys) != 0 {
		t.Fatalf("master key after a reset: %s", r.MasterKeys)
	}
	if replaced, err := s.UploadCrossSigning("@alice:x", CrossSigningKeys{Master: crossKey("@alice:x", "master", "M2")}, false); err != nil || replaced {
		t.Fatalf("upload after a reset: replaced %v, %v", replaced, err)
	}
}

func TestUploadSignatures(t *testing.T) {
	s, _ := newWorld()
	upload(t, s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")})
	if _, err := s.UploadCrossSigning("@alice:x", CrossSigningKeys{
		Master: crossKey("@alice:x", "master", "MA"), SelfSigning: crossKey("@alice:x", "self_signing", "SA"),
	}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadCrossSigning("@bob:x", CrossSigningKeys{Master: crossKey("@bob:x", "master", "MB")}, false); err != nil {
		t.Fatal(err)
	}
	failures := s.UploadSignatures("@alice:x", map[string]map[string]json.RawMessage{
		"@alice:x": {
			"A1":   signedBy("@alice:x", "SA", deviceKeys("@alice:x", "A1")), // self-signing key signs a device
			"MA":   signedBy("@alice:x", "A1", crossKey("@alice:x", "master", "MA")),
			"GONE": signedBy("@alice:x", "SA", deviceKeys("@alice:x", "GONE")),
			"BAD":  json.RawMessage(`[]`),
		},
		"@bob:x": {
			"MB": signedBy("@alice:x", "UA", crossKey("@bob:x", "master", "MB")),
			"B1": signedBy("@carol:x", "C", deviceKeys("@bob:x", "B1")), // no signature by alice
		},
	})
	wantFailures := map[string]error{"@alice:x/GONE": ErrUnknownKey, "@alice:x/BAD": ErrBadJSON, "@bob:x/B1": ErrNoSignature}
	n := 0
	for u, keys := range failures {
		for k, err := range keys {
			n++
			if want := wantFailures[u+"/"+k]; !errors.Is(err, want) {
				t.Errorf("failure %s/%s: %v, want %v", u, k, err, want)
			}
		}
	}
	if n != len(wantFailures) {
		t.Errorf("%d failures, want %d: %v", n, len(wantFailures), failures)
	}

	r := s.Query("@bob:x", map[string][]string{"@alice:x": nil, "@bob:x": nil})
	for _, c := range []struct {
		name string
		raw  json.RawMessage
		want string
	}{
		{"A1", r.DeviceKeys["@alice:x"]["A1"], "map[@alice:x:map[ed25519:A1:sig-A1 ed25519:SA:sig-by-SA]]"},
		{"alice's master", r.MasterKeys["@alice:x"], "map[@alice:x:map[ed25519:A1:sig-by-A1]]"},
		{"bob's master", r.MasterKeys["@bob:x"], "map[@alice:x:map[ed25519:UA:sig-by-UA]]"},
		{"alice's self-signing", r.SelfSigningKeys["@alice:x"], "<nil>"},
	} {
		if got := fmt.Sprint(decode(t, c.raw)["signatures"]); got != c.want {
			t.Errorf("%s signatures: %s, want %s", c.name, got, c.want)
		}
	}

	// Device keys uploaded again, as a client does, keep the signature
	// uploaded since.
	upload(t, s, "@alice:x", "A1", UploadRequest{DeviceKeys: deviceKeys("@alice:x", "A1")})
	a1 := s.Query("@alice:x", map[string][]string{"@alice:x": {"A1"}}).DeviceKeys["@alice:x"]["A1"]
	if got := fmt.Sprint(decode(t, a1)["signatures"]); got != "map[@alice:x:map[ed25519:A1:sig-A1 ed25519:SA:sig-by-SA]]" {
		t.Fatalf("A1 signatures after a new upload of the same keys: %s", got)
	}
}
