// Package clock gives the mock homeserver its notion of time: the system
// clock, or a virtual clock that moves only when a test moves it. Every
// expiry decision of the mock reads one Clock, so a test can make a token
// expire by moving the clock instead of sleeping.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock tells the current time. A real clock follows the system clock,
// shifted by whatever Advance and Set added; a virtual clock stands still
// until Advance or Set moves it. A Clock is safe for concurrent use.
type Clock struct {
	virtual bool
	// nanos is the virtual reading in Unix nanoseconds, or the real clock's
	// offset from the system clock in nanoseconds.
	nanos atomic.Int64
}

// Real returns a clock that follows the system clock.
func Real() *Clock { return &Clock{} }

// Virtual returns a clock that reads start until it is moved.
func Virtual(start time.Time) *Clock {
	c := &Clock{virtual: true}
	c.nanos.Store(start.UnixNano())
	return c
}

// IsVirtual reports whether the clock stands still unless moved.
func (c *Clock) IsVirtual() bool { return c.virtual }

// Now returns the current reading. A virtual clock's reading is in UTC.
func (c *Clock) Now() time.Time {
	if c.virtual {
		return time.Unix(0, c.nanos.Load()).UTC()
	}
	return time.Now().Add(time.Duration(c.nanos.Load()))
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// Set makes the clock read t. A real clock keeps running from there.
func (c *Clock) Set(t time.Time) {
	if c.virtual {
		c.nanos.Store(t.UnixNano())
		return
	}
	c.nanos.Store(int64(time.Until(t)))
}
