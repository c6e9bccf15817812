package rooms

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// closed reports whether a wake channel has been closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestWakeOnlyWhoSees(t *testing.T) {
	tests := []struct {
		name string
		act  func(w testWorld, id string)
		want []string
	}{
		{"message", func(w testWorld, id string) { w.say(t, bob, id, "hi") }, []string{alice, bob}},
		{"invite wakes the invitee", func(w testWorld, id string) { _ = w.Invite(alice, id, carol, "") }, []string{alice, bob, carol}},
		{"kick wakes the kicked", func(w testWorld, id string) { _ = w.Kick(alice, id, bob, "") }, []string{alice, bob}},
		{"account data", func(w testWorld, _ string) { _ = w.SetAccountData(alice, "x", json.RawMessage(`{}`)) }, []string{alice}},
		{"push rules", func(w testWorld, _ string) { _ = w.SetPushRuleEnabled(bob, "override", ".m.rule.master", true) }, []string{bob}},
		{"typing", func(w testWorld, id string) { _ = w.SetTyping(bob, id, true, time.Minute) }, []string{alice, bob}},
		{"public receipt", func(w testWorld, id string) {
			_ = w.SendReceipt(alice, id, "m.read", must(w.SetState(alice, id, StateEvent{Type: "x", Content: json.RawMessage(`{}`)})), "")
		}, []string{alice, bob}},
		{"presence", func(w testWorld, _ string) { _ = w.SetPresence(bob, "online", nil) }, []string{alice, bob}},
		{"presence of a loner", func(w testWorld, _ string) { _ = w.SetPresence(carol, "online", nil) }, []string{carol}},
		{"profile", func(w testWorld, _ string) { w.SetDisplayName(alice, "A") }, []string{alice, bob}},
		{"Notify from another package", func(w testWorld, _ string) { w.Notify(carol) }, []string{carol}},
		{"filter creation wakes nobody", func(w testWorld, _ string) { _, _ = w.CreateFilter(alice, json.RawMessage(`{}`)) }, nil},
		{"WakeAll", func(w testWorld, _ string) { w.WakeAll() }, []string{alice, bob, carol}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestStore(t)
			id := w.sharedRoom(t, "private_chat")
			chans := map[string]<-chan struct{}{alice: w.Wake(alice), bob: w.Wake(bob), carol: w.Wake(carol)}
			tt.act(w, id)
			for _, user := range []string{alice, bob, carol} {
				if got, want := closed(chans[user]), slices.Contains(tt.want, user); got != want {
					t.Errorf("%s woken = %v, want %v", user, got, want)
				}
			}
		})
	}
}

// poll runs LongPoll for a user from a token in the background and returns
// a channel with the sync that ended it (nil on timeout or cancel), once the
// poll has checked the state a first time.
func poll(ctx context.Context, w testWorld, user, since string, deadline time.Time) <-chan *SyncResponse {
	out := make(chan *SyncResponse, 1)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		var res *SyncResponse
		ok := w.LongPoll(ctx, user, deadline, func() bool {
			res, _ = w.Sync(SyncRequest{UserID: user, Since: since})
			once.Do(func() { close(started) })
			return !res.Empty()
		})
		if !ok {
			res = nil
		}
		out <- res
	}()
	<-started
	return out
}

// await returns what a poll sent, failing if nothing comes in a long while
// (a hang is the failure; no duration is measured).
func await(t *testing.T, ch <-chan *SyncResponse) *SyncResponse {
	t.Helper()
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll never ended")
		return nil
	}
}

func TestLongPoll(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch
	deadline := epoch.Add(30 * time.Second)

	t.Run("a message ends it", func(t *testing.T) {
		ch := poll(context.Background(), w, alice, tok, deadline)
		w.say(t, bob, id, "wake up")
		res := await(t, ch)
		if res == nil || !slices.Equal(bodies(res.Rooms.Join[id].Timeline.Events), []string{"wake up"}) {
			t.Fatalf("long-poll answer = %+v", res)
		}
		tok = res.NextBatch
	})
	t.Run("an unrelated change does not", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ch := poll(ctx, w, alice, tok, deadline)
		must(w.CreateRoom(carol, CreateRoomRequest{}))
		w.Notify(alice) // a wake-up with nothing new: the poll goes on waiting
		cancel()
		if res := await(t, ch); res != nil {
			t.Fatalf("the poll ended with %+v", res)
		}
	})
	t.Run("the virtual clock passing the deadline ends it", func(t *testing.T) {
		ch := poll(context.Background(), w, alice, tok, deadline)
		w.clk.Advance(31 * time.Second)
		w.ClockMoved()
		if res := await(t, ch); res != nil {
			t.Fatalf("the poll ended with %+v", res)
		}
	})
	t.Run("a past deadline answers at once", func(t *testing.T) {
		if w.LongPoll(context.Background(), alice, epoch, func() bool { return false }) {
			t.Fatal("LongPoll reported ready")
		}
	})
}

// TestConcurrentLife runs senders, syncing readers, typing, receipts,
// presence and profile changes at once (meant for -race): every reader must
// see every message exactly once, in send order per sender.
func TestConcurrentLife(t *testing.T) {
	w := newTestStore(t)
	id := must(w.CreateRoom(alice, CreateRoomRequest{Preset: "public_chat"}))
	const senders, readers, perSender = 4, 4, 50
	var users []string
	for i := range senders + readers {
		u := fmt.Sprintf("@u%d:example.org", i)
		must(w.JoinRoom(u, id))
		users = append(users, u)
	}
	start := w.syncOf(t, alice, "", nil).NextBatch
	var wg sync.WaitGroup
	results := make([][]string, readers)
	for r := range readers {
		user := users[senders+r]
		wg.Go(func() {
			tok := start
			f := &Filter{Room: &RoomFilter{Timeline: &RoomEventFilter{EventFilter: EventFilter{Limit: 1 << 20, Types: []string{"m.room.message"}}}}}
			for len(results[r]) < senders*perSender {
				var res *SyncResponse
				w.LongPoll(context.Background(), user, epoch.Add(time.Hour), func() bool {
					res = must(w.Sync(SyncRequest{UserID: user, Since: tok, Filter: f}))
					return len(res.Rooms.Join[id].Timeline.Events) > 0
				})
				results[r] = append(results[r], bodies(res.Rooms.Join[id].Timeline.Events)...)
				tok = res.NextBatch
				_ = w.SetTyping(user, id, len(results[r])%2 == 0, time.Second)
				_ = w.SetPresence(user, "online", nil)
			}
		})
	}
	for s := range senders {
		user := users[s]
		wg.Go(func() {
			for i := range perSender {
				ev := must(w.SendMessage(user, id, Send{DeviceID: "D", TxnID: fmt.Sprint(i), Type: "m.room.message", Content: text(fmt.Sprintf("%d/%d", s, i))}))
				_ = w.SendReceipt(user, id, "m.read", ev, "")
				if i%10 == 0 {
					w.SetDisplayName(user, fmt.Sprint(i))
					_, _ = w.Messages(user, id, MessagesQuery{Dir: "b", Limit: 5})
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			w.clk.Advance(time.Second)
			w.ClockMoved()
		}
	})
	wg.Wait()
	for r, got := range results {
		if len(got) != senders*perSender {
			t.Fatalf("reader %d saw %d messages, want %d", r, len(got), senders*perSender)
		}
		next := make([]int, senders)
		for _, b := range got {
			var s, i int
			_, _ = fmt.Sscanf(b, "%d/%d", &s, &i)
			if i != next[s] {
				t.Fatalf("reader %d saw %s out of order or twice", r, b)
			}
			next[s]++
		}
	}
}
