package rooms

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	alice = "@alice:example.org"
	bob   = "@bob:example.org"
	carol = "@carol:example.org"
)

// world is a store on a virtual clock with sequential IDs.
type testWorld struct {
	*Store
	clk *clock.Clock
}

func newTestStore(t testing.TB) testWorld {
	t.Helper()
	clk := clock.Virtual(epoch)
	var n atomic.Int64
	s := New(Config{
		ServerName: "example.org",
		Now:        clk.Now,
		NewID:      func() string { return "id" + strconv.FormatInt(n.Add(1), 10) },
		UserExists: func(id string) bool { return id != "@ghost:example.org" },
	})
	return testWorld{Store: s, clk: clk}
}

// must returns v, or panics (failing the test at the caller's line) on an
// error: Go cannot pass a multi-value call after a *testing.T argument.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// wantErr checks that err matches want (nil: no error).
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// text is a m.room.message content.
func text(body string) json.RawMessage {
	return mustJSON(map[string]string{"msgtype": "m.text", "body": body})
}

// say sends a text message without a transaction ID.
func (w testWorld) say(t testing.TB, user, roomID, body string) string {
	t.Helper()
	return must(w.SendMessage(user, roomID, Send{Type: "m.room.message", Content: text(body)}))
}

// room creates a room for alice with bob joined.
func (w testWorld) sharedRoom(t testing.TB, preset string) string {
	t.Helper()
	id := must(w.CreateRoom(alice, CreateRoomRequest{Preset: preset, Invite: []string{bob}}))
	must(w.JoinRoom(bob, id))
	return id
}

// bodies returns the bodies of message events.
func bodies(evs []Event) []string {
	out := []string{}
	for _, e := range evs {
		if e.Type != "m.room.message" {
			continue
		}
		var c struct {
			Body string `json:"body"`
		}
		_ = json.Unmarshal(e.Content, &c)
		out = append(out, c.Body)
	}
	return out
}

// types returns the types of events.
func types(evs []Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// syncOf runs Sync and fails on error.
func (w testWorld) syncOf(t testing.TB, user, since string, f *Filter) *SyncResponse {
	t.Helper()
	return must(w.Sync(SyncRequest{UserID: user, DeviceID: "DEV", Since: since, Filter: f}))
}
