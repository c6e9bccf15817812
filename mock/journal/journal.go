// Package journal records the requests the mock homeserver answered, in a
// bounded ring, so tests can assert on what a client did and wait for it,
// and beside them the state events a timeline of a session draws (tokens
// issued, refreshed, ended; rules fired; the clock moved), in one order.
// It owns its entries and events and touches nothing else.
package journal

import (
	"context"
	"sync"
	"time"
)

// DefaultCapacity is the number of entries a journal keeps when New is given
// no positive capacity.
const DefaultCapacity = 10000

// Entry is one answered request.
type Entry struct {
	// Seq orders the entries and events of a journal as it recorded them,
	// from 1; a Reset starts again.
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`                // when the request was answered, on the server's clock
	Method    string    `json:"method"`              // HTTP method
	Path      string    `json:"path"`                // URL path, without the query
	Operation string    `json:"operation,omitempty"` // operationId, e.g. "refresh"; empty when no operation matched
	UserID    string    `json:"user_id,omitempty"`   // the authenticated user, if any
	DeviceID  string    `json:"device_id,omitempty"` // the authenticated device, if any
	Status    int       `json:"status"`              // HTTP status of the answer; 0 when a scenario dropped the connection
	Errcode   string    `json:"errcode,omitempty"`   // Matrix errcode of an error answer, e.g. "M_UNKNOWN_TOKEN"
	// SoftLogout is the soft_logout flag of a 401 M_UNKNOWN_TOKEN answer.
	SoftLogout bool `json:"soft_logout,omitempty"`
	// TokenUserID and TokenDeviceID name the device whose token the
	// request carried when that token did not authenticate it: an access
	// token refused (expired, soft-logged-out), or the refresh token of a
	// refresh. Empty when the token authenticated the request (see UserID
	// and DeviceID), or is unknown.
	TokenUserID   string `json:"token_user_id,omitempty"`
	TokenDeviceID string `json:"token_device_id,omitempty"`
}

// Filter selects entries. A zero field matches every entry; the others must
// all match (Since matches entries at or after it). UserID and DeviceID
// match the device that made the request: the one its token authenticated,
// else the one its refused or refresh token was issued to.
type Filter struct {
	Operation, Method, Path, UserID, DeviceID, Errcode string
	Status                                             int
	Since                                              time.Time
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Entry) bool {
	return (f.Operation == "" || f.Operation == e.Operation) &&
		(f.Method == "" || f.Method == e.Method) &&
		(f.Path == "" || f.Path == e.Path) &&
		(f.UserID == "" || f.UserID == e.UserID || e.UserID == "" && f.UserID == e.TokenUserID) &&
		(f.DeviceID == "" || f.DeviceID == e.DeviceID || e.DeviceID == "" && f.DeviceID == e.TokenDeviceID) &&
		(f.Errcode == "" || f.Errcode == e.Errcode) &&
		(f.Status == 0 || f.Status == e.Status) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since))
}

// Journal is a bounded, concurrency-safe request log: when full, each Add
// drops the oldest entry.
type Journal struct {
	mu      sync.Mutex
	seq     uint64 // the Seq of the last entry or event
	entries ring[Entry]
	events  ring[Event]
	added   chan struct{} // closed by the next Add; nil while nobody waits
}

// New returns an empty journal that keeps the latest capacity entries
// (DefaultCapacity when capacity <= 0).
func New(capacity int) *Journal {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Journal{entries: ring[Entry]{capacity: capacity}, events: ring[Event]{capacity: capacity}}
}

// Add records e, dropping the oldest entry when the journal is full, and wakes
// every Wait.
func (j *Journal) Add(e Entry) {
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	j.entries.add(e)
	if j.added != nil {
		close(j.added)
		j.added = nil
	}
	j.mu.Unlock()
}

// Entries returns the entries that match f, oldest first.
func (j *Journal) Entries(f Filter) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.matching(f)
}

// Count returns the number of entries that match f.
func (j *Journal) Count(f Filter) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	j.entries.all(func(e *Entry) bool {
		if f.Match(*e) {
			n++
		}
		return true
	})
	return n
}

// Wait blocks until at least n entries match f, then returns them all, oldest
// first. It returns ctx.Err() if ctx ends first.
func (j *Journal) Wait(ctx context.Context, f Filter, n int) ([]Entry, error) {
	for {
		j.mu.Lock()
		if got := j.matching(f); len(got) >= n {
			j.mu.Unlock()
			return got, nil
		}
		if j.added == nil {
			j.added = make(chan struct{})
		}
		added := j.added
		j.mu.Unlock()
		select {
		case <-added:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Dropped returns how many entries were dropped to make room since the
// journal was created or last reset.
func (j *Journal) Dropped() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entries.dropped
}

// Reset empties the journal, its events too, and zeroes the Dropped count.
func (j *Journal) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries.reset()
	j.events.reset()
	j.seq = 0
}

// matching returns the entries that match f, oldest first. j.mu must be held.
func (j *Journal) matching(f Filter) []Entry {
	var out []Entry
	j.entries.all(func(e *Entry) bool {
		if f.Match(*e) {
			out = append(out, *e)
		}
		return true
	})
	return out
}
