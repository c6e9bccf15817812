package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/operation"
)

// knownOps are the operations the tests accept in rules: a few of the
// generated tables', with their real auth.
var knownOps = func() *operation.Table {
	var infos []operation.Info
	for _, id := range []string{"getTokenOwner", "refresh", "login", "getLoginFlows", "logout", "getDevices", "getVersions"} {
		op, _ := clientserver.Operations.ByID(id)
		infos = append(infos, *op)
	}
	op, _ := oauth2.Operations.ByID("requestOAuthToken")
	return operation.NewTable(append(infos, *op)...)
}()

// defaultScenario is what an empty file gives.
func defaultScenario() *Scenario {
	return &Scenario{
		Server: Server{
			Name:            "localhost",
			Versions:        []string{"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18"},
			Auth:            []string{"legacy"},
			UnknownEndpoint: "spec",
			RefreshErrors:   "spec",
		},
		OAuth: OAuthSettings{MetadataNames: "stable", ActionNames: "stable", RefreshReplay: "strict", CodeReplay: "immediate"},
		Clock: Clock{Virtual: true, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		Tokens: Tokens{
			AccessLifetime:     5 * time.Minute,
			RefreshLifetime:    24 * time.Hour,
			LoginTokenLifetime: 2 * time.Minute,
			SoftLogoutOnExpiry: SoftLogoutOnExpiry{Legacy: true, OAuth: true},
		},
		Limits: Limits{FailedAttempts: 30, Window: time.Minute},
	}
}

func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	s, err := Parse("test.yaml", []byte(src), knownOps)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func TestParseDefaults(t *testing.T) {
	for name, src := range map[string]string{
		"empty":         "",
		"blank lines":   "\n\n  \n",
		"comment":       "# nothing here\n",
		"document mark": "---\n",
		"null":          "~\n",
		"empty mapping": "{}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if got, want := mustParse(t, src), defaultScenario(); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseAllKeys(t *testing.T) {
	got, err := Load("testdata/valid/all_keys.yaml", knownOps)
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Description: "Every key, for the parser's tests.",
		Server: Server{
			Name:            "matrix.example.org:8448",
			Versions:        []string{"v1.11", "v1.15", "v1.18"},
			Auth:            []string{"oauth", "legacy"},
			GuestAccess:     true,
			UnknownEndpoint: "synapse",
			RefreshErrors:   "synapse",
		},
		OAuth: OAuthSettings{AutoApprove: "alice", MetadataNames: "both", ActionNames: "msc", RefreshReplay: "mas", CodeReplay: "grace"},
		Clock: Clock{Virtual: true, Start: time.Date(2030, 6, 15, 10, 30, 0, 0, time.UTC)},
		Tokens: Tokens{
			AccessLifetime:            90 * time.Second,
			RefreshLifetime:           Never,
			LoginTokenLifetime:        30 * time.Second,
			ExpireNonRefreshable:      true,
			RevokeOldAccessOnRefresh:  true,
			SoftLogoutOnFailedRefresh: true,
			SoftLogoutOnExpiry:        SoftLogoutOnExpiry{Legacy: true, OAuth: false},
			Deterministic:             true,
			Seed:                      7,
		},
		Limits: Limits{FailedAttempts: 5, Window: 10 * time.Minute},
		Users: []User{
			{ID: "alice", Password: "wonderland", Devices: []Device{
				{ID: "PHONE", DisplayName: "Alice's phone", AccessToken: "alice-phone", RefreshToken: "alice-phone-r", ExpiresIn: 10 * time.Minute},
				{ID: "LAPTOP", ExpiresIn: Never},
			}},
			{ID: "@bob:matrix.example.org:8448", Password: "builder"},
		},
		Rules: []Rule{
			{
				Name: "slow-whoami",
				When: Trigger{
					At:      time.Minute,
					Request: &RequestMatch{Operation: "getTokenOwner", User: "alice", Device: "PHONE"},
					Every:   2, From: 2, To: 6,
				},
				Then: []Effect{
					{Kind: ExpireAccessToken, User: "alice", Device: "PHONE"},
					{Kind: SoftLogout},
					{Kind: Delay, Delay: 250 * time.Millisecond},
				},
				Times: 0, Line: 45,
			},
			{
				Name: "logout-bob",
				When: Trigger{
					Request:   &RequestMatch{Method: "POST", Path: "/_matrix/client/v3/logout"},
					Nth:       1,
					AfterRule: "slow-whoami",
				},
				Then: []Effect{
					{Kind: HardLogout, User: "@bob:matrix.example.org:8448"},
					{Kind: DeleteDevice, User: "alice", Device: "LAPTOP"},
					{Kind: RevokeRefreshToken, Device: "PHONE"},
					{Kind: Respond, Response: Response{
						Status:      502,
						Headers:     map[string]string{"Retry-After": "5", "X-Mock": "yes"},
						Body:        []byte("<html><body>Bad gateway</body></html>"),
						ContentType: "text/html; charset=utf-8",
					}},
				},
				Times: 2, Line: 60,
			},
			{
				When: Trigger{At: time.Hour},
				Then: []Effect{
					{Kind: SoftLogout, User: "alice"},
					{Kind: DropConnection},
				},
				Times: 1, Line: 77,
			},
			{
				Name:  "lost-refresh",
				When:  Trigger{Request: &RequestMatch{Operation: "refresh"}, Nth: 2},
				Then:  []Effect{{Kind: LoseAnswer, Loss: LostBadGateway}},
				Times: 1, Line: 82,
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

// TestParseValues checks how single values are read.
func TestParseValues(t *testing.T) {
	users := "server: {name: example.org}\nusers: [{id: alice}, {id: bob}]\n"
	tests := []struct {
		name string
		src  string
		get  func(*Scenario) any
		want any
	}{
		{"never", "tokens: {access_lifetime: never}", func(s *Scenario) any { return s.Tokens.AccessLifetime }, Never},
		{"compound duration", "tokens: {refresh_lifetime: 1h30m}", func(s *Scenario) any { return s.Tokens.RefreshLifetime }, 90 * time.Minute},
		{"fractional duration", "tokens: {login_token_lifetime: 1.5s}", func(s *Scenario) any { return s.Tokens.LoginTokenLifetime }, 1500 * time.Millisecond},
		{"old token kept", "tokens: {old_access_token_after_refresh: keep}", func(s *Scenario) any { return s.Tokens.RevokeOldAccessOnRefresh }, false},
		{"seed 0", "tokens: {deterministic: 0}", func(s *Scenario) any { return [2]any{s.Tokens.Deterministic, s.Tokens.Seed} }, [2]any{true, uint64(0)}},
		{"largest seed", "tokens: {deterministic: 18446744073709551615}", func(s *Scenario) any { return s.Tokens.Seed }, uint64(18446744073709551615)},
		{"real clock", "clock: {mode: real}", func(s *Scenario) any { return s.Clock }, Clock{}},
		{"quoted start with offset", `clock: {start: "2026-05-01T08:00:00.5-04:00"}`, func(s *Scenario) any { return s.Clock.Start }, time.Date(2026, 5, 1, 12, 0, 0, 5e8, time.UTC)},
		{"expires_in default", "users: [{id: a, devices: [{id: D}]}]", func(s *Scenario) any { return s.Users[0].Devices[0].ExpiresIn }, time.Duration(0)},
		{"IPv6 server name", "server: {name: '[::1]:8008'}", func(s *Scenario) any { return s.Server.Name }, "[::1]:8008"},
		{"folded description", "description: >\n  two\n  lines\n", func(s *Scenario) any { return s.Description }, "two lines\n"},
		{"times always", users + "rules: [{when: {nth: 1}, then: {delay: 1s}, times: always}]", func(s *Scenario) any { return s.Rules[0].Times }, 0},
		{"times default", users + "rules: [{when: {nth: 1}, then: {delay: 1s}}]", func(s *Scenario) any { return s.Rules[0].Times }, 1},
		{"counters imply any request", users + "rules: [{when: {every: 2}, then: {delay: 1s}}]", func(s *Scenario) any { return s.Rules[0].When.Request }, &RequestMatch{}},
		{"empty request matches all", users + "rules: [{when: {request: {}}, then: {delay: 1s}}]", func(s *Scenario) any { return s.Rules[0].When.Request }, &RequestMatch{}},
		{"time rule has no request", users + "rules: [{when: {at: 0s}, then: {soft_logout: {user: alice}}}]", func(s *Scenario) any { return s.Rules[0].When.Request }, (*RequestMatch)(nil)},
		{"after_rule alone is a time rule", users + "rules: [{name: a, when: {nth: 1}, then: {delay: 1s}}, {when: {after_rule: a}, then: {hard_logout: {user: bob}}}]",
			func(s *Scenario) any { return s.Rules[1].When }, Trigger{AfterRule: "a"}},
		{"from alone", users + "rules: [{when: {from: 3}, then: {delay: 1s}}]", func(s *Scenario) any { return [2]int{s.Rules[0].When.From, s.Rules[0].When.To} }, [2]int{3, 0}},
		{"null target", users + "rules: [{when: {request: {user: alice}}, then: {soft_logout: }}]", func(s *Scenario) any { return s.Rules[0].Then }, []Effect{{Kind: SoftLogout}}},
		{"unlisted device of a listed user", users + "rules: [{when: {request: {user: alice, device: NEW}}, then: {delete_device: {user: bob, device: OTHER}}}]",
			func(s *Scenario) any { return s.Rules[0].Then[0] }, Effect{Kind: DeleteDevice, User: "bob", Device: "OTHER"}},
		{"effects in canonical order", users + "rules: [{when: {nth: 1}, then: {drop_connection: true, delay: 2s, revoke_refresh_token: {}, expire_access_token: {}}}]",
			func(s *Scenario) any {
				var kinds []EffectKind
				for _, e := range s.Rules[0].Then {
					kinds = append(kinds, e.Kind)
				}
				return kinds
			}, []EffectKind{ExpireAccessToken, RevokeRefreshToken, Delay, DropConnection}},
		{"JSON body keeps key order", users + `rules: [{when: {nth: 1}, then: {respond: {status: 400, body: {z: 1, a: [true, null, 1.5, "<&>"], m: {k: ~}}}}}]`,
			func(s *Scenario) any {
				r := s.Rules[0].Then[0].Response
				return [2]string{string(r.Body), r.ContentType}
			},
			[2]string{`{"z":1,"a":[true,null,1.5,"<&>"],"m":{"k":null}}`, "application/json"}},
		{"JSON body through an alias", users + "rules: [{when: {nth: 1}, then: {respond: {body: {a: &x [1, 2], b: *x}}}}]",
			func(s *Scenario) any { return string(s.Rules[0].Then[0].Response.Body) }, `{"a":[1,2],"b":[1,2]}`},
		{"scalar JSON body", users + "rules: [{when: {nth: 1}, then: {respond: {body: hello}}}]",
			func(s *Scenario) any { return string(s.Rules[0].Then[0].Response.Body) }, `"hello"`},
		{"body_text default type and status", users + "rules: [{when: {nth: 1}, then: {respond: {body_text: oops}}}]",
			func(s *Scenario) any { return s.Rules[0].Then[0].Response },
			Response{Status: 200, Body: []byte("oops"), ContentType: "text/plain"}},
		{"no body", users + "rules: [{when: {nth: 1}, then: {respond: {status: 204, headers: {Retry-After: 1, X-Flag: true}}}}]",
			func(s *Scenario) any { return s.Rules[0].Then[0].Response },
			Response{Status: 204, Headers: map[string]string{"Retry-After": "1", "X-Flag": "true"}}},
		{"aliased section", "server: &s {name: example.org}\n", func(s *Scenario) any { return s.Server.Name }, "example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.get(mustParse(t, tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseKnownOperations(t *testing.T) {
	src := []byte("rules: [{when: {request: {operation: anything}}, then: {delay: 1s}}]")
	if _, err := Parse("f.yaml", src, nil); err != nil {
		t.Errorf("nil known: %v", err)
	}
	_, err := Parse("f.yaml", src, operation.NewTable())
	if want := `f.yaml:1:38: rules[0].when.request.operation: unknown operation "anything"; give an operationId of the client-server API, such as getTokenOwner`; err == nil || err.Error() != want {
		t.Errorf("empty known: got %v, want %s", err, want)
	}
}

// TestInvalidFixtures checks the first problem of every invalid fixture
// against its .err file.
func TestInvalidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 15 {
		t.Fatalf("want at least 15 invalid fixtures, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Load(file, knownOps)
			var perr *Error
			if !errors.As(err, &perr) || len(perr.Problems) == 0 {
				t.Fatalf("Load: got %v, want an *Error", err)
			}
			if got := perr.Problems[0].String(); got != strings.TrimSpace(string(want)) {
				t.Errorf("first problem:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

func TestAllProblemsInOrder(t *testing.T) {
	_, err := Load("testdata/invalid/many_problems.yaml", knownOps)
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("got %v, want an *Error", err)
	}
	const f = "testdata/invalid/many_problems.yaml"
	want := []Problem{
		{f, 3, 20, `server.versions[1]: unknown value "v2.0"; allowed: v1.1, v1.2, v1.3, v1.4, v1.5, v1.6, v1.7, v1.8, v1.9, v1.10, v1.11, v1.12, v1.13, v1.14, v1.15, v1.16, v1.17, v1.18`},
		{f, 5, 9, `clock.mode: unknown value "sometimes"; allowed: virtual, real`},
		{f, 7, 20, `tokens.access_lifetime: expected a duration (use a Go duration such as "90s", "5m" or "1h30m", or "never"), got an integer`},
		{f, 9, 9, `users[0].id: bad localpart "Alice"; use only a-z, 0-9 and . _ = - / +`},
		{f, 13, 24, `users[0].devices[0].refresh_token: token "same" is already used (at line 12); fixed tokens must be unique`},
		{f, 17, 7, `rules[0].when: nth and every exclude each other; nth fires on one request only`},
		{f, 20, 17, `rules[0].then.respond.status: 99 is not an HTTP status code (100 to 599)`},
		{f, 21, 12, `rules[0].times: must be at least 1, got -1`},
	}
	if !reflect.DeepEqual(perr.Problems, want) {
		t.Errorf("got\n%s\nwant\n%s", perr, (&Error{want}).Error())
	}
}

// TestParseProblems covers problems that the fixtures do not.
func TestParseProblems(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"top level list", "- a\n", "f.yaml:1:1: a scenario is a mapping with the keys description, server, oauth, clock, tokens, limits, users, rules; got a list"},
		{"unknown top-level key", "user: []\n", `f.yaml:1:1: unknown key "user" at the top level; allowed: description, server, oauth, clock, tokens, limits, users, rules`},
		{"merge key", "a: &a {name: x}\nserver:\n  <<: *a\n", `f.yaml:1:1: unknown key "a" at the top level; allowed: description, server, oauth, clock, tokens, limits, users, rules
f.yaml:3:3: merge keys (<<) are not supported`},
		{"non-string key", "server: {[a]: 1}\n", "f.yaml:1:10: keys must be strings, got a list in server"},
		{"unknown alias", "server:\n  name: *nope\n", "f.yaml:2:9: YAML syntax error: unknown anchor 'nope' referenced"},
		{"tab indentation", "server:\n\tname: x\n", "f.yaml:2:1: YAML syntax error: found character that cannot start any token"},
		{"bad server name", "server: {name: 'example.org/x'}\n", `f.yaml:1:16: server.name: bad server name "example.org/x"; use a host name or IP address with an optional port, such as example.org or localhost:8008`},
		{"empty versions", "server: {versions: []}\n", "f.yaml:1:20: server.versions: list at least one value"},
		{"repeated auth", "server: {auth: [oauth, oauth]}\n", `f.yaml:1:24: server.auth: "oauth" is listed twice`},
		{"number as string", "users: [{id: a, password: 1234}]\n", "f.yaml:1:27: users[0].password: expected a string, got an integer"},
		{"zero lifetime", "tokens: {access_lifetime: 0s}\n", "f.yaml:1:27: tokens.access_lifetime: must be longer than 0"},
		{"negative seed", "tokens: {deterministic: -1}\n", "f.yaml:1:25: tokens.deterministic: the seed must be an integer from 0 to 18446744073709551615, got -1"},
		{"missing user id", "users: [{password: x}]\n", "f.yaml:1:9: users[0]: missing id"},
		{"bad full user ID", "users: [{id: '@alice'}]\n", `f.yaml:1:14: users[0].id: bad user ID "@alice"; write a localpart such as alice or a full ID such as @alice:localhost`},
		{"device ID with space", "users: [{id: a, devices: [{id: MY PHONE}]}]\n", `f.yaml:1:32: users[0].devices[0].id: "MY PHONE" must be visible ASCII without spaces`},
		{"same token twice in a device", "users: [{id: a, devices: [{id: D, refresh_token: t, access_token: t}]}]\n",
			`f.yaml:1:67: users[0].devices[0].access_token: token "t" is already used (at line 1); fixed tokens must be unique`},
		{"method in lower case", "rules: [{when: {request: {method: get}}, then: {delay: 1s}}]\n", `f.yaml:1:35: rules[0].when.request.method: unknown value "get"; allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`},
		{"path with query", "rules: [{when: {request: {path: '/x?y=1'}}, then: {delay: 1s}}]\n", `f.yaml:1:33: rules[0].when.request.path: bad path "/x?y=1"; give the URL path only, starting with /, such as /_matrix/client/v3/account/whoami`},
		{"user on another server", "users: [{id: a}]\nrules: [{when: {request: {user: '@a:other'}}, then: {delay: 1s}}]\n", "f.yaml:2:33: rules[0].when.request.user: user @a:other is not on this server (localhost)"},
		{"unknown user in effect", "rules: [{when: {nth: 1}, then: {hard_logout: {user: zed}}}]\n", `f.yaml:1:53: rules[0].then.hard_logout.user: unknown user "zed"; list it under users`},
		{"broken when", "rules: [{when: 5, then: {soft_logout: {}}}]\n", "f.yaml:1:16: rules[0].when: expected a mapping, got an integer"},
		{"empty when", "rules: [{when: {}, then: {soft_logout: {}}}]\n", "f.yaml:1:16: rules[0].when: no condition; give at least one of at, request, nth, every, from, to, after_rule"},
		{"missing when", "rules: [{then: {delay: 1s}}]\n", "f.yaml:1:9: rules[0]: missing when"},
		{"empty rule name", "rules: [{name: '', when: {nth: 1}, then: {delay: 1s}}]\n", "f.yaml:1:16: rules[0].name: must not be empty"},
		{"zero delay", "rules: [{when: {nth: 1}, then: {delay: 0s}}]\n", "f.yaml:1:40: rules[0].then.delay: must be longer than 0"},
		{"negative at", "rules: [{when: {at: -1m}, then: {delay: 1s}}]\n", `f.yaml:1:21: rules[0].when.at: duration "-1m" is negative`},
		{"never is no time", "rules: [{when: {at: never}, then: {delay: 1s}}]\n", `f.yaml:1:21: rules[0].when.at: bad duration "never"; use a Go duration such as "90s", "5m" or "1h30m"`},
		{"drop_connection false", "rules: [{when: {nth: 1}, then: {drop_connection: false}}]\n", "f.yaml:1:50: rules[0].then.drop_connection: only true is allowed; leave the key out instead"},
		{"target device without user in a time rule", "rules: [{when: {at: 1m}, then: {revoke_refresh_token: }}]\n", "f.yaml:1:33: rules[0].then.revoke_refresh_token: give user; a rule without a request condition has no request to take the user from"},
		{"times as float", "rules: [{when: {nth: 1}, then: {delay: 1s}, times: 1.5}]\n", `f.yaml:1:52: rules[0].times: expected a positive integer or "always", got a number`},
		{"huge nth", "rules: [{when: {nth: 99999999999}, then: {delay: 1s}}]\n", "f.yaml:1:22: rules[0].when.nth: 99999999999 is too large"},
		{"infinite body", "rules: [{when: {nth: 1}, then: {respond: {body: {x: .inf}}}}]\n", "f.yaml:1:53: rules[0].then.respond.body: JSON has no .inf"},
		{"duplicate body key", "rules: [{when: {nth: 1}, then: {respond: {body: {x: 1, x: 2}}}}]\n", `f.yaml:1:56: rules[0].then.respond.body: duplicate key "x"`},
		{"self-containing body", "rules: [{when: {nth: 1}, then: {respond: {body: &b {x: *b}}}}]\n", "f.yaml:1:56: rules[0].then.respond.body: alias *b refers to a value that contains it"},
		{"bad header name", "rules: [{when: {nth: 1}, then: {respond: {headers: {'Bad Header': x}}}}]\n", `f.yaml:1:53: rules[0].then.respond.headers: bad header name "Bad Header"`},
		{"header twice", "rules: [{when: {nth: 1}, then: {respond: {headers: {X-A: 1, x-a: 2}}}}]\n", "f.yaml:1:61: rules[0].then.respond.headers: duplicate header x-a (first at line 1)"},
		{"multi-line header", "rules: [{when: {nth: 1}, then: {respond: {headers: {X-A: \"a\\nb\"}}}}]\n", "f.yaml:1:58: rules[0].then.respond.headers.X-A: a header value must be on one line"},
		{"user on refresh", "users: [{id: a}]\nrules: [{when: {request: {operation: refresh, user: a}}, then: {delay: 1s}}]\n",
			"f.yaml:2:47: rules[0].when.request: this rule can never fire: operation refresh takes no access token, so no request to it has a user or device; leave out user and device"},
		{"device on login by path", "rules: [{when: {request: {method: POST, path: /_matrix/client/v3/login, device: D}}, then: {delay: 1s}}]\n",
			"f.yaml:1:73: rules[0].when.request: this rule can never fire: operation login takes no access token, so no request to it has a user or device; leave out user and device"},
		{"user on a path every method of which is tokenless", "users: [{id: a}]\nrules: [{when: {request: {path: /_matrix/client/v3/login, user: a}}, then: {delay: 1s}}]\n",
			"f.yaml:2:59: rules[0].when.request: this rule can never fire: operations getLoginFlows and login take no access token, so no request to it has a user or device; leave out user and device"},
		{"user outside the API", "users: [{id: a}]\nrules: [{when: {request: {path: /_matrix/client/v3/nothing, user: a}}, then: {respond: {status: 200}}}]\n",
			"f.yaml:2:61: rules[0].when.request: this rule can never fire: no operation of the API is served there, and the mock reads no access token outside the API, so no request to it has a user or device; leave out user and device"},
		{"unknown operation, near by name", "rules: [{when: {request: {operation: getDevice}}, then: {delay: 1s}}]\n",
			`f.yaml:1:38: rules[0].when.request.operation: unknown operation "getDevice" (did you mean getDevices?)`},
		{"bad content type", "rules: [{when: {nth: 1}, then: {respond: {body_text: x, content_type: 'text/'}}}]\n", `f.yaml:1:71: rules[0].then.respond.content_type: bad media type "text/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.src), knownOps)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	one := &Error{[]Problem{{"a.yaml", 1, 2, "first"}}}
	if got, want := one.Error(), "a.yaml:1:2: first"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	two := &Error{[]Problem{{"a.yaml", 1, 2, "first"}, {"a.yaml", 3, 4, "second"}}}
	if got, want := two.Error(), "a.yaml:1:2: first\na.yaml:3:4: second"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want fs.ErrNotExist", err)
	}
}

func TestValidFixturesParse(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(files) < 8 {
		t.Fatalf("want at least 8 valid fixtures, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		if _, err := Load(file, knownOps); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestUserID(t *testing.T) {
	s := &Scenario{Server: Server{Name: "example.org"}}
	for in, want := range map[string]string{"alice": "@alice:example.org", "@bob:example.org": "@bob:example.org"} {
		if got := s.UserID(in); got != want {
			t.Errorf("UserID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseAliasBomb checks that aliases cannot make a small file expand
// without bound.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, err := Parse("f.yaml", []byte(b.String()), nil)
	want := "f.yaml:1:1: the document is too large: over 1000000 values once aliases are expanded"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestDocExample checks that the example in the package documentation is
// a valid scenario.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "// # Example\n//\n")
	if !ok {
		t.Fatal("doc.go has no example")
	}
	var example strings.Builder
	for line := range strings.Lines(rest) {
		text, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		example.WriteString(text)
	}
	s, err := Parse("doc.go example", []byte(example.String()), knownOps)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 1 || len(s.Rules) != 2 {
		t.Errorf("got %d users and %d rules, want 1 and 2", len(s.Users), len(s.Rules))
	}
}
