package ui

import (
	"math"
	"slices"
	"time"
)

// gapUnit sets how much the axis compresses: a gap of this length between
// two moments takes log(2) of the unit width, and each tenfold longer gap
// adds about the same width again.
const gapUnit = 50 * time.Millisecond

// axis maps clock times onto [0, 1]. It is piecewise linear between the
// moments the timeline shows, and each gap between two of them gets a width
// that grows with the logarithm of its length: a burst of requests a
// millisecond apart stays legible beside a six-minute clock jump.
type axis struct {
	times []int64   // the moments, in Unix nanoseconds, sorted, distinct
	pos   []float64 // the position of each moment, from 0 to 1
}

// newAxis returns the axis through the moments (any order, repeats allowed).
func newAxis(moments []time.Time) axis {
	ns := make([]int64, 0, len(moments))
	for _, t := range moments {
		if !t.IsZero() {
			ns = append(ns, t.UnixNano())
		}
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	a := axis{times: ns, pos: make([]float64, len(ns))}
	for i := 1; i < len(ns); i++ {
		a.pos[i] = a.pos[i-1] + math.Log1p(float64(ns[i]-ns[i-1])/float64(gapUnit))
	}
	if n := len(ns); n > 1 && a.pos[n-1] > 0 {
		total := a.pos[n-1]
		for i := range a.pos {
			a.pos[i] /= total
		}
	}
	return a
}

// start and end are the first and last moments (zero without any).
func (a axis) start() time.Time { return a.at(0) }
func (a axis) end() time.Time   { return a.at(len(a.times) - 1) }

func (a axis) at(i int) time.Time {
	if len(a.times) == 0 {
		return time.Time{}
	}
	return time.Unix(0, a.times[i]).UTC()
}

// x returns the position of t, clamped to [0, 1]; with fewer than two
// moments everything is at 0.5.
func (a axis) x(t time.Time) float64 {
	n := len(a.times)
	if n < 2 {
		return 0.5
	}
	v := t.UnixNano()
	i, found := slices.BinarySearch(a.times, v)
	switch {
	case found:
		return a.pos[i]
	case i == 0:
		return 0
	case i == n:
		return 1
	}
	frac := float64(v-a.times[i-1]) / float64(a.times[i]-a.times[i-1])
	return a.pos[i-1] + frac*(a.pos[i]-a.pos[i-1])
}

// time returns the moment at position p in [0, 1], the inverse of x.
func (a axis) time(p float64) time.Time {
	n := len(a.times)
	if n < 2 {
		return a.start()
	}
	i, _ := slices.BinarySearch(a.pos, p)
	switch {
	case i == 0:
		return a.at(0)
	case i == n:
		return a.at(n - 1)
	}
	frac := (p - a.pos[i-1]) / (a.pos[i] - a.pos[i-1])
	return time.Unix(0, a.times[i-1]+int64(frac*float64(a.times[i]-a.times[i-1]))).UTC()
}
