package limit_test

import (
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/limit"
)

func TestLimiter(t *testing.T) {
	clk := clock.Virtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := limit.New(limit.Rule{Failures: 3, Window: time.Minute}, clk)
	for i := range 3 {
		if w := l.Wait("user:a", "ip:1"); w != 0 {
			t.Fatalf("attempt %d: wait %v before the limit", i+1, w)
		}
		l.Fail("user:a", "ip:1")
		clk.Advance(time.Second)
	}
	if w := l.Wait("user:a"); w != 57*time.Second {
		t.Fatalf("wait %v after three failures, want 57s", w)
	}
	if w := l.Wait("user:b", "ip:1"); w != 57*time.Second {
		t.Fatalf("another user from the same address: wait %v, want 57s", w)
	}
	if w := l.Wait("user:b", "ip:2"); w != 0 {
		t.Fatalf("another user and address: wait %v", w)
	}
	clk.Advance(57 * time.Second)
	if w := l.Wait("user:a", "ip:1"); w != 0 {
		t.Fatalf("wait %v once the window is over", w)
	}
	l.Fail("user:a")
	if w := l.Wait("user:a"); w != 0 {
		t.Fatalf("one failure in a new window: wait %v", w)
	}
}

func TestLimiterOff(t *testing.T) {
	l := limit.New(limit.Rule{Failures: -1}, clock.Virtual(time.Time{}))
	for range 100 {
		l.Fail("k")
	}
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("no limit: wait %v", w)
	}
}
