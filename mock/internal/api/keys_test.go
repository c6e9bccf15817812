package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

const keysPath = "/_matrix/client/v3/keys/"

// keysServer is a mock with alice (device ALICE1) and bob (device BOB1)
// logged in.
func keysServer(t *testing.T) (*mock.Server, session, session) {
	t.Helper()
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder"))
	return hs, loginAs(t, hs, "alice", "wonderland", "ALICE1"), loginAs(t, hs, "bob", "builder", "BOB1")
}

// deviceKeys is a device's identity keys, with a field the spec does not
// name, which must come back as uploaded (clients check signatures over
// every field).
func deviceKeys(s session) map[string]any {
	return map[string]any{
		"user_id": s.user, "device_id": s.device,
		"algorithms":        []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":              map[string]string{"curve25519:" + s.device: "curve-" + s.device, "ed25519:" + s.device: "ed-" + s.device},
		"signatures":        map[string]any{s.user: map[string]string{"ed25519:" + s.device: "sig"}},
		"org.example.extra": map[string]any{"n": 12345678901234567},
	}
}

func signedKey(key string) map[string]any {
	return map[string]any{"key": key, "signatures": map[string]any{"@alice:localhost": map[string]string{"ed25519:ALICE1": "s"}}}
}

func TestKeysUploadQueryClaim(t *testing.T) {
	hs, alice, bob := keysServer(t)
	up := jsonCall(t, hs, "POST", keysPath+"upload", alice.token, map[string]any{
		"device_keys":   deviceKeys(alice),
		"one_time_keys": map[string]any{"signed_curve25519:AAA": signedKey("k1"), "signed_curve25519:AAB": signedKey("k2")},
		"fallback_keys": map[string]any{"signed_curve25519:FFF": signedKey("fb")},
	})
	up.want(t, http.StatusOK, "")
	if n := up.path("one_time_key_counts", "signed_curve25519"); n != float64(2) {
		t.Fatalf("one_time_key_counts %s, want signed_curve25519: 2", up.raw)
	}

	q := jsonCall(t, hs, "POST", keysPath+"query", bob.token, map[string]any{"device_keys": map[string]any{alice.user: []string{}}})
	q.want(t, http.StatusOK, "")
	got := q.path("device_keys", alice.user, alice.device)
	if got == nil {
		t.Fatalf("query %s lacks alice's device", q.raw)
	}
	if !jsonHas(q.raw, `"org.example.extra":{"n":12345678901234567}`) {
		t.Errorf("query %s lost a field of the uploaded device keys, or changed its number", q.raw)
	}

	claimed := []string{}
	for range 3 {
		c := jsonCall(t, hs, "POST", keysPath+"claim", bob.token, map[string]any{
			"one_time_keys": map[string]any{alice.user: map[string]string{alice.device: "signed_curve25519"}},
		})
		c.want(t, http.StatusOK, "")
		keys, _ := c.path("one_time_keys", alice.user, alice.device).(map[string]any)
		if len(keys) != 1 {
			t.Fatalf("claim %s: want one key", c.raw)
		}
		for id := range keys {
			claimed = append(claimed, id)
		}
	}
	want := []string{"signed_curve25519:AAA", "signed_curve25519:AAB", "signed_curve25519:FFF"}
	for i := range want {
		if claimed[i] != want[i] {
			t.Fatalf("claimed %v, want the one-time keys oldest first then the fallback key: %v", claimed, want)
		}
	}
	again := jsonCall(t, hs, "POST", keysPath+"upload", alice.token, map[string]any{})
	again.want(t, http.StatusOK, "")
	if n := again.path("one_time_key_counts", "signed_curve25519"); n != float64(0) {
		t.Errorf("after the claims, counts %s, want signed_curve25519: 0", again.raw)
	}
}

// jsonHas reports whether raw holds the fragment, as encoding/json writes
// it (no spaces).
func jsonHas(raw []byte, fragment string) bool { return strings.Contains(string(raw), fragment) }

func TestKeysErrors(t *testing.T) {
	hs, alice, bob := keysServer(t)
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"upload without a token", "POST", keysPath + "upload", "", map[string]any{}, 401, "M_MISSING_TOKEN"},
		{"upload not JSON", "POST", keysPath + "upload", alice.token, "{nope", 400, "M_NOT_JSON"},
		{"upload of another device's keys", "POST", keysPath + "upload", alice.token, map[string]any{"device_keys": deviceKeys(bob)}, 400, "M_INVALID_PARAM"},
		{"upload with a bad key ID", "POST", keysPath + "upload", alice.token, map[string]any{"one_time_keys": map[string]any{"nocolon": "k"}}, 400, "M_INVALID_PARAM"},
		{"upload with device keys not an object", "POST", keysPath + "upload", alice.token, map[string]any{"device_keys": []int{1}}, 400, "M_BAD_JSON"},
		{"query without device_keys", "POST", keysPath + "query", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"claim without one_time_keys", "POST", keysPath + "claim", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"changes with a bad token", "GET", keysPath + "changes?from=nope&to=s1", alice.token, nil, 400, "M_INVALID_PARAM"},
		{"changes without to", "GET", keysPath + "changes?from=s1", alice.token, nil, 400, "M_MISSING_PARAM"},
		{"sendToDevice without messages", "PUT", "/_matrix/client/v3/sendToDevice/m.test/t1", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"sendToDevice of a content not an object", "PUT", "/_matrix/client/v3/sendToDevice/m.test/t2", alice.token,
			map[string]any{"messages": map[string]any{bob.user: map[string]any{bob.device: "text"}}}, 400, "M_BAD_JSON"},
		{"self-signing key without a master key", "POST", keysPath + "device_signing/upload", bob.token,
			map[string]any{"self_signing_key": crossKey(bob.user, "self_signing", "ssk")}, 400, "M_MISSING_PARAM"},
		{"cross-signing key of another user", "POST", keysPath + "device_signing/upload", bob.token,
			map[string]any{"master_key": crossKey(alice.user, "master", "mk")}, 400, "M_INVALID_PARAM"},
		{"no backup", "GET", "/_matrix/client/v3/room_keys/version", alice.token, nil, 404, "M_NOT_FOUND"},
		{"no backup version", "GET", "/_matrix/client/v3/room_keys/version/7", alice.token, nil, 404, "M_NOT_FOUND"},
		{"delete no backup", "DELETE", "/_matrix/client/v3/room_keys/version/7", alice.token, nil, 404, "M_NOT_FOUND"},
		{"backup without auth_data", "POST", "/_matrix/client/v3/room_keys/version", alice.token, map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2"}, 400, "M_MISSING_PARAM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := ""
			if _, ok := c.body.(string); ok {
				ct = "application/json"
			}
			request(t, hs, c.method, c.path, c.token, c.body, ct).want(t, c.status, c.errcode)
		})
	}
}

func crossKey(user, usage, pub string) map[string]any {
	return map[string]any{"user_id": user, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + pub: pub}}
}

func TestKeysChanges(t *testing.T) {
	hs, alice, _ := keysServer(t)
	jsonCall(t, hs, "POST", keysPath+"upload", alice.token, map[string]any{"device_keys": deviceKeys(alice)}).want(t, http.StatusOK, "")
	for _, c := range []struct {
		from, to string
		changed  bool
	}{
		{"s0_k0", "s0_k1000", true},     // the upload is in (0, 1000]
		{"s0_k1000", "s5_k2000", false}, // nothing after
		{"s3", "s9_k1000", true},        // no keys part: from the start
	} {
		a := jsonCall(t, hs, "GET", keysPath+"changes?from="+c.from+"&to="+c.to, alice.token, nil)
		a.want(t, http.StatusOK, "")
		changed, _ := a.body["changed"].([]any)
		if got := len(changed) == 1 && changed[0] == alice.user; got != c.changed {
			t.Errorf("changes from %s to %s: %s, want alice changed: %v", c.from, c.to, a.raw, c.changed)
		}
		if _, ok := a.body["left"].([]any); !ok {
			t.Errorf("changes %s: no left list", a.raw)
		}
	}
}

func TestSendToDeviceIsIdempotent(t *testing.T) {
	hs, alice, bob := keysServer(t)
	body := map[string]any{"messages": map[string]any{bob.user: map[string]any{"*": map[string]any{"hello": 1}}}}
	for range 2 {
		jsonCall(t, hs, "PUT", "/_matrix/client/v3/sendToDevice/m.test/txn1", alice.token, body).want(t, http.StatusOK, "")
	}
}

func TestCrossSigningReplacementNeedsPassword(t *testing.T) {
	hs, alice, _ := keysServer(t)
	first := map[string]any{
		"master_key":       crossKey(alice.user, "master", "mk1"),
		"self_signing_key": crossKey(alice.user, "self_signing", "ssk1"),
		"user_signing_key": crossKey(alice.user, "user_signing", "usk1"),
	}
	const upload = keysPath + "device_signing/upload"
	jsonCall(t, hs, "POST", upload, alice.token, first).want(t, http.StatusOK, "")
	jsonCall(t, hs, "POST", upload, alice.token, first).want(t, http.StatusOK, "") // the same again: idempotent

	second := map[string]any{"master_key": crossKey(alice.user, "master", "mk2")}
	ch := jsonCall(t, hs, "POST", upload, alice.token, second)
	ch.want(t, http.StatusUnauthorized, "")
	sessionID, _ := ch.body["session"].(string)
	stages, _ := ch.path("flows").([]any)
	if sessionID == "" || len(stages) != 1 || !jsonHas(ch.raw, `"stages":["m.login.password"]`) {
		t.Fatalf("replacement challenge %s: want one m.login.password flow and a session", ch.raw)
	}
	auth := func(password string) map[string]any {
		return map[string]any{"type": "m.login.password", "session": sessionID, "password": password,
			"identifier": map[string]any{"type": "m.id.user", "user": "alice"}}
	}
	second["auth"] = auth("wrong")
	jsonCall(t, hs, "POST", upload, alice.token, second).want(t, http.StatusUnauthorized, "M_FORBIDDEN")
	q := jsonCall(t, hs, "POST", keysPath+"query", alice.token, map[string]any{"device_keys": map[string]any{alice.user: []string{}}})
	if q.path("master_keys", alice.user, "keys", "ed25519:mk1") == nil {
		t.Fatalf("a refused replacement changed the master key: %s", q.raw)
	}
	second["auth"] = auth("wonderland")
	jsonCall(t, hs, "POST", upload, alice.token, second).want(t, http.StatusOK, "")
	q = jsonCall(t, hs, "POST", keysPath+"query", alice.token, map[string]any{"device_keys": map[string]any{alice.user: []string{}}})
	if q.path("master_keys", alice.user, "keys", "ed25519:mk2") == nil {
		t.Fatalf("after UIA, query %s lacks the new master key", q.raw)
	}
	// The session is over: it does not authorise another replacement.
	third := map[string]any{"master_key": crossKey(alice.user, "master", "mk3"), "auth": auth("wonderland")}
	jsonCall(t, hs, "POST", upload, alice.token, third).want(t, http.StatusBadRequest, "M_UNKNOWN")
}

func TestSignaturesUpload(t *testing.T) {
	hs, alice, _ := keysServer(t)
	jsonCall(t, hs, "POST", keysPath+"upload", alice.token, map[string]any{"device_keys": deviceKeys(alice)}).want(t, http.StatusOK, "")
	jsonCall(t, hs, "POST", keysPath+"device_signing/upload", alice.token, map[string]any{
		"master_key": crossKey(alice.user, "master", "mk"), "self_signing_key": crossKey(alice.user, "self_signing", "ssk"),
	}).want(t, http.StatusOK, "")
	signed := deviceKeys(alice)
	signed["signatures"] = map[string]any{alice.user: map[string]string{"ed25519:ssk": "by-ssk"}}
	a := jsonCall(t, hs, "POST", keysPath+"signatures/upload", alice.token, map[string]any{
		alice.user: map[string]any{alice.device: signed, "NOSUCH": signed},
	})
	a.want(t, http.StatusOK, "")
	if a.path("failures", alice.user, "NOSUCH", "errcode") != "M_NOT_FOUND" || a.path("failures", alice.user, alice.device) != nil {
		t.Fatalf("signatures/upload %s: want a failure for NOSUCH only", a.raw)
	}
	q := jsonCall(t, hs, "POST", keysPath+"query", alice.token, map[string]any{"device_keys": map[string]any{alice.user: []string{}}})
	if q.path("device_keys", alice.user, alice.device, "signatures", alice.user, "ed25519:ssk") != "by-ssk" {
		t.Fatalf("query %s lacks the uploaded signature", q.raw)
	}
}

func TestKeyBackupVersions(t *testing.T) {
	hs, alice, _ := keysServer(t)
	const v = "/_matrix/client/v3/room_keys/version"
	algo := "m.megolm_backup.v1.curve25519-aes-sha2"
	c := jsonCall(t, hs, "POST", v, alice.token, map[string]any{"algorithm": algo, "auth_data": map[string]any{"public_key": "pk"}})
	c.want(t, http.StatusOK, "")
	version, _ := c.body["version"].(string)
	cur := jsonCall(t, hs, "GET", v, alice.token, nil)
	cur.want(t, http.StatusOK, "")
	if cur.body["version"] != version || cur.body["algorithm"] != algo || cur.path("auth_data", "public_key") != "pk" || cur.body["etag"] == nil {
		t.Fatalf("current backup %s, want version %s as created", cur.raw, version)
	}
	jsonCall(t, hs, "PUT", v+"/"+version, alice.token, map[string]any{"algorithm": "other", "auth_data": map[string]any{}}).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	jsonCall(t, hs, "PUT", v+"/"+version, alice.token, map[string]any{"algorithm": algo, "auth_data": map[string]any{"public_key": "pk2"}}).want(t, http.StatusOK, "")
	if got := jsonCall(t, hs, "GET", v+"/"+version, alice.token, nil); got.path("auth_data", "public_key") != "pk2" {
		t.Fatalf("after the update: %s", got.raw)
	}
	jsonCall(t, hs, "DELETE", v+"/"+version, alice.token, nil).want(t, http.StatusOK, "")
	jsonCall(t, hs, "GET", v, alice.token, nil).want(t, http.StatusNotFound, "M_NOT_FOUND")
}

// TestRemovedDeviceLosesItsKeys: however a device goes (deleted with UIA,
// logged out, hard-logged-out by the Go API as a scenario effect is), its
// keys go too.
func TestRemovedDeviceLosesItsKeys(t *testing.T) {
	hs, _, bob := keysServer(t)
	remove := map[string]func(s session){
		"DELETE /devices": func(s session) {
			body := map[string]any{"auth": map[string]any{"type": "m.login.password", "password": "wonderland",
				"identifier": map[string]any{"type": "m.id.user", "user": "alice"}}}
			ch := jsonCall(t, hs, "DELETE", "/_matrix/client/v3/devices/"+s.device, s.token, body)
			if ch.status == http.StatusUnauthorized { // a session first
				body["auth"].(map[string]any)["session"] = ch.body["session"]
				ch = jsonCall(t, hs, "DELETE", "/_matrix/client/v3/devices/"+s.device, s.token, body)
			}
			ch.want(t, http.StatusOK, "")
		},
		"logout": func(s session) {
			jsonCall(t, hs, "POST", "/_matrix/client/v3/logout", s.token, map[string]any{}).want(t, http.StatusOK, "")
		},
		"HardLogout": func(s session) {
			if err := hs.HardLogout(s.user, s.device); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, do := range remove {
		t.Run(name, func(t *testing.T) {
			s := loginAs(t, hs, "alice", "wonderland", "")
			jsonCall(t, hs, "POST", keysPath+"upload", s.token, map[string]any{
				"device_keys": deviceKeys(s), "one_time_keys": map[string]any{"signed_curve25519:X": signedKey("x")},
			}).want(t, http.StatusOK, "")
			query := map[string]any{"device_keys": map[string]any{s.user: []string{s.device}}}
			if q := jsonCall(t, hs, "POST", keysPath+"query", bob.token, query); q.path("device_keys", s.user, s.device) == nil {
				t.Fatalf("before: %s lacks the device", q.raw)
			}
			do(s)
			if q := jsonCall(t, hs, "POST", keysPath+"query", bob.token, query); q.path("device_keys", s.user, s.device) != nil {
				t.Fatalf("after %s: query still shows the device: %s", name, q.raw)
			}
			c := jsonCall(t, hs, "POST", keysPath+"claim", bob.token, map[string]any{"one_time_keys": map[string]any{s.user: map[string]string{s.device: "signed_curve25519"}}})
			if c.path("one_time_keys", s.user, s.device) != nil {
				t.Fatalf("after %s: a removed device's one-time key was claimed: %s", name, c.raw)
			}
		})
	}
}
