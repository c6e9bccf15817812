package scenario

import (
	"slices"
	"sync"
	"time"
)

// Request describes a request the mock is about to answer.
type Request struct {
	// Operation is the request's operationId, empty when no operation
	// matched.
	Operation string
	// Method and Path are the HTTP method and the URL path, without the
	// query.
	Method, Path string
	// UserID and DeviceID are the full user ID and the device that the
	// request's access token authenticated, empty when none did.
	UserID, DeviceID string
	// Now is the server's time for the request.
	Now time.Time
	// Outside says that no operation of the API serves Method and Path:
	// only rules that respond see such a request, so that a test can fake
	// an endpoint the mock lacks while other rules count only requests
	// the mock serves.
	Outside bool
}

// Fired is one firing of a rule.
type Fired struct {
	// Name is the rule's name, empty when it has none.
	Name string
	// Index is the rule's position in the scenario, from 0.
	Index int
	// Effects are the rule's effects to apply, in order. Effects on a
	// device have their User, and usually their Device, filled in (see
	// Engine.OnRequest). They share Response data with the rule: do not
	// modify it.
	Effects []Effect
}

// Gates of a rule without after_rule, and of one whose after_rule names
// no rule.
const (
	noGate      = -1
	unknownRule = -2
)

// Engine decides which rules fire. It counts, for each rule, the requests
// that matched it and how often it fired. It is safe for concurrent use.
type Engine struct {
	rules  []Rule
	after  []int // index of the rule each rule waits for, or noGate, or unknownRule
	start  time.Time
	userID func(string) string

	mu      sync.Mutex
	matched []int
	fired   []int
	onFire  func(Fired) // see OnFire; nil: nobody listens
}

// NewEngine returns an engine for rules, whose at times count from start
// (Clock.Start for a virtual clock, the moment the server started for a
// real one). userID turns a user as a rule writes it ("alice") into the
// full user ID that Request.UserID holds; pass Scenario.UserID. With nil,
// users are compared as written. A rule whose after_rule names no rule
// never fires. The engine does not modify rules; do not change them while
// it is in use.
func NewEngine(rules []Rule, start time.Time, userID func(string) string) *Engine {
	if userID == nil {
		userID = func(user string) string { return user }
	}
	index := map[string]int{}
	for i, r := range rules {
		if _, dup := index[r.Name]; r.Name != "" && !dup {
			index[r.Name] = i
		}
	}
	after := make([]int, len(rules))
	for i, r := range rules {
		after[i] = noGate
		if r.When.AfterRule != "" {
			j, ok := index[r.When.AfterRule]
			if !ok {
				j = unknownRule
			}
			after[i] = j
		}
	}
	return &Engine{
		rules:   slices.Clone(rules),
		after:   after,
		start:   start,
		userID:  userID,
		matched: make([]int, len(rules)),
		fired:   make([]int, len(rules)),
	}
}

// OnRequest returns the firings of the request rules for req, in rule
// order. It counts req against each request rule that is not used up,
// whose at time has come, whose after_rule has fired and whose request
// conditions req meets; the rule fires when that count passes its nth,
// every, from and to.
//
// Rules are checked in file order, and a rule that waits for another sees
// the firings of the rules before it on the same request: it can fire on
// the request that opens its gate only when it comes later in the file.
//
// Effects on a device that leave out the user get the request's user and
// device; those that name the request's own user without a device get the
// request's device. Those that name another user without a device keep
// Device empty: they act on every device of that user. An effect that
// names no user on a request that authenticated none acts on nothing and
// is left out of the firing.
func (e *Engine) OnRequest(req Request) []Fired {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Fired
	for i := range e.rules {
		r := &e.rules[i]
		if r.When.Request == nil || (req.Outside && !r.responds()) || !e.ready(i, req.Now) || !e.matches(r.When.Request, req) {
			continue
		}
		e.matched[i]++
		if !r.When.counts(e.matched[i]) {
			continue
		}
		out = append(out, e.fire(i, req.UserID, req.DeviceID))
	}
	return out
}

// Due returns the firings of the time rules, those without a request
// condition, that may fire at now: their at time has come, their
// after_rule has fired and they are not used up. Each call fires each such
// rule once, so a rule with times: 3 fires on three calls and one with
// times: always on every call. The mock calls Due before it handles a
// request and when its clock moves.
func (e *Engine) Due(now time.Time) []Fired {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Fired
	for i := range e.rules {
		if e.rules[i].When.Request == nil && e.ready(i, now) {
			out = append(out, e.fire(i, "", ""))
		}
	}
	return out
}

// OnFire makes f hear of every later firing as it happens, before the
// caller applies its effects, in the order the rules fire. f runs with the
// engine locked: it must not call the engine.
func (e *Engine) OnFire(f func(Fired)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onFire = f
}

// Reset forgets all counts and firings, as if the engine were new.
func (e *Engine) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.matched)
	clear(e.fired)
}

// Fired returns how often each rule has fired, by rule index.
func (e *Engine) Fired() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.fired)
}

// ready reports whether rule i may count and fire at now: it is not used
// up, its at time has come and its after_rule has fired.
func (e *Engine) ready(i int, now time.Time) bool {
	r := &e.rules[i]
	if (r.Times > 0 && e.fired[i] >= r.Times) || now.Before(e.start.Add(r.When.At)) {
		return false
	}
	switch a := e.after[i]; a {
	case noGate:
		return true
	case unknownRule:
		return false
	default:
		return e.fired[a] > 0
	}
}

// matches reports whether req meets every condition of m.
func (e *Engine) matches(m *RequestMatch, req Request) bool {
	return (m.Operation == "" || m.Operation == req.Operation) &&
		(m.Method == "" || m.Method == req.Method) &&
		(m.Path == "" || m.Path == req.Path) &&
		(m.User == "" || e.userID(m.User) == req.UserID) &&
		(m.Device == "" || m.Device == req.DeviceID)
}

// counts reports whether a rule fires on its n-th matching request.
func (t *Trigger) counts(n int) bool {
	return (t.Nth <= 0 || n == t.Nth) &&
		(t.Every <= 0 || n%t.Every == 0) &&
		(t.From <= 0 || n >= t.From) &&
		(t.To <= 0 || n <= t.To)
}

// fire records a firing of rule i and returns it, with targets completed
// from the request's user and device (empty for a time rule).
func (e *Engine) fire(i int, userID, deviceID string) Fired {
	e.fired[i]++
	r := &e.rules[i]
	f := Fired{Name: r.Name, Index: i, Effects: make([]Effect, 0, len(r.Then))}
	for _, eff := range r.Then {
		if eff.Kind.targeted() {
			switch {
			case eff.User == "" && userID == "":
				continue
			case eff.User == "":
				eff.User = userID
				if eff.Device == "" {
					eff.Device = deviceID
				}
			case eff.Device == "" && e.userID(eff.User) == userID:
				eff.Device = deviceID
			}
		}
		f.Effects = append(f.Effects, eff)
	}
	if e.onFire != nil {
		e.onFire(f)
	}
	return f
}
