// Package limit counts failed attempts at guessing a secret (a password,
// a device's user code) per key, such as a user or a client address, and
// says when a key has failed too often: then every attempt is refused,
// right or wrong, until its window is over. It reads time only from its
// Clock and is safe for concurrent use.
package limit

import (
	"net"
	"sync"
	"time"
)

// Keys are the keys an attempt counts under: the client's address (a
// request's RemoteAddr, its port dropped) and, when known, the user ID it
// names.
func Keys(remoteAddr, userID string) []string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	keys := []string{"ip:" + host}
	if userID != "" {
		keys = append(keys, "user:"+userID)
	}
	return keys
}

// Defaults of a Rule's zero fields: no honest client or test fails this
// often, and a guesser is slowed down to a few attempts a second.
const (
	DefaultFailures = 30
	DefaultWindow   = time.Minute
)

// Rule is how many failures a key may have in a window.
type Rule struct {
	// Failures is how many failed attempts a key may make in a window
	// (0: DefaultFailures; negative: no limit).
	Failures int
	// Window is how long failures count (0: DefaultWindow).
	Window time.Duration
}

// Clock is the time the counts read.
type Clock interface{ Now() time.Time }

// Limiter counts failures per key under one Rule.
type Limiter struct {
	rule  Rule
	clock Clock

	mu      sync.Mutex
	windows map[string]*window
}

// window is a key's failures since start.
type window struct {
	start    time.Time
	failures int
}

// New returns a Limiter that applies rule, with its defaults filled in.
func New(rule Rule, clk Clock) *Limiter {
	if rule.Failures == 0 {
		rule.Failures = DefaultFailures
	}
	if rule.Window <= 0 {
		rule.Window = DefaultWindow
	}
	return &Limiter{rule: rule, clock: clk, windows: map[string]*window{}}
}

// Wait returns how long the caller must wait before the next attempt for
// any of keys: 0 when none of them has failed too often.
func (l *Limiter) Wait(keys ...string) time.Duration {
	if l.rule.Failures < 0 {
		return 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		w := l.windows[k]
		if w == nil || !now.Before(w.start.Add(l.rule.Window)) || w.failures < l.rule.Failures {
			continue
		}
		wait = max(wait, w.start.Add(l.rule.Window).Sub(now))
	}
	return wait
}

// Fail counts a failed attempt for each of keys.
func (l *Limiter) Fail(keys ...string) {
	if l.rule.Failures < 0 {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.windows) > sweepAt {
		for k, w := range l.windows {
			if !now.Before(w.start.Add(l.rule.Window)) {
				delete(l.windows, k)
			}
		}
	}
	for _, k := range keys {
		w := l.windows[k]
		if w == nil || !now.Before(w.start.Add(l.rule.Window)) {
			w = &window{start: now}
			l.windows[k] = w
		}
		w.failures++
	}
}

// sweepAt is the number of keys above which Fail drops ended windows.
const sweepAt = 1024
