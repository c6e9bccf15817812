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
	r atomic.Pointer[reading]
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
		return time.Unix(0, r.nanos).UTC()
	}
	return time.Now().Add(time.Duration(r.nanos))
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.r.Load()
		if c.r.CompareAndSwap(old, &reading{virtual: old.virtual, nanos: old.nanos + int64(d)}) {
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
			return
		}
	}
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
