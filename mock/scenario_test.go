package mock_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// writeScenario writes a scenario file in a temporary folder and returns
// its path.
func writeScenario(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScenarioSetsTheServerUp(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
server: {name: example.org, versions: [v1.3, v1.18]}
clock: {start: 2030-06-01T12:00:00Z}
tokens: {access_lifetime: 1m}
users:
  - id: alice
    password: wonderland
    devices:
      - {id: PHONE, display_name: Alice's phone, access_token: alice-phone, refresh_token: alice-phone-r}
      - {id: LAPTOP, access_token: alice-laptop, expires_in: 10s}
  - id: "@bob:example.org"
    password: builder
`)))
	if !hs.Clock().IsVirtual() || !hs.Clock().Now().Equal(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("clock %v virtual %v", hs.Clock().Now(), hs.Clock().IsVirtual())
	}
	if got := strings.Join(hs.Users(), " "); got != "@alice:example.org @bob:example.org" {
		t.Fatalf("users %s", got)
	}
	a := call(t, hs, "GET", "/_matrix/client/versions", "", nil)
	if !strings.Contains(a.raw, `"versions":["v1.3","v1.18"]`) {
		t.Fatalf("versions %s", a.raw)
	}
	a = call(t, hs, "GET", "/_matrix/client/v3/devices/PHONE", "alice-phone", nil)
	if a.body["display_name"] != "Alice's phone" {
		t.Fatalf("device %s", a.raw)
	}
	hs.Clock().Advance(10 * time.Second)
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-laptop", nil), true)
	call(t, hs, "GET", whoami, "alice-phone", nil).wantStatus(t, 200)
	hs.Clock().Advance(50 * time.Second) // the refreshable token lives access_lifetime
	wantUnknownToken(t, call(t, hs, "GET", whoami, "alice-phone", nil), true)
	refresh(t, hs, "alice-phone-r").wantStatus(t, 200)
	login(t, hs, "bob", "builder", nil)
}

func TestScenarioRules(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
users:
  - id: alice
    password: pw
    devices: [{id: PHONE, access_token: at, refresh_token: rt}]
rules:
  - name: third-whoami-expires
    when: {request: {operation: getTokenOwner, user: alice}, nth: 3}
    then: {expire_access_token: {}}
  - name: refresh-rate-limited
    when: {request: {operation: refresh}}
    then:
      respond:
        status: 429
        headers: {Retry-After: "2"}
        body: {errcode: M_LIMIT_EXCEEDED, error: Too many requests, retry_after_ms: 2000}
  - name: bad-gateway-once-after
    when: {request: {method: GET, path: /_matrix/client/v3/devices}, after_rule: refresh-rate-limited}
    then:
      respond: {status: 502, body_text: "<html>Bad gateway</html>", content_type: text/html}
  - name: soft-logout-at-10m
    when: {at: 10m}
    then: {soft_logout: {user: alice, device: PHONE}}
`)))
	for range 3 {
		call(t, hs, "GET", whoami, "at", nil).wantStatus(t, 200) // the third is answered, then the token expires
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, "at", nil), true)

	a := refresh(t, hs, "rt")
	a.wantError(t, 429, "M_LIMIT_EXCEEDED")
	if a.body["retry_after_ms"] != 2000.0 || a.header.Get("Retry-After") != "2" {
		t.Fatalf("rate limited answer %s %v", a.raw, a.header)
	}
	a = refresh(t, hs, "rt") // times defaults to 1
	a.wantStatus(t, 200)
	at := a.str(t, "access_token")

	a = call(t, hs, "GET", "/_matrix/client/v3/devices", at, nil)
	if a.status != 502 || a.raw != "<html>Bad gateway</html>" || a.header.Get("Content-Type") != "text/html" {
		t.Fatalf("scripted 502: %d %q %v", a.status, a.raw, a.header)
	}
	call(t, hs, "GET", "/_matrix/client/v3/devices", at, nil).wantStatus(t, 200)

	hs.Clock().Advance(10 * time.Minute)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), true)
	if n := hs.Journal().Count(journal.Filter{Operation: "refresh", Errcode: "M_LIMIT_EXCEEDED", Status: 429}); n != 1 {
		t.Fatalf("journal counts %d rate-limited refreshes, want 1", n)
	}
	// Logging in again on the device lifts the soft logout.
	call(t, hs, "GET", whoami, login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token"), nil).wantStatus(t, 200)
}

func TestScenarioDropsConnections(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
users: [{id: alice, password: pw, devices: [{id: PHONE, access_token: at}]}]
rules:
  - when: {request: {operation: getTokenOwner}, every: 2}
    then: {drop_connection: true, delay: 10ms}
    times: always
`)))
	// A fresh connection for each request: Go's client retries a GET
	// that fails on a reused connection, which would hide the drop.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 1; i <= 4; i++ {
		req, _ := http.NewRequest("GET", hs.URL+whoami, nil)
		req.Header.Set("Authorization", "Bearer at")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if dropped := err != nil; dropped != (i%2 == 0) {
			t.Fatalf("request %d: err %v", i, err)
		}
	}
	// Dropped requests are journaled with status 0.
	var statuses []int
	for _, e := range hs.Journal().Entries(journal.Filter{Operation: "getTokenOwner"}) {
		statuses = append(statuses, e.Status)
	}
	if fmt.Sprint(statuses) != "[200 0 200 0]" {
		t.Fatalf("journal statuses %v, want [200 0 200 0]", statuses)
	}
}

func TestScenarioSynapseQuirks(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
server: {unknown_endpoint: synapse, refresh_errors: synapse}
tokens: {refresh_lifetime: 1m}
users: [{id: alice, password: pw}]
`)))
	call(t, hs, "GET", "/_matrix/client/v3/nope", "", nil).wantError(t, 400, "M_UNRECOGNIZED")
	call(t, hs, "DELETE", "/_matrix/client/v3/login", "", nil).wantError(t, 400, "M_UNRECOGNIZED")
	a := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
	hs.Clock().Advance(time.Minute)
	refresh(t, hs, a.str(t, "refresh_token")).wantError(t, 403, "M_FORBIDDEN")
	wantUnknownToken(t, refresh(t, hs, "garbage"), false) // unknown tokens stay 401
}

func TestScenarioOptionsOverride(t *testing.T) {
	path := writeScenario(t, "server: {name: example.org}\nusers: [{id: alice, password: pw}]\n")
	hs := mock.Start(t, mock.WithScenario(path), mock.WithServerName("override.org"), mock.WithUser("bob", "pw"))
	if got := strings.Join(hs.Users(), " "); got != "@alice:override.org @bob:override.org" {
		t.Fatalf("users %s", got)
	}
	// An option before the scenario is replaced by it.
	hs = mock.Start(t, mock.WithUser("bob", "pw"), mock.WithScenario(path))
	if got := strings.Join(hs.Users(), " "); got != "@alice:example.org" {
		t.Fatalf("users %s", got)
	}
}

func TestBadScenarioFile(t *testing.T) {
	path := writeScenario(t, "users:\n  - id: alice\n    pasword: pw\n")
	_, err := mock.New(mock.WithScenario(path))
	if err == nil || !strings.HasPrefix(err.Error(), path+":3:5: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("New with a bad scenario: %v, want one line starting %s:3:5:", err, path)
	}
	if _, err := mock.New(mock.WithScenario(filepath.Join(t.TempDir(), "missing.yaml"))); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("New with a missing scenario: %v", err)
	}
}

// TestScenarioRulesReachTheWholeAPI checks that rules name any operation
// of the client-server API (not only the authentication ones), that a
// respond rule fakes an endpoint the mock lacks, and that paths outside
// the API are still 404 M_UNRECOGNIZED for every other rule.
func TestScenarioRulesReachTheWholeAPI(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
users:
  - id: alice
    password: pw
    devices: [{id: PHONE, access_token: at}]
rules:
  - name: sync-fails-once
    when: {request: {operation: sync, user: alice}}
    then: {respond: {status: 502, body_text: bad gateway}}
  - name: fake-endpoint
    when: {request: {method: GET, path: /_matrix/client/v3/not_in_the_spec}}
    then: {respond: {status: 200, body: {faked: true}}, delay: 1ms}
    times: always
  - name: counts-every-request
    when: {request: {}, nth: 3}
    then: {soft_logout: {user: alice}}
`)))
	call(t, hs, "GET", "/_matrix/client/v3/sync", "at", nil).wantStatus(t, 502)
	for range 2 {
		a := call(t, hs, "GET", "/_matrix/client/v3/not_in_the_spec", "", nil)
		if a.status != 200 || a.body["faked"] != true {
			t.Fatalf("faked endpoint: %d %s", a.status, a.raw)
		}
	}
	call(t, hs, "POST", whoami, "at", map[string]any{}).wantError(t, 405, "M_UNRECOGNIZED")
	call(t, hs, "GET", "/_matrix/client/v3/elsewhere", "", nil).wantError(t, 404, "M_UNRECOGNIZED")
	// Only requests the mock serves count for counts-every-request: the
	// sync above was the first, these whoami the second and the third,
	// which logs alice out softly once answered.
	call(t, hs, "GET", whoami, "at", nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "at", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, "at", nil), true)
}

// TestScenarioRefusesRulesThatCanNeverFire checks the load-time check
// against the mock's own operation table.
func TestScenarioRefusesRulesThatCanNeverFire(t *testing.T) {
	path := writeScenario(t, "users: [{id: alice}]\nrules:\n  - when: {request: {operation: login, user: alice}}\n    then: {delay: 1s}\n")
	_, err := mock.New(mock.WithScenario(path))
	want := path + ":3:40: rules[0].when.request: this rule can never fire: operation login takes no access token"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestRespondRuleFakesOAuthWhileItIsOff checks that the OAuth 2.0 paths,
// outside the API while OAuth is off, are seen by respond rules too.
func TestRespondRuleFakesOAuthWhileItIsOff(t *testing.T) {
	hs := mock.Start(t, mock.WithScenario(writeScenario(t, `
rules:
  - when: {request: {method: POST, path: /oauth2/token}}
    then: {respond: {status: 400, body: {error: invalid_grant}}}
`)))
	a := call(t, hs, "POST", "/oauth2/token", "", map[string]any{})
	if a.status != 400 || a.body["error"] != "invalid_grant" {
		t.Fatalf("faked token endpoint: %d %s", a.status, a.raw)
	}
	call(t, hs, "POST", "/oauth2/token", "", map[string]any{}).wantError(t, 404, "M_UNRECOGNIZED")
}
