package mock_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/scenarios"
)

// worldScenario is what the worlds of these tests are made from:
// scenarios/short-expiry.yaml, alice on a virtual clock at 2026-01-01 with
// access tokens living one minute.
var worldScenario = func() string {
	data, err := scenarios.Files.ReadFile("short-expiry.yaml")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

// newWorld makes a world over the control API and returns its ID and the
// path prefix of its base URL on hs.
func newWorld(t *testing.T, hs *mock.Server, query, body string) (id, prefix string) {
	t.Helper()
	a := control(t, hs, "POST", "/_mock/worlds"+query, body)
	a.wantStatus(t, http.StatusCreated)
	id, base := a.str(t, "id"), a.str(t, "base_url")
	prefix = "/_worlds/" + strings.Replace(id, "-", "/", 1)
	if want := hs.URL + prefix; base != want {
		t.Fatalf("base_url %q, want %q", base, want)
	}
	if want := base + "/_mock"; a.str(t, "control_url") != want {
		t.Fatalf("control_url %q, want %q", a.str(t, "control_url"), want)
	}
	return id, prefix
}

// TestWorldsAreIsolated: two worlds made from the same scenario have the
// same users but their own tokens, clocks and journals; moving one clock,
// resetting one world or dropping one leaves the other and the default
// world as they were.
func TestWorldsAreIsolated(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithServerID("s1"), mock.WithVirtualClock(epoch))
	idA, a := newWorld(t, hs, "?name=first", worldScenario)
	idB, b := newWorld(t, hs, "", worldScenario)
	if !strings.HasPrefix(idA, "s1-") || !strings.HasPrefix(idB, "s1-") || idA == idB {
		t.Fatalf("world IDs %q and %q: want distinct, beginning with the server ID", idA, idB)
	}
	tokA := call(t, hs, "POST", a+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland", map[string]any{"refresh_token": true}))
	tokB := call(t, hs, "POST", b+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland", map[string]any{"refresh_token": true}))
	tokA.wantStatus(t, 200)
	tokB.wantStatus(t, 200)
	atA, atB := tokA.str(t, "access_token"), tokB.str(t, "access_token")
	if tokA.str(t, "user_id") != "@alice:localhost" || tokB.str(t, "user_id") != "@alice:localhost" {
		t.Fatalf("same user in both worlds: %s / %s", tokA.raw, tokB.raw)
	}
	// A world's token means nothing in another world, nor at the root.
	call(t, hs, "GET", b+"/_matrix/client/v3/account/whoami", atA, nil).wantError(t, 401, "M_UNKNOWN_TOKEN")
	call(t, hs, "GET", "/_matrix/client/v3/account/whoami", atA, nil).wantError(t, 401, "M_UNKNOWN_TOKEN")
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "wonderland", nil)).wantError(t, 403, "M_FORBIDDEN")

	// The clocks move apart.
	control(t, hs, "POST", "/_mock/worlds/"+idA+"/clock/advance", map[string]string{"by": "2m"}).wantStatus(t, 200)
	if now := control(t, hs, "GET", a+"/_mock/clock", nil).str(t, "now"); now != "2026-01-01T00:02:00Z" {
		t.Fatalf("world A's clock, through its control URL: %s", now)
	}
	if now := control(t, hs, "GET", "/_mock/worlds/"+idB+"/clock", nil).str(t, "now"); now != "2026-01-01T00:00:00Z" {
		t.Fatalf("world B's clock moved with A's: %s", now)
	}
	if now := control(t, hs, "GET", "/_mock/clock", nil).str(t, "now"); now != epoch.Format(time.RFC3339) {
		t.Fatalf("the default world's clock moved with A's: %s", now)
	}
	call(t, hs, "GET", a+"/_matrix/client/v3/account/whoami", atA, nil).wantError(t, 401, "M_UNKNOWN_TOKEN")
	call(t, hs, "GET", b+"/_matrix/client/v3/account/whoami", atB, nil).wantStatus(t, 200)

	// Each journal holds its own world's requests, by paths within it.
	countA := control(t, hs, "GET", "/_mock/worlds/"+idA+"/journal?path=/_matrix/client/v3/account/whoami", nil)
	if n := len(countA.body["entries"].([]any)); n != 1 {
		t.Fatalf("world A's journal has %d whoami, want 1: %s", n, countA.raw)
	}
	if n := len(control(t, hs, "GET", "/_mock/journal", nil).body["entries"].([]any)); n != 2 {
		t.Fatalf("the default world's journal has %d entries, want its 2 requests", n)
	}

	// Resetting A ends its tokens, not B's.
	control(t, hs, "POST", "/_mock/worlds/"+idA+"/reset", nil).wantStatus(t, 200)
	call(t, hs, "GET", a+"/_matrix/client/v3/account/whoami", atA, nil).wantError(t, 401, "M_UNKNOWN_TOKEN")
	call(t, hs, "GET", b+"/_matrix/client/v3/account/whoami", atB, nil).wantStatus(t, 200)

	// Dropping B leaves A.
	control(t, hs, "DELETE", "/_mock/world", nil).wantError(t, 400, "M_INVALID_PARAM")
	control(t, hs, "DELETE", b+"/_mock/world", nil).wantStatus(t, 200)
	call(t, hs, "GET", b+"/_matrix/client/versions", "", nil).wantError(t, 404, "M_NOT_FOUND")
	control(t, hs, "GET", "/_mock/worlds/"+idB+"/clock", nil).wantError(t, 404, "M_NOT_FOUND")
	control(t, hs, "DELETE", "/_mock/worlds/"+idB, nil).wantError(t, 404, "M_NOT_FOUND")
	call(t, hs, "POST", a+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland", nil)).wantStatus(t, 200)
	list := control(t, hs, "GET", "/_mock/worlds", nil)
	if ws := list.body["worlds"].([]any); len(ws) != 1 || ws[0].(map[string]any)["id"] != idA || ws[0].(map[string]any)["name"] != "first" {
		t.Fatalf("GET /_mock/worlds: %s", list.raw)
	}
}

// TestWorldsNeedTheControlToken: every world endpoint of the control API
// refuses a request without the control token, with a wrong one, and with
// a user's access token, and changes nothing.
func TestWorldsNeedTheControlToken(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken))
	id, prefix := newWorld(t, hs, "", worldScenario)
	at := call(t, hs, "POST", prefix+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland", nil)).str(t, "access_token")
	w := "/_mock/worlds/" + id
	for _, ep := range []struct{ method, path string }{
		{"POST", "/_mock/worlds"}, {"GET", "/_mock/worlds"}, {"GET", w}, {"DELETE", w},
		{"GET", w + "/scenario"}, {"PUT", w + "/scenario"}, {"POST", w + "/reset"},
		{"GET", w + "/clock"}, {"POST", w + "/clock/advance"}, {"POST", w + "/clock/set"},
		{"GET", w + "/users"}, {"GET", w + "/users/alice/devices"},
		{"POST", w + "/users/alice/devices/X/expire"}, {"POST", w + "/users/alice/devices/X/soft_logout"},
		{"POST", w + "/users/alice/devices/X/hard_logout"}, {"POST", w + "/users/alice/devices/X/revoke_refresh_token"},
		{"GET", w + "/journal"}, {"GET", w + "/journal/wait"},
		{"GET", prefix + "/_mock/clock"}, {"POST", prefix + "/_mock/reset"}, {"GET", prefix + "/_mock/journal"},
		{"GET", "/_worlds/no/such/_mock/clock"}, {"DELETE", "/_mock/worlds/nosuch"}, {"DELETE", prefix + "/_mock/world"},
	} {
		call(t, hs, ep.method, ep.path, "", nil).wantError(t, 401, "M_MISSING_TOKEN")
		call(t, hs, ep.method, ep.path, "wrong", nil).wantError(t, 403, "M_FORBIDDEN")
		call(t, hs, ep.method, ep.path, at, nil).wantError(t, 403, "M_FORBIDDEN")
	}
	if ws := hs.Worlds(); len(ws) != 1 || ws[0].ID != id {
		t.Fatalf("worlds after refused requests: %v", ws)
	}
	call(t, hs, "GET", prefix+"/_matrix/client/v3/account/whoami", at, nil).wantStatus(t, 200)

	// Without the control API there is no world endpoint, and the Go API
	// still makes worlds.
	off := mock.Start(t)
	call(t, off, "POST", "/_mock/worlds", controlToken, nil).wantError(t, 404, "M_UNRECOGNIZED")
	if _, err := off.NewWorld(); err != nil {
		t.Fatal(err)
	}
}

// TestWorldLimits: past WithMaxWorlds a new world is refused with a clear
// error, over HTTP and in Go, until one is dropped; a bad scenario or name
// is refused and makes nothing.
func TestWorldLimits(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithMaxWorlds(2))
	id, _ := newWorld(t, hs, "", "")
	newWorld(t, hs, "", "")
	a := control(t, hs, "POST", "/_mock/worlds", nil)
	a.wantError(t, 503, "M_RESOURCE_LIMIT_EXCEEDED")
	if !strings.Contains(a.str(t, "error"), "limit") {
		t.Fatalf("the error does not say what is wrong: %s", a.raw)
	}
	if _, err := hs.NewWorld(); !errors.Is(err, mock.ErrTooManyWorlds) {
		t.Fatalf("NewWorld past the limit: %v", err)
	}
	control(t, hs, "DELETE", "/_mock/worlds/"+id, nil).wantStatus(t, 200)
	bad := control(t, hs, "POST", "/_mock/worlds?name=mine.yaml", "tokens: {acces_lifetime: 1m}\n")
	bad.wantError(t, 400, "M_INVALID_PARAM")
	if !strings.Contains(bad.str(t, "error"), "mine.yaml:1:") {
		t.Fatalf("a bad scenario's error names no file:line:col: %s", bad.raw)
	}
	control(t, hs, "POST", "/_mock/worlds?name="+strings.Repeat("x", 101), nil).wantError(t, 400, "M_INVALID_PARAM")
	newWorld(t, hs, "", "")
	if err := hs.World.Drop(); !errors.Is(err, mock.ErrNoSuchWorld) {
		t.Fatalf("dropping the default world: %v", err)
	}
}

// TestWorldsDroppedWhenIdle: a world unused for the idle lifetime (real
// time) is dropped, even with nobody asking; one in use stays.
func TestWorldsDroppedWhenIdle(t *testing.T) {
	const idle = time.Second // long beside the pauses between the uses below, even on a loaded machine
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithWorldIdleLifetime(idle))
	idleID, idlePrefix := newWorld(t, hs, "", "")
	usedID, usedPrefix := newWorld(t, hs, "", "")
	usedWorld, err := hs.WorldByID(usedID)
	if err != nil {
		t.Fatal(err)
	}
	idleWorld, _ := hs.WorldByID(idleID)
	goAPI, err := hs.NewWorld()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * idle)
	for { // use two worlds, one by HTTP and one by the Go API, until the third is gone
		call(t, hs, "GET", usedPrefix+"/_matrix/client/versions", "", nil).wantStatus(t, 200)
		goAPI.Users()
		if !slicesContain(hs, idleWorld) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle world is still there after %v", 10*idle)
		}
		time.Sleep(idle / 20)
	}
	if !slicesContain(hs, usedWorld) || !slicesContain(hs, goAPI) {
		t.Fatal("a world in use was dropped")
	}
	call(t, hs, "GET", idlePrefix+"/_matrix/client/versions", "", nil).wantError(t, 404, "M_NOT_FOUND")
}

func slicesContain(hs *mock.Server, w *mock.World) bool {
	for _, x := range hs.Worlds() {
		if x == w {
			return true
		}
	}
	return false
}

// TestTwoServersBehindAPrefixRouter runs two servers behind a router that
// knows nothing but path prefixes, as a load balancer would: worlds made
// through it land on either server, their IDs never collide and say which
// server holds them, and each world's clients and control requests reach
// it through the router.
func TestTwoServersBehindAPrefixRouter(t *testing.T) {
	servers := map[string]*mock.Server{}
	proxies := map[string]*httputil.ReverseProxy{}
	for _, id := range []string{"east", "west"} {
		hs := mock.Start(t, mock.WithControl(controlToken), mock.WithServerID(id), mock.WithScenarioData("worlds.yaml", []byte(worldScenario)))
		u, _ := url.Parse(hs.URL)
		servers[id], proxies[id] = hs, httputil.NewSingleHostReverseProxy(u)
	}
	var mu sync.Mutex
	next := 0
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for id, p := range proxies {
			if strings.HasPrefix(r.URL.Path, "/_worlds/"+id+"/") { // by path element, as a Kubernetes Ingress Prefix does
				p.ServeHTTP(w, r)
				return
			}
		}
		mu.Lock()
		next++
		id := []string{"east", "west"}[next%2]
		mu.Unlock()
		proxies[id].ServeHTTP(w, r) // anything else: either server
	}))
	t.Cleanup(router.Close)
	viaRouter := &mock.Server{URL: router.URL} // only its URL, for the helpers

	seen := map[string]bool{}
	perServer := map[string]int{}
	for range 20 {
		a := control(t, viaRouter, "POST", "/_mock/worlds", nil)
		a.wantStatus(t, 201)
		id := a.str(t, "id")
		server, _, _ := strings.Cut(id, "-")
		if seen[id] || servers[server] == nil {
			t.Fatalf("world ID %q: seen before %v, or names no server", id, seen[id])
		}
		seen[id] = true
		perServer[server]++
		prefix := "/_worlds/" + server + "/" + strings.TrimPrefix(id, server+"-")
		if a.str(t, "base_url") != router.URL+prefix || a.str(t, "control_url") != router.URL+prefix+"/_mock" {
			t.Fatalf("base_url %q or control_url %q is not behind the router", a.str(t, "base_url"), a.str(t, "control_url"))
		}
		at := call(t, viaRouter, "POST", prefix+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland", nil)).str(t, "access_token")
		call(t, viaRouter, "GET", prefix+"/_matrix/client/v3/account/whoami", at, nil).wantStatus(t, 200)
		control(t, viaRouter, "POST", prefix+"/_mock/clock/advance", map[string]string{"by": "1h"}).wantStatus(t, 200)
		control(t, servers[server], "GET", "/_mock/worlds/"+id+"/clock", nil).wantStatus(t, 200)
		other := servers[map[string]string{"east": "west", "west": "east"}[server]]
		call(t, other, "GET", prefix+"/_matrix/client/versions", "", nil).wantError(t, 404, "M_NOT_FOUND")
	}
	if perServer["east"] != 10 || perServer["west"] != 10 {
		t.Fatalf("worlds per server: %v", perServer)
	}
	for id, hs := range servers {
		if n := len(hs.Worlds()); n != 10 {
			t.Fatalf("server %s holds %d worlds, want 10", id, n)
		}
	}
	// Servers with random IDs do not collide either.
	a, b := mock.Start(t), mock.Start(t)
	if a.ServerID() == b.ServerID() {
		t.Fatalf("two servers drew the same ID %q", a.ServerID())
	}
}

// TestWorldOAuthUnderItsPrefix: a world's OAuth 2.0 metadata, pages,
// cookies and tokens all live under its base URL.
func TestWorldOAuthUnderItsPrefix(t *testing.T) {
	hs := mock.Start(t)
	w, err := hs.NewWorld(mock.WithOAuth(), mock.WithUser("alice", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(w.URL, hs.URL)
	if prefix != "/_worlds/"+strings.Replace(w.ID, "-", "/", 1) {
		t.Fatalf("world URL %q", w.URL)
	}
	meta := call(t, hs, "GET", prefix+"/_matrix/client/v1/auth_metadata", "", nil)
	for key, want := range map[string]string{
		"issuer": w.URL + "/", "authorization_endpoint": w.URL + "/oauth2/authorize",
		"token_endpoint": w.URL + "/oauth2/token", "account_management_uri": w.URL + "/account/",
	} {
		if got := meta.str(t, key); got != want {
			t.Fatalf("%s = %q, want %q", key, got, want)
		}
	}
	call(t, hs, "GET", "/_matrix/client/v1/auth_metadata", "", nil).wantError(t, 404, "M_UNRECOGNIZED") // the default world has no OAuth
	reg := call(t, hs, "POST", prefix+"/oauth2/registration", "", map[string]any{
		"client_name": "Test client", "client_uri": "https://client.example.org/", "application_type": "native",
		"redirect_uris": []string{loopback}, "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
	})
	reg.wantStatus(t, 201)
	q := authorizeQuery(reg.str(t, "client_id"), loopback, "WORLDDEVICE")
	page := w.URL + "/oauth2/authorize?" + q.Encode()
	if r := follow(t, page); r.StatusCode != 200 {
		t.Fatalf("authorize: %d %v", r.StatusCode, r.Header)
	}
	csrf, cookie := pageForm(t, page)
	if cookie.Path != prefix+"/" {
		t.Fatalf("CSRF cookie path %q, want %q", cookie.Path, prefix+"/")
	}
	body, _ := io.ReadAll(follow(t, page).Body)
	if !strings.Contains(string(body), `action="`+prefix+`/oauth2/authorize"`) {
		t.Fatalf("the sign-in form does not post under the world's prefix:\n%s", body)
	}
	v := url.Values{"csrf": {csrf}, "action": {"approve"}, "username": {"alice"}, "password": {"pw"}}
	for k := range q {
		v.Set(k, q.Get(k))
	}
	a := postPage(t, w.URL+"/oauth2/authorize", v, cookie)
	loc, _ := url.Parse(a.header.Get("Location"))
	if a.status != 302 || loc.Query().Get("code") == "" {
		t.Fatalf("approve: %d %v", a.status, a.header)
	}
	if iss := loc.Query().Get("iss"); iss != w.URL+"/" {
		t.Fatalf("iss %q, want the world's issuer %q", iss, w.URL+"/")
	}
	at := form(t, hs, prefix+"/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {loopback},
		"client_id": {reg.str(t, "client_id")}, "code_verifier": {verifier},
	}).str(t, "access_token")
	call(t, hs, "GET", prefix+"/_matrix/client/v3/account/whoami", at, nil).wantStatus(t, 200)
	call(t, hs, "GET", "/_matrix/client/v3/account/whoami", at, nil).wantError(t, 401, "M_UNKNOWN_TOKEN")
	if n := w.Journal().Count(journal.Filter{Operation: "requestOAuthToken", Status: 200}); n != 1 {
		t.Fatalf("the world's journal has %d token requests, want 1", n)
	}
	if n := hs.Journal().Count(journal.Filter{}); n != 2 {
		t.Fatalf("the default world's journal has %d entries, want its 2", n)
	}
}

// TestHeapPerEmptyWorld measures what an empty world costs: a server's
// worlds made from the default scenario, with nothing done in them.
func TestHeapPerEmptyWorld(t *testing.T) {
	const n = 200
	hs, err := mock.New(mock.WithMaxWorlds(n))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		if _, err := hs.NewWorld(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(hs)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d empty worlds: %d bytes of heap per world", n, per)
	if per > 64<<10 {
		t.Fatalf("an empty world holds %d bytes, more than the 64 KiB budget", per)
	}
}
