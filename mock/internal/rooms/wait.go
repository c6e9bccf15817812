package rooms

import (
	"context"
	"sync"
	"time"
)

// waiters holds one channel per user with someone waiting; notify closes it
// and forgets it, so the next waiter gets a fresh one. An idle long-poll
// costs its user's share of one map entry and one channel.
type waiters struct {
	mu    sync.Mutex
	users map[string]chan struct{}
}

func (w *waiters) init() { w.users = make(map[string]chan struct{}) }

// channel returns the user's current channel.
func (w *waiters) channel(userID string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := w.users[userID]
	if ch == nil {
		ch = make(chan struct{})
		w.users[userID] = ch
	}
	return ch
}

// notify closes the channels of the given users (repeats are fine).
func (w *waiters) notify(userIDs ...string) {
	if len(userIDs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range userIDs {
		if ch := w.users[id]; ch != nil {
			close(ch)
			delete(w.users, id)
		}
	}
}

// all closes every channel.
func (w *waiters) all() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, ch := range w.users {
		close(ch)
		delete(w.users, id)
	}
}

// Wake returns a channel closed at the next change the user can see, at the
// next Notify naming them, or at WakeAll. Take it before reading the state
// (before Sync), so that no change slips between the read and the wait.
func (s *Store) Wake(userID string) <-chan struct{} { return s.wake.channel(userID) }

// Notify wakes the given users' waiters, for changes kept outside this
// package (to-device messages, device lists, one-time key counts).
func (s *Store) Notify(userIDs ...string) { s.wake.notify(userIDs...) }

// WakeAll wakes every waiter, so each re-checks its deadline; ClockMoved
// calls it.
func (s *Store) WakeAll() { s.wake.all() }

// LongPoll waits until ready reports true, the store's clock reaches
// deadline, or ctx ends, and reports whether ready did. ready is called at
// once and again after every wake-up of the user; it typically runs Sync
// (and the keys package's part of the response) and reports whether there
// is anything to send. The store's clock may be virtual: the deadline is
// re-checked when ClockMoved wakes the waiters, and the handler bounds the
// wait in real time through ctx.
func (s *Store) LongPoll(ctx context.Context, userID string, deadline time.Time, ready func() bool) bool {
	for {
		ch := s.Wake(userID)
		if ready() {
			return true
		}
		if !s.cfg.Now().Before(deadline) {
			return false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
