package keys

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/id"
)

// roundTrip encodes v as JSON and decodes it into out, as a handler's
// answer reaches a client.
func roundTrip(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// What mautrix-go, a real client library, sends is accepted, and what the
// Store answers decodes into mautrix-go's response types with the values
// a client needs: keys, display name, merged signatures, claimed keys,
// cross-signing keys, and the sync fields.
func TestMautrixShapes(t *testing.T) {
	s, _ := newWorld()
	const alice, bob = id.UserID("@alice:x"), id.UserID("@bob:x")

	var req struct {
		DeviceKeys  json.RawMessage            `json:"device_keys"`
		OneTimeKeys map[string]json.RawMessage `json:"one_time_keys"`
	}
	roundTrip(t, mautrix.ReqUploadKeys{
		DeviceKeys: &mautrix.DeviceKeys{
			UserID: alice, DeviceID: "A1",
			Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
			Keys:       mautrix.KeyMap{"curve25519:A1": "curveA1", "ed25519:A1": "edA1"},
			Signatures: signatures.NewSingleSignature(alice, id.KeyAlgorithmEd25519, "A1", "selfsig"),
		},
		OneTimeKeys: map[id.KeyID]mautrix.OneTimeKey{
			"signed_curve25519:AAAA": {Key: "otkA", Signatures: signatures.NewSingleSignature(alice, id.KeyAlgorithmEd25519, "A1", "otksig")},
		},
	}, &req)
	counts, err := s.Upload(string(alice), "A1", UploadRequest{DeviceKeys: req.DeviceKeys, OneTimeKeys: req.OneTimeKeys})
	if err != nil {
		t.Fatal(err)
	}
	var uploaded mautrix.RespUploadKeys
	roundTrip(t, map[string]any{"one_time_key_counts": counts}, &uploaded)
	if uploaded.OneTimeKeyCounts.SignedCurve25519 != 1 {
		t.Fatalf("one_time_key_counts %+v", uploaded.OneTimeKeyCounts)
	}

	var cross struct {
		Master      json.RawMessage `json:"master_key"`
		SelfSigning json.RawMessage `json:"self_signing_key"`
		UserSigning json.RawMessage `json:"user_signing_key"`
	}
	key := func(usage id.CrossSigningUsage, pub id.Ed25519) mautrix.CrossSigningKeys {
		return mautrix.CrossSigningKeys{UserID: alice, Usage: []id.CrossSigningUsage{usage}, Keys: map[id.KeyID]id.Ed25519{id.NewKeyID(id.KeyAlgorithmEd25519, string(pub)): pub}}
	}
	roundTrip(t, mautrix.UploadCrossSigningKeysReq{
		Master: key(id.XSUsageMaster, "MK"), SelfSigning: key(id.XSUsageSelfSigning, "SSK"), UserSigning: key(id.XSUsageUserSigning, "USK"),
	}, &cross)
	if _, err := s.UploadCrossSigning(string(alice), CrossSigningKeys(cross), false); err != nil {
		t.Fatal(err)
	}

	var sigs map[string]map[string]json.RawMessage
	roundTrip(t, mautrix.ReqUploadSignatures{alice: {"A1": {
		UserID: alice, DeviceID: "A1", Keys: map[id.KeyID]string{"ed25519:A1": "edA1"},
		Signatures: signatures.NewSingleSignature(alice, id.KeyAlgorithmEd25519, "SSK", "crosssig"),
	}}}, &sigs)
	if f := s.UploadSignatures(string(alice), sigs); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}

	var query mautrix.RespQueryKeys
	roundTrip(t, s.Query(string(alice), map[string][]string{string(alice): nil, string(bob): nil}), &query)
	a1 := query.DeviceKeys[alice]["A1"]
	if a1.Keys.GetEd25519("A1") != "edA1" || a1.Unsigned["device_display_name"] != "Alice's phone" ||
		a1.Signatures[alice]["ed25519:A1"] != "selfsig" || a1.Signatures[alice]["ed25519:SSK"] != "crosssig" {
		t.Fatalf("alice's A1 as mautrix-go reads it: %+v", a1)
	}
	if mk := query.MasterKeys[alice]; mk.FirstKey() != "MK" || len(mk.Usage) != 1 || mk.Usage[0] != id.XSUsageMaster {
		t.Fatalf("master key: %+v", mk)
	}
	usk, ssk := query.UserSigningKeys[alice], query.SelfSigningKeys[alice]
	if usk.FirstKey() != "USK" || ssk.FirstKey() != "SSK" {
		t.Fatalf("self-signing %+v, user-signing %+v", query.SelfSigningKeys, query.UserSigningKeys)
	}
	if _, ok := query.DeviceKeys[bob]; !ok {
		t.Fatal("bob, asked for, has no device_keys entry")
	}

	var claimReq map[string]map[string]string
	roundTrip(t, mautrix.OneTimeKeysRequest{alice: {"A1": id.KeyAlgorithmSignedCurve25519}}, &claimReq)
	var claimed mautrix.RespClaimKeys
	roundTrip(t, map[string]any{"one_time_keys": s.Claim(claimReq), "failures": map[string]any{}}, &claimed)
	otk := claimed.OneTimeKeys[alice]["A1"]["signed_curve25519:AAAA"]
	if otk.Key != "otkA" || otk.Signatures[alice]["ed25519:A1"] != "otksig" {
		t.Fatalf("claimed key as mautrix-go reads it: %+v", otk)
	}

	if err := s.SendToDevice(string(bob), "B1", "t1", "m.room.encrypted", map[string]map[string]json.RawMessage{string(alice): {"*": json.RawMessage(`{"algorithm":"m.olm.v1.curve25519-aes-sha2"}`)}}); err != nil {
		t.Fatal(err)
	}
	u := s.Sync(string(alice), "A1", 1)
	var sync mautrix.RespSync
	roundTrip(t, map[string]any{
		"next_batch":                       "x",
		"to_device":                        map[string]any{"events": u.ToDevice},
		"device_lists":                     map[string]any{"changed": u.Changed, "left": []string{}},
		"device_one_time_keys_count":       u.Counts.OneTimeKeys,
		"device_unused_fallback_key_types": u.Counts.UnusedFallbackKeyTypes,
	}, &sync)
	if len(sync.ToDevice.Events) != 1 || sync.ToDevice.Events[0].Sender != bob || sync.ToDevice.Events[0].Type.Type != "m.room.encrypted" {
		t.Fatalf("to_device as mautrix-go reads it: %+v", sync.ToDevice)
	}
	if len(sync.DeviceLists.Changed) != 1 || sync.DeviceLists.Changed[0] != alice {
		t.Fatalf("device_lists as mautrix-go reads it: %+v", sync.DeviceLists)
	}
	if sync.DeviceOTKCount.SignedCurve25519 != 0 || sync.FallbackKeys == nil {
		t.Fatalf("counts as mautrix-go reads them: %+v, fallback %v", sync.DeviceOTKCount, sync.FallbackKeys)
	}
}
