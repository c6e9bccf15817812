package journal

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func event(i int) Event {
	return Event{Time: epoch.Add(time.Duration(i) * time.Second), Kind: RuleFired, Rule: fmt.Sprintf("r%d", i)}
}

func rules(evs []Event) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Rule)
	}
	return fmt.Sprint(out)
}

// TestEventsRing: events are kept oldest first in a ring as large as the
// entries' one, counted when dropped, apart from the entries.
func TestEventsRing(t *testing.T) {
	j := New(3)
	if got := j.Events(); got == nil || len(got) != 0 {
		t.Fatalf("Events of a new journal = %#v, want empty and not nil", got)
	}
	for i := range 5 {
		j.Record(event(i))
	}
	j.Add(entry(0))
	if got := rules(j.Events()); got != "[r2 r3 r4]" {
		t.Errorf("Events = %s, want [r2 r3 r4]", got)
	}
	if got := j.DroppedEvents(); got != 2 {
		t.Errorf("DroppedEvents = %d, want 2", got)
	}
	if got := j.Dropped(); got != 0 {
		t.Errorf("Dropped = %d, want 0: events do not count as entries", got)
	}
	if got := j.Count(Filter{}); got != 1 {
		t.Errorf("Count = %d, want 1", got)
	}
	j.Reset()
	if got, d := j.Events(), j.DroppedEvents(); len(got) != 0 || d != 0 {
		t.Errorf("after Reset: Events = %v, DroppedEvents = %d, want none", got, d)
	}
}

// TestEventJSON: an event's JSON leaves out the fields its kind does not
// use, zero times included.
func TestEventJSON(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Time: epoch, Kind: RuleFired, Rule: "expire"},
			`{"seq":0,"time":"2026-01-02T03:04:05Z","kind":"rule_fired","rule":"expire"}`},
		{Event{Time: epoch, Kind: TokenRefreshed, UserID: "@a:x", DeviceID: "D", Auth: AuthOAuth, AccessExpires: epoch.Add(time.Minute), Refreshable: true},
			`{"seq":0,"time":"2026-01-02T03:04:05Z","kind":"token_refreshed","user_id":"@a:x","device_id":"D","auth":"oauth","access_expires":"2026-01-02T03:05:05Z","refreshable":true}`},
		{Event{Time: epoch, Kind: ClockMoved, From: epoch.Add(-time.Hour)},
			`{"seq":0,"time":"2026-01-02T03:04:05Z","kind":"clock_moved","from":"2026-01-02T02:04:05Z"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.ev)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.ev, b, err, tt.want)
		}
	}
}

// TestEntrySoftLogoutJSON: the soft_logout flag shows only when set.
func TestEntrySoftLogoutJSON(t *testing.T) {
	e := Entry{Time: epoch, Method: "GET", Path: "/w", Status: 401, Errcode: "M_UNKNOWN_TOKEN", SoftLogout: true}
	b, _ := json.Marshal(e)
	if want := `{"seq":0,"time":"2026-01-02T03:04:05Z","method":"GET","path":"/w","status":401,"errcode":"M_UNKNOWN_TOKEN","soft_logout":true}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	e.SoftLogout = false
	if b, _ := json.Marshal(e); string(b) != `{"seq":0,"time":"2026-01-02T03:04:05Z","method":"GET","path":"/w","status":401,"errcode":"M_UNKNOWN_TOKEN"}` {
		t.Errorf("Marshal without soft logout = %s", b)
	}
}

// TestEntryTokenOwnerJSON: the owner of a refused token shows only when
// known.
func TestEntryTokenOwnerJSON(t *testing.T) {
	e := Entry{Time: epoch, Method: "POST", Path: "/r", Status: 200, TokenUserID: "@a:x", TokenDeviceID: "D"}
	b, _ := json.Marshal(e)
	if want := `{"seq":0,"time":"2026-01-02T03:04:05Z","method":"POST","path":"/r","status":200,"token_user_id":"@a:x","token_device_id":"D"}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}

// TestSeq: entries and events share one order, which a Reset restarts.
func TestSeq(t *testing.T) {
	j := New(10)
	j.Add(entry(0))
	j.Record(event(1))
	j.Add(entry(2))
	got := fmt.Sprint(j.Entries(Filter{})[0].Seq, j.Events()[0].Seq, j.Entries(Filter{})[1].Seq)
	if got != "1 2 3" {
		t.Errorf("Seq of entry, event, entry = %s, want 1 2 3", got)
	}
	j.Reset()
	j.Record(event(3))
	if s := j.Events()[0].Seq; s != 1 {
		t.Errorf("Seq after Reset = %d, want 1", s)
	}
}
