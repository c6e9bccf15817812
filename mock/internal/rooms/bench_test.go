package rooms

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkSendWakesSync measures one message from SendMessage to a waiting
// long-poll's Sync returning it: the store's share of a /sync woken by a
// message.
func BenchmarkSendWakesSync(b *testing.B) {
	w := newTestStore(b)
	id := w.sharedRoom(b, "private_chat")
	tok := w.syncOf(b, alice, "", nil).NextBatch
	got := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			var res *SyncResponse
			ok := w.LongPoll(ctx, alice, epoch.Add(time.Hour), func() bool {
				res = must(w.Sync(SyncRequest{UserID: alice, DeviceID: "DEV", Since: tok}))
				return !res.Empty()
			})
			if !ok {
				return
			}
			tok = res.NextBatch
			got <- struct{}{}
		}
	}()
	content := text("ping")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(w.SendMessage(bob, id, Send{DeviceID: "D", TxnID: fmt.Sprint(i), Type: "m.room.message", Content: content}))
		<-got
	}
}

// BenchmarkIncrementalSync measures an incremental Sync with one new
// message in one of 20 rooms with 200 events each.
func BenchmarkIncrementalSync(b *testing.B) {
	w := newTestStore(b)
	var target string
	for r := range 20 {
		target = w.sharedRoom(b, "private_chat")
		for i := range 200 {
			w.say(b, bob, target, fmt.Sprint(r, i))
		}
	}
	tok := w.syncOf(b, alice, "", nil).NextBatch
	w.say(b, bob, target, "new")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(w.Sync(SyncRequest{UserID: alice, Since: tok}))
	}
}

// TestHeapPerIdleWaiter measures 10,000 idle waiters: first the store's part
// alone (a wake channel and map entry per user), then with one goroutine
// each blocked in LongPoll, as the handler's would be (heap and stacks).
func TestHeapPerIdleWaiter(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("heap figures need a build without -race")
	}
	const n = 10000
	w := newTestStore(t)
	var before, after runtime.MemStats
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("@u%d:example.org", i)
	}

	// The store's own part: one wake channel and map entry per user.
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, u := range users {
		w.Wake(u)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	own := float64(after.HeapAlloc-before.HeapAlloc) / n
	w.WakeAll()
	if own > 512 {
		t.Errorf("the store holds %.0f bytes per waiting user, want at most 512", own)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var started, done sync.WaitGroup
	runtime.GC()
	runtime.ReadMemStats(&before)
	started.Add(n)
	for _, user := range users {
		done.Go(func() {
			first := true
			w.LongPoll(ctx, user, epoch.Add(time.Hour), func() bool {
				if first {
					first = false
					started.Done()
				}
				return false
			})
		})
	}
	started.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	stack := float64(after.StackInuse-before.StackInuse) / n
	w.wake.mu.Lock()
	held := len(w.wake.users)
	w.wake.mu.Unlock()
	cancel()
	done.Wait()
	t.Logf("per idle waiter: the store's part %.0f bytes; with a goroutine in LongPoll %.0f heap bytes and %.0f stack bytes (%d wake channels held)", own, heap, stack, held)
	if held != n {
		t.Fatalf("%d wake channels for %d waiters", held, n)
	}
	if heap > 1024 {
		t.Errorf("%.0f heap bytes per idle waiter, want at most 1 KiB", heap)
	}
	if heap+stack > 32<<10 {
		t.Errorf("%.0f bytes per idle waiter, want under 32 KiB", heap+stack)
	}
}
