package storm

import (
	"sync/atomic"
	"testing"
)

// TestRun: every index is called once, and no call starts before all the
// goroutines exist (each sees the others running or done, never absent).
func TestRun(t *testing.T) {
	const n = 64
	var calls [n]atomic.Int32
	var total atomic.Int32
	Run(n, func(i int) {
		calls[i].Add(1)
		total.Add(1)
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("f(%d) called %d times", i, c)
		}
	}
	if total.Load() != n {
		t.Errorf("%d calls, want %d", total.Load(), n)
	}
}
