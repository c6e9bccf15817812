package scenario

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

// engineHeader declares the users the engine tests' rules refer to.
const engineHeader = `
server: {name: example.org}
users:
  - id: alice
    devices: [{id: PHONE}, {id: LAPTOP}]
  - id: bob
    devices: [{id: TABLET}]
`

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newTestEngine parses rules (YAML for the rules key) after engineHeader
// and returns an engine for them.
func newTestEngine(t *testing.T, rules string) *Engine {
	t.Helper()
	s := mustParse(t, engineHeader+"rules:\n"+rules)
	return NewEngine(s.Rules, s.Clock.Start, s.UserID)
}

// whoami is a request of alice's phone at the clock's start.
func whoami() Request {
	return Request{
		Operation: "getTokenOwner", Method: "GET", Path: "/_matrix/client/v3/account/whoami",
		UserID: "@alice:example.org", DeviceID: "PHONE", Now: start,
	}
}

// firings sends n copies of req and returns, for each rule index, the
// request numbers (from 1) it fired on.
func firings(e *Engine, req Request, n int) map[int][]int {
	out := map[int][]int{}
	for i := 1; i <= n; i++ {
		for _, f := range e.OnRequest(req) {
			out[f.Index] = append(out[f.Index], i)
		}
	}
	return out
}

func TestEngineCounting(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  map[int][]int
	}{
		{"first match by default", "- {when: {request: {operation: getTokenOwner}}, then: {delay: 1s}}", map[int][]int{0: {1}}},
		{"times 3", "- {when: {request: {}}, then: {delay: 1s}, times: 3}", map[int][]int{0: {1, 2, 3}}},
		{"always", "- {when: {request: {}}, then: {delay: 1s}, times: always}", map[int][]int{0: {1, 2, 3, 4, 5, 6, 7, 8}}},
		{"nth", "- {when: {request: {operation: getTokenOwner}, nth: 3}, then: {delay: 1s}}", map[int][]int{0: {3}}},
		{"nth ignores times", "- {when: {nth: 3}, then: {delay: 1s}, times: always}", map[int][]int{0: {3}}},
		{"every", "- {when: {every: 2}, then: {delay: 1s}, times: always}", map[int][]int{0: {2, 4, 6, 8}}},
		{"every, twice", "- {when: {every: 3}, then: {delay: 1s}, times: 2}", map[int][]int{0: {3, 6}}},
		{"window", "- {when: {from: 2, to: 4}, then: {delay: 1s}, times: always}", map[int][]int{0: {2, 3, 4}}},
		{"window, once", "- {when: {from: 2, to: 4}, then: {delay: 1s}}", map[int][]int{0: {2}}},
		{"open window", "- {when: {from: 7}, then: {delay: 1s}, times: always}", map[int][]int{0: {7, 8}}},
		{"window with every", "- {when: {every: 2, from: 3, to: 7}, then: {delay: 1s}, times: always}", map[int][]int{0: {4, 6}}},
		{"no match", "- {when: {request: {operation: refresh}}, then: {delay: 1s}, times: always}", map[int][]int{}},
		{"time rules are not request rules", "- {when: {at: 0s}, then: {soft_logout: {user: alice}}}", map[int][]int{}},
		{"later rule fires with the one it waits for", `
- {name: a, when: {nth: 2}, then: {delay: 1s}}
- {name: b, when: {request: {}, after_rule: a}, then: {delay: 1s}, times: always}`,
			map[int][]int{0: {2}, 1: {2, 3, 4, 5, 6, 7, 8}}},
		{"earlier rule fires on the next request", `
- {name: b, when: {request: {}, after_rule: a}, then: {delay: 1s}, times: always}
- {name: a, when: {nth: 2}, then: {delay: 1s}}`,
			map[int][]int{1: {2}, 0: {3, 4, 5, 6, 7, 8}}},
		{"gated rule counts only once open", `
- {name: a, when: {nth: 3}, then: {delay: 1s}}
- {name: b, when: {nth: 2, after_rule: a}, then: {delay: 1s}}`,
			map[int][]int{0: {3}, 1: {4}}},
		{"chain", `
- {name: a, when: {nth: 1}, then: {delay: 1s}}
- {name: b, when: {nth: 2, after_rule: a}, then: {delay: 1s}}
- {name: c, when: {nth: 1, after_rule: b}, then: {delay: 1s}}`,
			map[int][]int{0: {1}, 1: {2}, 2: {2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, tt.rules)
			if got := firings(e, whoami(), 8); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEngineMatching(t *testing.T) {
	anon := Request{Operation: "getVersions", Method: "GET", Path: "/_matrix/client/versions", Now: start}
	bob := Request{Operation: "getTokenOwner", Method: "GET", Path: "/_matrix/client/v3/account/whoami", UserID: "@bob:example.org", DeviceID: "TABLET", Now: start}
	laptop := whoami()
	laptop.DeviceID = "LAPTOP"
	tests := []struct {
		name    string
		request string
		want    []bool // matches whoami(), laptop, bob, anon
	}{
		{"any", "{}", []bool{true, true, true, true}},
		{"operation", "{operation: getTokenOwner}", []bool{true, true, true, false}},
		{"method", "{method: GET}", []bool{true, true, true, true}},
		{"other method", "{method: POST}", []bool{false, false, false, false}},
		{"path", "{path: /_matrix/client/versions}", []bool{false, false, false, true}},
		{"method and path", "{method: GET, path: /_matrix/client/v3/account/whoami}", []bool{true, true, true, false}},
		{"localpart", "{user: alice}", []bool{true, true, false, false}},
		{"full user ID", "{user: '@bob:example.org'}", []bool{false, false, true, false}},
		{"device", "{device: LAPTOP}", []bool{false, true, false, false}},
		{"user and device", "{user: alice, device: PHONE}", []bool{true, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []bool
			for _, req := range []Request{whoami(), laptop, bob, anon} {
				e := newTestEngine(t, "- {when: {request: "+tt.request+"}, then: {delay: 1s}}")
				got = append(got, len(e.OnRequest(req)) == 1)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEngineAtWithRequest(t *testing.T) {
	e := newTestEngine(t, `
- {when: {at: 10m, request: {operation: getTokenOwner}}, then: {delay: 1s}}
- {when: {at: 10m, nth: 2}, then: {delay: 1s}}`)
	var got [][]int
	for _, m := range []time.Duration{0, 5 * time.Minute, 9*time.Minute + 59*time.Second, 10 * time.Minute, 11 * time.Minute, 12 * time.Minute} {
		req := whoami()
		req.Now = start.Add(m)
		var fired []int
		for _, f := range e.OnRequest(req) {
			fired = append(fired, f.Index)
		}
		got = append(got, fired)
	}
	want := [][]int{nil, nil, nil, {0}, {1}, nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEngineTargets(t *testing.T) {
	e := newTestEngine(t, `
- when: {request: {}}
  times: always
  then:
    expire_access_token: {}
    soft_logout: {user: alice}
    hard_logout: {user: bob}
    delete_device: {device: LAPTOP}
    revoke_refresh_token: {user: bob, device: TABLET}
    delay: 1s`)
	tests := []struct {
		name string
		req  Request
		want []Effect
	}{
		{"alice's phone", whoami(), []Effect{
			{Kind: ExpireAccessToken, User: "@alice:example.org", Device: "PHONE"},
			{Kind: SoftLogout, User: "alice", Device: "PHONE"},
			{Kind: HardLogout, User: "bob"},
			{Kind: DeleteDevice, User: "@alice:example.org", Device: "LAPTOP"},
			{Kind: RevokeRefreshToken, User: "bob", Device: "TABLET"},
			{Kind: Delay, Delay: time.Second},
		}},
		{"bob's tablet", Request{UserID: "@bob:example.org", DeviceID: "TABLET", Now: start}, []Effect{
			{Kind: ExpireAccessToken, User: "@bob:example.org", Device: "TABLET"},
			{Kind: SoftLogout, User: "alice"},
			{Kind: HardLogout, User: "bob", Device: "TABLET"},
			{Kind: DeleteDevice, User: "@bob:example.org", Device: "LAPTOP"},
			{Kind: RevokeRefreshToken, User: "bob", Device: "TABLET"},
			{Kind: Delay, Delay: time.Second},
		}},
		{"no access token", Request{Method: "GET", Path: "/_matrix/client/versions", Now: start}, []Effect{
			{Kind: SoftLogout, User: "alice"},
			{Kind: HardLogout, User: "bob"},
			{Kind: RevokeRefreshToken, User: "bob", Device: "TABLET"},
			{Kind: Delay, Delay: time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fired := e.OnRequest(tt.req)
			if len(fired) != 1 {
				t.Fatalf("got %d firings, want 1", len(fired))
			}
			if !reflect.DeepEqual(fired[0].Effects, tt.want) {
				t.Errorf("got  %+v\nwant %+v", fired[0].Effects, tt.want)
			}
		})
	}
}

func TestEngineFiredNames(t *testing.T) {
	e := newTestEngine(t, `
- {name: first, when: {nth: 1}, then: {delay: 1s}}
- {when: {nth: 1}, then: {drop_connection: true}}`)
	got := e.OnRequest(whoami())
	want := []Fired{
		{Name: "first", Index: 0, Effects: []Effect{{Kind: Delay, Delay: time.Second}}},
		{Index: 1, Effects: []Effect{{Kind: DropConnection}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestEngineDue(t *testing.T) {
	e := newTestEngine(t, `
- {name: once, when: {at: 10m}, then: {delete_device: {user: alice, device: LAPTOP}}}
- {name: twice, when: {at: 20m}, then: {expire_access_token: {user: bob}}, times: 2}
- {name: always, when: {at: 30m}, then: {soft_logout: {user: alice}}, times: always}
- {name: requested, when: {request: {}}, then: {delay: 1s}}
- {name: after-request, when: {after_rule: requested}, then: {hard_logout: {user: bob, device: TABLET}}}
- {name: after-time, when: {after_rule: once}, then: {revoke_refresh_token: {user: alice}}}`)
	due := func(m time.Duration) []string {
		var names []string
		for _, f := range e.Due(start.Add(m * time.Minute)) {
			names = append(names, f.Name)
		}
		return names
	}
	steps := []struct {
		minutes time.Duration
		want    []string
	}{
		{0, nil},
		{9, nil},
		{10, []string{"once", "after-time"}},
		{15, nil},
		{25, []string{"twice"}},
		{26, []string{"twice"}},
		{27, nil},
		{30, []string{"always"}},
		{31, []string{"always"}},
	}
	for _, s := range steps {
		if got := due(s.minutes); !reflect.DeepEqual(got, s.want) {
			t.Errorf("Due(start+%dm) = %v, want %v", s.minutes, got, s.want)
		}
	}
	if fired := e.OnRequest(whoami()); len(fired) != 1 || fired[0].Name != "requested" {
		t.Fatalf("OnRequest = %+v, want the rule requested only", fired)
	}
	got := e.Due(start.Add(time.Hour))
	want := []Fired{
		{Name: "always", Index: 2, Effects: []Effect{{Kind: SoftLogout, User: "alice"}}},
		{Name: "after-request", Index: 4, Effects: []Effect{{Kind: HardLogout, User: "bob", Device: "TABLET"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Due after the request:\ngot  %+v\nwant %+v", got, want)
	}
	if got, want := e.Fired(), []int{1, 2, 3, 1, 1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Fired() = %v, want %v", got, want)
	}
}

func TestEngineReset(t *testing.T) {
	e := newTestEngine(t, `
- {name: a, when: {nth: 2}, then: {delay: 1s}}
- {when: {at: 1m}, then: {soft_logout: {user: alice}}}`)
	check := func(when string) {
		t.Helper()
		if got := firings(e, whoami(), 3); !reflect.DeepEqual(got, map[int][]int{0: {2}}) {
			t.Errorf("%s: OnRequest fired %v, want rule 0 on request 2", when, got)
		}
		if got := e.Due(start.Add(time.Minute)); len(got) != 1 {
			t.Errorf("%s: Due fired %d rules, want 1", when, len(got))
		}
		if got, want := e.Fired(), []int{1, 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Fired() = %v, want %v", when, got, want)
		}
	}
	check("new engine")
	e.Reset()
	if got, want := e.Fired(), []int{0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("after Reset: Fired() = %v, want %v", got, want)
	}
	check("after Reset")
}

func TestEngineFiredIsACopy(t *testing.T) {
	e := newTestEngine(t, "- {when: {nth: 1}, then: {delay: 1s}}")
	e.OnRequest(whoami())
	e.Fired()[0] = 42
	if got := e.Fired()[0]; got != 1 {
		t.Errorf("Fired()[0] = %d after changing a copy, want 1", got)
	}
}

func TestEngineHandBuiltRules(t *testing.T) {
	rules := []Rule{
		{Name: "orphan", When: Trigger{Request: &RequestMatch{}, AfterRule: "missing"}, Then: []Effect{{Kind: Delay, Delay: time.Second}}},
		{Name: "raw user", When: Trigger{Request: &RequestMatch{User: "@alice:example.org"}}, Then: []Effect{{Kind: SoftLogout}}, Times: 0},
	}
	e := NewEngine(rules, start, nil)
	got := firings(e, whoami(), 2)
	if want := map[int][]int{1: {1, 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestEngineConcurrent sends requests from many goroutines and checks the
// exact totals, under the race detector.
func TestEngineConcurrent(t *testing.T) {
	const goroutines, each = 50, 200
	e := newTestEngine(t, `
- {name: third, when: {every: 3}, then: {delay: 1ms}, times: always}
- {name: once, when: {nth: 5000}, then: {drop_connection: true}}
- {name: window, when: {from: 101, to: 200}, then: {expire_access_token: {}}, times: always}
- {name: tick, when: {at: 0s}, then: {soft_logout: {user: alice}}, times: 7}`)
	counts := make([]int, 4)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			local := make([]int, 4)
			for range each {
				for _, f := range e.Due(start) {
					local[f.Index]++
				}
				for _, f := range e.OnRequest(whoami()) {
					local[f.Index]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i, n := range local {
				counts[i] += n
			}
		})
	}
	wg.Wait()
	want := []int{goroutines * each / 3, 1, 100, 7}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("firings returned: %v, want %v", counts, want)
	}
	if got := e.Fired(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fired() = %v, want %v", got, want)
	}
}

// TestEngineOnFire: the listener hears request and time rules fire, in
// order, as OnRequest and Due return them.
func TestEngineOnFire(t *testing.T) {
	e := newTestEngine(t, `
  - name: second-whoami
    when: {request: {operation: getTokenOwner}, nth: 2}
    then: {expire_access_token: {}}
  - name: at-one-minute
    when: {at: 1m}
    then: {soft_logout: {user: bob}}
`)
	var heard []string
	e.OnFire(func(f Fired) { heard = append(heard, f.Name) })
	var returned []string
	for range 2 {
		for _, f := range e.OnRequest(whoami()) {
			returned = append(returned, f.Name)
		}
	}
	for _, f := range e.Due(start.Add(time.Minute)) {
		returned = append(returned, f.Name)
	}
	if want := []string{"second-whoami", "at-one-minute"}; !reflect.DeepEqual(heard, want) || !reflect.DeepEqual(returned, want) {
		t.Errorf("heard %v, returned %v, want %v", heard, returned, want)
	}
}

// TestEngineOutsideTheAPI checks that a request no operation serves is
// seen only by the rules that respond, and counted only by them.
func TestEngineOutsideTheAPI(t *testing.T) {
	e := newTestEngine(t, `
- {when: {request: {path: /fake}}, then: {respond: {status: 200}}, times: always}
- {when: {request: {}}, then: {delay: 1s}, times: always}
- {when: {request: {path: /fake}}, then: {drop_connection: true}, times: always}
`)
	outside := Request{Method: "GET", Path: "/fake", Now: start, Outside: true}
	if got, want := firings(e, outside, 2), map[int][]int{0: {1, 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("outside the API: got %v, want %v", got, want)
	}
	if got, want := firings(e, whoami(), 1), map[int][]int{1: {1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("inside: got %v, want %v", got, want)
	}
}

func TestRuleSummary(t *testing.T) {
	s := mustParse(t, engineHeader+`rules:
  - {name: a, when: {at: 1m, request: {operation: getTokenOwner, user: alice}, every: 2, from: 3}, then: {delay: 1s, soft_logout: {}}}
  - {when: {after_rule: a}, then: {hard_logout: {user: bob}}}
`)
	for i, want := range []string{
		"at 1m0s, request operation=getTokenOwner user=alice, every 2, from 3 → soft_logout, delay",
		"after_rule a → hard_logout",
	} {
		if got := s.Rules[i].Summary(); got != want {
			t.Errorf("rule %d: got %q, want %q", i, got, want)
		}
	}
}
