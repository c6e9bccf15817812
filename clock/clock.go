// Package clock gives the mock homeserver its notion of time: the system
// clock, or a virtual clock that moves only when a test moves it. Every
// expiry decision of the mock reads one Clock, so a test can make a token
// expire by moving the clock instead of sleeping. It depends on nothing
// else in the module.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock tells the current time. A real clock follows the system clock,
// shifted by whatever Advance and Set added; a virtual clock stands still
// until Advance or Set moves it. A Clock is safe for concurrent use.
type Clock struct {
	r     atomic.Pointer[reading]
	moved atomic.Pointer[[]func(from, to time.Time)] // see OnMove; replaced whole
}

// reading is a clock's state, replaced whole so that Now never sees half
// of a change.
type reading struct {
	virtual bool
	// nanos is the virtual reading in Unix nanoseconds, or the real clock's
	// offset from the system clock in nanoseconds.
	nanos int64
}

// Real returns a clock that follows the system clock.
func Real() *Clock {
	c := &Clock{}
	c.r.Store(&reading{})
	return c
}

// Virtual returns a clock that reads start until it is moved.
func Virtual(start time.Time) *Clock {
	c := &Clock{}
	c.r.Store(&reading{virtual: true, nanos: start.UnixNano()})
	return c
}

// IsVirtual reports whether the clock stands still unless moved.
func (c *Clock) IsVirtual() bool { return c.r.Load().virtual }

// Now returns the current reading. A virtual clock's reading is in UTC.
func (c *Clock) Now() time.Time {
	r := c.r.Load()
	if r.virtual {
		return r.at(time.Time{}) // spares the system clock's reading
	}
	return r.at(time.Now())
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.r.Load()
		next := &reading{virtual: old.virtual, nanos: old.nanos + int64(d)}
		if c.r.CompareAndSwap(old, next) {
			c.tell(old, next)
			return
		}
	}
}

// Set makes the clock read t. A real clock keeps running from there.
func (c *Clock) Set(t time.Time) {
	for {
		old := c.r.Load()
		next := &reading{virtual: old.virtual, nanos: t.UnixNano()}
		if !old.virtual {
			next.nanos = int64(time.Until(t))
		}
		if c.r.CompareAndSwap(old, next) {
			c.tell(old, next)
			return
		}
	}
}

// OnMove makes f hear of every later Advance and Set, after the move, with
// the readings before and after it. Reset is not a move. f runs on the
// mover's goroutine and must not move the clock.
func (c *Clock) OnMove(f func(from, to time.Time)) {
	for {
		old := c.moved.Load()
		var next []func(from, to time.Time)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, f)
		if c.moved.CompareAndSwap(old, &next) {
			return
		}
	}
}

// tell calls the OnMove funcs with a move from old to next.
func (c *Clock) tell(old, next *reading) {
	fs := c.moved.Load()
	if fs == nil {
		return
	}
	now := time.Now()
	from, to := old.at(now), next.at(now)
	for _, f := range *fs {
		f(from, to)
	}
}

// at returns the reading's time when the system clock reads now.
func (r *reading) at(now time.Time) time.Time {
	if r.virtual {
		return time.Unix(0, r.nanos).UTC()
	}
	return now.Add(time.Duration(r.nanos))
}

// Reset makes c the clock that Virtual(start) or, when virtual is false,
// Real returns, as one change.
func (c *Clock) Reset(virtual bool, start time.Time) {
	if virtual {
		c.r.Store(&reading{virtual: true, nanos: start.UnixNano()})
		return
	}
	c.r.Store(&reading{})
}
