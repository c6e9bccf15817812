package ui

import (
	"math"
	"slices"
	"time"
)

// Spacing of the axis: each moment the timeline shows takes a slot, in
// the order the journal recorded them, so that requests answered at the
// same instant of a virtual clock still stand apart. Between two slots
// the axis puts minStep, plus a width that grows with the logarithm of the
// time between them: a gap of gapUnit adds log(2), and each tenfold longer
// gap about as much again, so a six-minute clock jump stays in proportion
// with a burst of requests a millisecond apart.
//
// The slots after now (the expiries to come) take at most maxAhead each:
// the time a token has left is worth a glance, not half the drawing.
const (
	minStep  = 0.6
	gapUnit  = 50 * time.Millisecond
	maxAhead = 3.0
)

// axis places slots on [0, 1].
type axis struct {
	times []time.Time // of each slot, in order (not sorted if the clock was set back)
	pos   []float64   // of each slot, nondecreasing
}

// newAxis returns the axis of slots at these times, in this order; the
// slots after index now are the future.
func newAxis(times []time.Time, now int) axis {
	a := axis{times: times, pos: make([]float64, len(times))}
	for i := 1; i < len(times); i++ {
		gap := times[i].Sub(times[i-1]).Abs()
		step := minStep + math.Log1p(float64(gap)/float64(gapUnit))
		if i > now {
			step = min(step, maxAhead)
		}
		a.pos[i] = a.pos[i-1] + step
	}
	if n := len(times); n > 1 {
		total := a.pos[n-1]
		for i := range a.pos {
			a.pos[i] /= total
		}
	}
	return a
}

// last is the index of the last slot.
func (a axis) last() int { return len(a.times) - 1 }

// start is the first slot's time (zero without slots).
func (a axis) start() time.Time {
	if len(a.times) == 0 {
		return time.Time{}
	}
	return a.times[0]
}

// at returns the position of slot i; a lone slot is in the middle.
func (a axis) at(i int) float64 {
	if len(a.times) < 2 {
		return 0.5
	}
	return a.pos[i]
}

// within returns the position of t among the slots after from: between
// the first of them whose time is t or later and the one before it, in
// proportion; the last slot's position when none is that late.
func (a axis) within(t time.Time, from int) float64 {
	for k := from + 1; k < len(a.times); k++ {
		if !a.times[k].Before(t) {
			span := a.times[k].Sub(a.times[k-1])
			if span <= 0 {
				return a.at(k)
			}
			frac := min(max(float64(t.Sub(a.times[k-1]))/float64(span), 0), 1)
			return a.at(k-1) + frac*(a.at(k)-a.at(k-1))
		}
	}
	return a.at(a.last())
}

// time returns the time at position p, between the slots around it.
func (a axis) time(p float64) time.Time {
	n := len(a.times)
	if n < 2 {
		return a.start()
	}
	k, _ := slices.BinarySearch(a.pos, p)
	switch {
	case k == 0:
		return a.times[0]
	case k == n:
		return a.times[n-1]
	}
	frac := (p - a.pos[k-1]) / (a.pos[k] - a.pos[k-1])
	return a.times[k-1].Add(time.Duration(frac * float64(a.times[k].Sub(a.times[k-1]))))
}
