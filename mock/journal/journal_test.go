package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func entry(i int) Entry {
	return Entry{Time: epoch.Add(time.Duration(i) * time.Second), Method: "GET", Path: fmt.Sprintf("/p%d", i), Status: 200}
}

func paths(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}

func TestRing(t *testing.T) {
	tests := []struct {
		capacity, adds int
		wantPaths      string
		wantDropped    int
	}{
		{capacity: 3, adds: 0, wantPaths: "[]"},
		{capacity: 3, adds: 2, wantPaths: "[/p0 /p1]"},
		{capacity: 3, adds: 3, wantPaths: "[/p0 /p1 /p2]"},
		{capacity: 3, adds: 4, wantPaths: "[/p1 /p2 /p3]", wantDropped: 1},
		{capacity: 3, adds: 8, wantPaths: "[/p5 /p6 /p7]", wantDropped: 5},
		{capacity: 1, adds: 3, wantPaths: "[/p2]", wantDropped: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("cap%d_adds%d", tt.capacity, tt.adds), func(t *testing.T) {
			j := New(tt.capacity)
			for i := range tt.adds {
				j.Add(entry(i))
			}
			if got := fmt.Sprint(paths(j.Entries(Filter{}))); got != tt.wantPaths {
				t.Errorf("Entries = %s, want %s", got, tt.wantPaths)
			}
			if got := j.Dropped(); got != tt.wantDropped {
				t.Errorf("Dropped = %d, want %d", got, tt.wantDropped)
			}
		})
	}
}

func TestDefaultCapacity(t *testing.T) {
	for _, c := range []int{0, -1} {
		j := New(c)
		for i := range DefaultCapacity + 1 {
			j.Add(entry(i))
		}
		if got := j.Count(Filter{}); got != DefaultCapacity {
			t.Errorf("New(%d): Count = %d, want %d", c, got, DefaultCapacity)
		}
		if got := j.Dropped(); got != 1 {
			t.Errorf("New(%d): Dropped = %d, want 1", c, got)
		}
	}
}

func TestFilter(t *testing.T) {
	j := New(0)
	for _, e := range []Entry{
		{Time: epoch, Method: "POST", Path: "/login", Operation: "login", Status: 200, UserID: "@a:x", DeviceID: "A"},
		{Time: epoch.Add(time.Second), Method: "GET", Path: "/whoami", Operation: "getTokenOwner", Status: 200, UserID: "@a:x", DeviceID: "A"},
		{Time: epoch.Add(2 * time.Second), Method: "GET", Path: "/whoami", Operation: "getTokenOwner", Status: 401, Errcode: "M_UNKNOWN_TOKEN"},
		{Time: epoch.Add(3 * time.Second), Method: "POST", Path: "/refresh", Operation: "refresh", Status: 200, UserID: "@b:x", DeviceID: "B"},
	} {
		j.Add(e)
	}
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "[/login /whoami /whoami /refresh]"},
		{"operation", Filter{Operation: "getTokenOwner"}, "[/whoami /whoami]"},
		{"method", Filter{Method: "POST"}, "[/login /refresh]"},
		{"path", Filter{Path: "/refresh"}, "[/refresh]"},
		{"user", Filter{UserID: "@a:x"}, "[/login /whoami]"},
		{"device", Filter{DeviceID: "B"}, "[/refresh]"},
		{"errcode", Filter{Errcode: "M_UNKNOWN_TOKEN"}, "[/whoami]"},
		{"status", Filter{Status: 401}, "[/whoami]"},
		{"since is inclusive", Filter{Since: epoch.Add(2 * time.Second)}, "[/whoami /refresh]"},
		{"several fields", Filter{Operation: "getTokenOwner", Status: 200}, "[/whoami]"},
		{"none", Filter{Operation: "logout"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := j.Entries(tt.f)
			if s := fmt.Sprint(paths(got)); s != tt.want {
				t.Errorf("Entries = %s, want %s", s, tt.want)
			}
			if n := j.Count(tt.f); n != len(got) {
				t.Errorf("Count = %d, want %d", n, len(got))
			}
		})
	}
}

func TestReset(t *testing.T) {
	j := New(2)
	for i := range 5 {
		j.Add(entry(i))
	}
	j.Reset()
	if n, d := j.Count(Filter{}), j.Dropped(); n != 0 || d != 0 {
		t.Fatalf("after Reset: Count = %d, Dropped = %d, want 0, 0", n, d)
	}
	j.Add(entry(9))
	if got := fmt.Sprint(paths(j.Entries(Filter{}))); got != "[/p9]" {
		t.Fatalf("Entries after Reset and Add = %s", got)
	}
}

func TestWaitAlreadySatisfied(t *testing.T) {
	j := New(0)
	j.Add(entry(0))
	j.Add(entry(1))
	got, err := j.Wait(context.Background(), Filter{}, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("Wait = %d entries, %v; want 2, nil", len(got), err)
	}
}

func TestWaitWokenByConcurrentAdds(t *testing.T) {
	j := New(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const waiters, adders, perAdder = 8, 16, 50
	f := Filter{Status: 401}
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() {
			got, err := j.Wait(ctx, f, adders*perAdder)
			if err == nil && len(got) < adders*perAdder {
				err = fmt.Errorf("Wait returned %d entries", len(got))
			}
			errs <- err
		})
	}
	for a := range adders {
		wg.Go(func() {
			for i := range perAdder {
				j.Add(entry(a*perAdder + i))                                       // not matching
				j.Add(Entry{Time: epoch, Status: 401, Errcode: "M_UNKNOWN_TOKEN"}) // matching
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestWaitContextEnds(t *testing.T) {
	j := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := j.Wait(ctx, Filter{Operation: "refresh"}, 1)
		done <- err
	}()
	j.Add(entry(0)) // wakes the waiter, which goes back to sleep
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := j.Wait(ctx, Filter{Operation: "refresh"}, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
	}
}

func TestAddDoesNotAllocateWhenFull(t *testing.T) {
	j := New(16)
	e := entry(0)
	for range 16 {
		j.Add(e)
	}
	if n := testing.AllocsPerRun(1000, func() { j.Add(e) }); n != 0 {
		t.Fatalf("Add allocates %v times per call", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	j := New(0)
	e := Entry{Time: epoch, Method: "GET", Path: "/_matrix/client/v3/account/whoami", Operation: "getTokenOwner",
		UserID: "@alice:localhost", DeviceID: "ABCDEFGHIJ", Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j.Add(e)
		}
	})
}
