package mock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// The storms send 64 requests that race for the same token or device, over
// loopback HTTP, released together, and then check the state package's
// rules (mock/internal/state): one token chain per device, the last login
// or refresh wins, and every token that was answered either still works or
// was superseded by a rule. Run them under -race.

const stormSize = 64

// stormClient keeps a connection per storm goroutine, so that the requests
// leave together instead of queueing for connections.
var stormClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: stormSize}}

// stormSend is send over stormClient.
func stormSend(hs *mock.Server, method, path, token string, body any) (answer, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return answer{}, err
		}
	}
	req, err := http.NewRequest(method, hs.URL+path, bytes.NewReader(b))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := stormClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp)
}

// storm runs do(0) … do(63) in goroutines released together by a start
// channel, after warming a connection for each, and returns the answers.
func storm(t *testing.T, hs *mock.Server, do func(i int) (answer, error)) []answer {
	t.Helper()
	t.Cleanup(stormClient.CloseIdleConnections)
	run := func(f func(i int) (answer, error)) []answer {
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		answers, errs := make([]answer, stormSize), make([]error, stormSize)
		for i := range stormSize {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				answers[i], errs[i] = f(i)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		return answers
	}
	run(func(int) (answer, error) { return stormSend(hs, "GET", "/_matrix/client/versions", "", nil) })
	return run(do)
}

// stormOptions are the options of every storm's server. The generator is
// deterministic so that a replica can tell which token the store issued
// last.
func stormOptions() []mock.Option {
	return []mock.Option{mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(epoch), mock.WithDeterministic(64)}
}

// bystander is a session no storm touches; it must work after every storm.
const bystanderToken = "storm-bystander-at"

func addBystander(t *testing.T, hs *mock.Server) {
	t.Helper()
	if _, err := hs.AddSession("alice", "BYSTANDER", bystanderToken, "storm-bystander-rt", 0); err != nil {
		t.Fatal(err)
	}
}

// replay sends requests one at a time to a fresh server with the storm's
// options, in process, and returns the answers: with the deterministic
// generator, the last one's tokens are those the storm's last request in
// the store's order got.
func replay(t *testing.T, requests func(i int) (method, path string, body any), n int) []map[string]any {
	t.Helper()
	hs, err := mock.New(stormOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	addBystander(t, hs)
	var out []map[string]any
	for i := range n {
		method, path, body := requests(i)
		b, _ := json.Marshal(body)
		rec := httptest.NewRecorder()
		hs.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(b)))
		var a map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != 200 {
			t.Fatalf("replay %d: %d %s", i, rec.Code, rec.Body.String())
		}
		out = append(out, a)
	}
	return out
}

// tokensOf returns the access and refresh tokens of 200 answers, checking
// that each is there and that none repeats.
func tokensOf(t *testing.T, answers []answer) (access, refresh []string) {
	t.Helper()
	for i, a := range answers {
		a.wantStatus(t, 200)
		access, refresh = append(access, a.str(t, "access_token")), append(refresh, a.str(t, "refresh_token"))
		if slices.Contains(access[:i], access[i]) || slices.Contains(refresh[:i], refresh[i]) {
			t.Fatalf("answer %d repeats a token: %s", i, a.raw)
		}
	}
	return access, refresh
}

// wantOnlyWorking checks that of the access tokens exactly one works,
// survivor, and that the others are unknown (not soft-logged-out).
func wantOnlyWorking(t *testing.T, hs *mock.Server, access []string, survivor string) {
	t.Helper()
	if !slices.Contains(access, survivor) {
		t.Fatalf("the last token the store issued, %s, is none of the storm's answers", survivor)
	}
	for _, at := range access {
		a := call(t, hs, "GET", whoami, at, nil)
		if at == survivor {
			a.wantStatus(t, 200)
			continue
		}
		wantUnknownToken(t, a, false)
	}
}

// wantOneChain checks that alice has exactly the devices listed, each with
// one session, and that device's is live with a refresh token.
func wantOneChain(t *testing.T, hs *mock.Server, device string, devices ...string) {
	t.Helper()
	wantDevices(t, hs, devices...)
	for _, s := range hs.Sessions("alice") {
		if s.DeviceID == device && (!s.HasRefreshToken || s.AccessExpired || s.SoftLoggedOut) {
			t.Fatalf("%s's session %+v, want a live one with a refresh token", device, s)
		}
	}
}

// TestStormRefreshSameToken: 64 refreshes with the same refresh token.
// Each is allowed (reusing the previous refresh token is allowed while the
// new pair is unused) and replaces the pair the one before it made, so all
// 64 get 200, only the pair issued last works, and the old access token
// keeps working until it expires.
func TestStormRefreshSameToken(t *testing.T) {
	hs := mock.Start(t, stormOptions()...)
	addBystander(t, hs)
	first := login(t, hs, "alice", "wonderland", map[string]any{"device_id": "STORMPHONE", "refresh_token": true})
	at0, rt0 := first.str(t, "access_token"), first.str(t, "refresh_token")

	answers := storm(t, hs, func(int) (answer, error) {
		return stormSend(hs, "POST", "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": rt0})
	})
	access, refreshTokens := tokensOf(t, answers)
	wantOneChain(t, hs, "STORMPHONE", "BYSTANDER", "STORMPHONE")
	if n := hs.Journal().Count(journal.Filter{Operation: "refresh", Status: 200}); n != stormSize {
		t.Fatalf("journal counts %d successful refreshes, want %d", n, stormSize)
	}

	replayed := replay(t, func(i int) (string, string, any) {
		if i == 0 {
			return "POST", "/_matrix/client/v3/login", loginBody("alice", "wonderland", map[string]any{"device_id": "STORMPHONE", "refresh_token": true})
		}
		return "POST", "/_matrix/client/v3/refresh", map[string]any{"refresh_token": rt0}
	}, stormSize+1)
	if replayed[0]["access_token"] != at0 {
		t.Fatalf("the replica's login gave %v, the storm's %s: the replica does not follow the storm", replayed[0]["access_token"], at0)
	}
	last := replayed[stormSize]
	wantOnlyWorking(t, hs, access, last["access_token"].(string))
	call(t, hs, "GET", whoami, at0, nil).wantStatus(t, 200) // not superseded: it lives until it expires

	// The superseded refresh tokens are unknown; the original one is
	// revoked now that the last pair has been used; the last one works.
	survivorRT := last["refresh_token"].(string)
	for _, rt := range append(refreshTokens, rt0) {
		if rt != survivorRT {
			wantUnknownToken(t, refresh(t, hs, rt), false)
		}
	}
	next := refresh(t, hs, survivorRT)
	next.wantStatus(t, 200)
	call(t, hs, "GET", whoami, next.str(t, "access_token"), nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at0, nil), false) // its pair went two refreshes later
	wantOneChain(t, hs, "STORMPHONE", "BYSTANDER", "STORMPHONE")
	call(t, hs, "GET", whoami, bystanderToken, nil).wantStatus(t, 200)
}

// TestStormLoginSameDevice: 64 logins with the same device_id. Each login
// on the device ends its previous tokens, so all get 200 and only the
// login the store served last keeps working, on the one device.
func TestStormLoginSameDevice(t *testing.T) {
	hs := mock.Start(t, stormOptions()...)
	addBystander(t, hs)
	body := loginBody("alice", "wonderland", map[string]any{"device_id": "STORMDEVICE", "refresh_token": true})

	answers := storm(t, hs, func(int) (answer, error) {
		return stormSend(hs, "POST", "/_matrix/client/v3/login", "", body)
	})
	for i, a := range answers {
		if a.status == 200 && a.body["device_id"] != "STORMDEVICE" {
			t.Fatalf("login %d went to device %v", i, a.body["device_id"])
		}
	}
	access, refreshTokens := tokensOf(t, answers)
	wantOneChain(t, hs, "STORMDEVICE", "BYSTANDER", "STORMDEVICE")
	if n := hs.Journal().Count(journal.Filter{Operation: "login", Status: 200}); n != stormSize {
		t.Fatalf("journal counts %d successful logins, want %d", n, stormSize)
	}

	replayed := replay(t, func(int) (string, string, any) { return "POST", "/_matrix/client/v3/login", body }, stormSize)
	last := replayed[stormSize-1]
	wantOnlyWorking(t, hs, access, last["access_token"].(string))
	survivorRT := last["refresh_token"].(string)
	for _, rt := range refreshTokens {
		if rt != survivorRT {
			wantUnknownToken(t, refresh(t, hs, rt), false)
		}
	}
	refresh(t, hs, survivorRT).wantStatus(t, 200)
	wantOneChain(t, hs, "STORMDEVICE", "BYSTANDER", "STORMDEVICE")
	call(t, hs, "GET", whoami, bystanderToken, nil).wantStatus(t, 200)
}

// TestStormDeleteDevice: 64 deletions of the same device, each completing
// its own UIA session (started beforehand), then 64 delete_devices of the
// same two devices. Exactly one deletion wins and the others find no
// device; delete_devices skips devices that are gone, so all 64 succeed.
func TestStormDeleteDevice(t *testing.T) {
	hs := mock.Start(t, stormOptions()...)
	addBystander(t, hs)
	const actor = "storm-actor-at"
	for device, token := range map[string]string{"ACTOR": actor, "VICTIM": "storm-victim-at", "VICTIM2": "storm-victim2-at", "VICTIM3": "storm-victim3-at"} {
		if _, err := hs.AddSession("alice", device, token, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	sessions := func(method, path string, body any) []string {
		t.Helper()
		out := make([]string, stormSize)
		for i := range out {
			a := call(t, hs, method, path, actor, body)
			a.wantStatus(t, 401)
			out[i] = a.str(t, "session")
		}
		return out
	}
	auth := func(session string) map[string]any {
		return map[string]any{"type": "m.login.password", "session": session, "password": "wonderland",
			"identifier": map[string]any{"type": "m.id.user", "user": "alice"}}
	}

	uia := sessions("DELETE", "/_matrix/client/v3/devices/VICTIM", nil)
	answers := storm(t, hs, func(i int) (answer, error) {
		return stormSend(hs, "DELETE", "/_matrix/client/v3/devices/VICTIM", actor, map[string]any{"auth": auth(uia[i])})
	})
	won := 0
	for i, a := range answers {
		if a.status == 200 {
			won++
			continue
		}
		if a.status != 404 || a.body["errcode"] != "M_NOT_FOUND" || a.header.Get("Content-Type") != "application/json" {
			t.Fatalf("deletion %d: %d %s, want 200 or 404 M_NOT_FOUND", i, a.status, a.raw)
		}
	}
	if won != 1 {
		t.Fatalf("%d deletions of the same device succeeded, want 1", won)
	}
	if n := hs.Journal().Count(journal.Filter{Operation: "deleteDevice", Status: 404}); n != stormSize-1 {
		t.Fatalf("journal counts %d deletions answered 404, want %d", n, stormSize-1)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, "storm-victim-at", nil), false)
	wantDevices(t, hs, "ACTOR", "BYSTANDER", "VICTIM2", "VICTIM3")

	devices := map[string]any{"devices": []string{"VICTIM2", "VICTIM3"}}
	uia = sessions("POST", "/_matrix/client/v3/delete_devices", devices)
	answers = storm(t, hs, func(i int) (answer, error) {
		return stormSend(hs, "POST", "/_matrix/client/v3/delete_devices", actor, map[string]any{"devices": devices["devices"], "auth": auth(uia[i])})
	})
	for i, a := range answers {
		if a.status != 200 || a.raw != "{}\n" {
			t.Fatalf("delete_devices %d: %d %s, want 200 {}", i, a.status, a.raw)
		}
	}
	for _, token := range []string{"storm-victim2-at", "storm-victim3-at"} {
		wantUnknownToken(t, call(t, hs, "GET", whoami, token, nil), false)
	}
	wantDevices(t, hs, "ACTOR", "BYSTANDER")
	for _, token := range []string{actor, bystanderToken} {
		call(t, hs, "GET", whoami, token, nil).wantStatus(t, 200)
	}
}

// wantDevices checks alice's devices and that each has one session.
func wantDevices(t *testing.T, hs *mock.Server, want ...string) {
	t.Helper()
	var ids, sessionIDs []string
	for _, d := range hs.Devices("alice") {
		ids = append(ids, d.ID)
	}
	for _, s := range hs.Sessions("alice") {
		sessionIDs = append(sessionIDs, s.DeviceID)
	}
	if !slices.Equal(ids, want) || !slices.Equal(sessionIDs, want) {
		t.Fatalf("devices %v, sessions %v, want %v", ids, sessionIDs, want)
	}
}
