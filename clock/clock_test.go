package clock

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestReal(t *testing.T) {
	c := Real()
	before := time.Now()
	got := c.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Fatalf("Real().Now() = %v, not between the surrounding time.Now calls", got)
	}
	if c.IsVirtual() {
		t.Fatal("Real().IsVirtual() = true")
	}
}

func TestRealMoves(t *testing.T) {
	c := Real()
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("after Advance(1h) the clock is %v ahead, want about 1h", d)
	}
	c.Set(epoch)
	if d := c.Now().Sub(epoch); d < 0 || d > time.Minute {
		t.Fatalf("after Set(epoch) the clock is %v past epoch, want a little", d)
	}
}

func TestVirtual(t *testing.T) {
	tests := []struct {
		name string
		move func(*Clock)
		want time.Time
	}{
		{"still", func(*Clock) {}, epoch},
		{"advance", func(c *Clock) { c.Advance(6 * time.Minute) }, epoch.Add(6 * time.Minute)},
		{"advance twice", func(c *Clock) { c.Advance(time.Second); c.Advance(2 * time.Second) }, epoch.Add(3 * time.Second)},
		{"backwards", func(c *Clock) { c.Advance(-time.Hour) }, epoch.Add(-time.Hour)},
		{"set", func(c *Clock) { c.Set(epoch.AddDate(1, 0, 0)) }, epoch.AddDate(1, 0, 0)},
		{"set then advance", func(c *Clock) { c.Set(epoch.Add(time.Hour)); c.Advance(time.Minute) }, epoch.Add(61 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Virtual(epoch)
			tt.move(c)
			if got := c.Now(); !got.Equal(tt.want) {
				t.Fatalf("Now() = %v, want %v", got, tt.want)
			}
			if !c.IsVirtual() {
				t.Fatal("IsVirtual() = false")
			}
		})
	}
}

func TestVirtualDoesNotMoveByItself(t *testing.T) {
	c := Virtual(epoch)
	time.Sleep(5 * time.Millisecond)
	if got := c.Now(); !got.Equal(epoch) {
		t.Fatalf("Now() = %v after sleeping, want %v", got, epoch)
	}
}

func TestVirtualConcurrent(t *testing.T) {
	c := Virtual(epoch)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), epoch.Add(3200*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
}

func TestReset(t *testing.T) {
	c := Real()
	c.Reset(true, epoch)
	if !c.IsVirtual() || !c.Now().Equal(epoch) {
		t.Fatalf("after Reset(true, epoch): virtual %v, now %v", c.IsVirtual(), c.Now())
	}
	c.Advance(time.Hour)
	c.Reset(false, epoch)
	if c.IsVirtual() {
		t.Fatal("after Reset(false): still virtual")
	}
	if d := time.Since(c.Now()); d < -time.Second || d > time.Second {
		t.Fatalf("after Reset(false) the clock is off the system clock by %v", d)
	}
}

// TestOnMove: every Advance and Set is heard, with the readings around it,
// by every func registered; Reset is not.
func TestOnMove(t *testing.T) {
	c := Virtual(epoch)
	var mu sync.Mutex
	var heard []string
	for _, name := range []string{"a", "b"} {
		c.OnMove(func(from, to time.Time) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, name+" "+from.Sub(epoch).String()+"→"+to.Sub(epoch).String())
		})
	}
	c.Advance(6 * time.Minute)
	c.Set(epoch.Add(time.Hour))
	c.Reset(true, epoch)
	want := "[a 0s→6m0s b 0s→6m0s a 6m0s→1h0m0s b 6m0s→1h0m0s]"
	if got := fmt.Sprint(heard); got != want {
		t.Errorf("heard %s, want %s", got, want)
	}

	r := Real()
	var jump time.Duration
	r.OnMove(func(from, to time.Time) { jump = to.Sub(from) })
	r.Advance(time.Hour)
	if jump != time.Hour {
		t.Errorf("a real clock's Advance(1h) was heard as %v", jump)
	}
}
