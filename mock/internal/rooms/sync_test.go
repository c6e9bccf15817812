package rooms

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSyncLifecycle(t *testing.T) {
	w := newTestStore(t)
	aliceTok := w.syncOf(t, alice, "", nil).NextBatch
	bobTok := w.syncOf(t, bob, "", nil).NextBatch

	id := must(w.CreateRoom(alice, CreateRoomRequest{Name: "Chat", Invite: []string{bob}}))
	bres := w.syncOf(t, bob, bobTok, nil)
	inv, ok := bres.Rooms.Invite[id]
	if !ok {
		t.Fatalf("bob's sync lacks the invite: %+v", bres.Rooms)
	}
	var stripped []string
	for _, e := range inv.InviteState.Events {
		stripped = append(stripped, e.Type+"/"+e.StateKey)
	}
	for _, want := range []string{"m.room.create/", "m.room.name/", "m.room.member/" + alice, "m.room.member/" + bob} {
		if !slices.Contains(stripped, want) {
			t.Fatalf("invite state %v lacks %s", stripped, want)
		}
	}
	bobTok = bres.NextBatch
	if again := w.syncOf(t, bob, bobTok, nil); !again.Empty() {
		t.Fatalf("a sync with nothing new is not empty: %+v", again)
	}

	must(w.JoinRoom(bob, id))
	bres = w.syncOf(t, bob, bobTok, nil)
	jr, ok := bres.Rooms.Join[id]
	if !ok || len(bres.Rooms.Invite) != 0 {
		t.Fatalf("after joining, bob's sync = %+v", bres.Rooms)
	}
	if !slices.Contains(types(jr.State.Events), "m.room.create") {
		t.Fatalf("a newly joined room comes without its full state: %v", types(jr.State.Events))
	}
	if jr.Summary.JoinedMemberCount != 2 || !slices.Equal(jr.Summary.Heroes, []string{alice}) {
		t.Fatalf("summary = %+v", jr.Summary)
	}
	bobTok = bres.NextBatch

	ares := w.syncOf(t, alice, aliceTok, nil)
	aliceTok = ares.NextBatch
	msg := w.say(t, bob, id, "hello alice")
	ares = w.syncOf(t, alice, aliceTok, nil)
	ajr := ares.Rooms.Join[id]
	if got := bodies(ajr.Timeline.Events); !slices.Equal(got, []string{"hello alice"}) || ajr.Timeline.Limited || len(ajr.State.Events) != 0 {
		t.Fatalf("alice's incremental sync = %+v", ajr)
	}
	if ajr.UnreadNotifications.NotificationCount != 1 || ajr.UnreadNotifications.HighlightCount != 1 {
		t.Fatalf("unread = %+v, want 1 notification that highlights (body names alice)", ajr.UnreadNotifications)
	}
	if ajr.Timeline.Events[0].RoomID != "" || ajr.Timeline.Events[0].Unsigned.Age != 0 {
		t.Fatalf("sync events carry room_id or a wrong age: %+v", ajr.Timeline.Events[0])
	}
	aliceTok = ares.NextBatch

	// A receipt clears the count and reaches bob as ephemeral data.
	wantErr(t, w.SendReceipt(alice, id, "m.read", msg, ""), nil)
	bres = w.syncOf(t, bob, bobTok, nil)
	if eph := bres.Rooms.Join[id].Ephemeral.Events; len(eph) != 1 || eph[0].Type != "m.receipt" ||
		!strings.Contains(string(eph[0].Content), `"`+msg+`":{"m.read":{"`+alice+`":{"ts":`) {
		t.Fatalf("bob's ephemeral = %+v", eph)
	}
	bobTok = bres.NextBatch
	ares = w.syncOf(t, alice, aliceTok, nil)
	if u := ares.Rooms.Join[id].UnreadNotifications; u.NotificationCount != 0 {
		t.Fatalf("after the receipt, unread = %+v", u)
	}
	aliceTok = ares.NextBatch

	// Bob is kicked: the leave section ends his timeline.
	wantErr(t, w.Kick(alice, id, bob, "bye"), nil)
	w.say(t, alice, id, "bob cannot see this")
	bres = w.syncOf(t, bob, bobTok, nil)
	lr, ok := bres.Rooms.Leave[id]
	if !ok || len(bres.Rooms.Join) != 0 {
		t.Fatalf("after the kick, bob's sync = %+v", bres.Rooms)
	}
	last := lr.Timeline.Events[len(lr.Timeline.Events)-1]
	if last.Type != "m.room.member" || !strings.Contains(string(last.Content), `"leave"`) || slices.Contains(bodies(lr.Timeline.Events), "bob cannot see this") {
		t.Fatalf("bob's leave timeline = %+v", lr.Timeline.Events)
	}
	if later := w.syncOf(t, bob, bres.NextBatch, nil); !later.Empty() {
		t.Fatalf("after the leave was delivered, bob still gets %+v", later.Rooms)
	}
}

func TestSyncTimelineLimitAndPagination(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch
	for i := range 25 {
		w.say(t, bob, id, fmt.Sprint(i))
	}
	f := must(ParseFilter([]byte(`{"room":{"timeline":{"limit":5}}}`)))
	jr := w.syncOf(t, alice, tok, f).Rooms.Join[id]
	if got := bodies(jr.Timeline.Events); !slices.Equal(got, []string{"20", "21", "22", "23", "24"}) || !jr.Timeline.Limited {
		t.Fatalf("timeline = %v limited=%v", got, jr.Timeline.Limited)
	}
	// Paging back from prev_batch reaches every message exactly once.
	var seen []string
	from := jr.Timeline.PrevBatch
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		m := must(w.Messages(alice, id, MessagesQuery{From: from, Dir: "b", Limit: 7}))
		seen = append(seen, bodies(m.Chunk)...)
		if m.End == "" {
			break
		}
		from = m.End
	}
	var want []string
	for i := 19; i >= 0; i-- {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("backward pages = %v\nwant %v", seen, want)
	}
	// Forwards from the sync token before the messages, bounded by to.
	fwd := must(w.Messages(alice, id, MessagesQuery{From: tok, To: jr.Timeline.PrevBatch, Dir: "f", Limit: 100}))
	if got := bodies(fwd.Chunk); len(got) != 20 || got[0] != "0" || got[19] != "19" || fwd.End != "" {
		t.Fatalf("forward page = %v end=%q", got, fwd.End)
	}
	// A filter limit overrides the query's.
	lim := must(w.Messages(alice, id, MessagesQuery{Dir: "b", Limit: 3, Filter: &RoomEventFilter{EventFilter: EventFilter{Limit: 2, Types: []string{"m.room.*"}}}}))
	if got := bodies(lim.Chunk); !slices.Equal(got, []string{"24", "23"}) || lim.End == "" {
		t.Fatalf("filtered page = %v", got)
	}
	for _, q := range []MessagesQuery{{Dir: "x"}, {Dir: "b", From: "garbage"}} {
		_, err := w.Messages(alice, id, q)
		wantErr(t, err, ErrInvalidParam)
	}
	_, err := w.Messages(carol, id, MessagesQuery{Dir: "b"})
	wantErr(t, err, ErrForbidden)
}

func TestSyncStateSections(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch
	must(w.SetState(alice, id, StateEvent{Type: "m.room.topic", Content: json.RawMessage(`{"topic":"gap"}`)}))
	for i := range 3 {
		w.say(t, bob, id, fmt.Sprint(i))
	}
	f := must(ParseFilter([]byte(`{"room":{"timeline":{"limit":2}}}`)))
	tests := []struct {
		name      string
		fullState bool
		filter    *Filter
		wantState []string
	}{
		{"limited: the state changes in the gap", false, f, []string{"m.room.topic"}},
		{"full_state: everything", true, f, []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.member", "m.room.topic"}},
		{"full_state with lazy members: only the senders and self", true, must(ParseFilter([]byte(`{"room":{"timeline":{"limit":2},"state":{"lazy_load_members":true,"types":["m.room.member","m.room.topic"]}}}`))), []string{"m.room.member", "m.room.member", "m.room.topic"}},
		{"not limited: nothing", false, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := must(w.Sync(SyncRequest{UserID: alice, Since: tok, FullState: tt.fullState, Filter: tt.filter}))
			if got := types(res.Rooms.Join[id].State.Events); !slices.Equal(got, tt.wantState) {
				t.Fatalf("state = %v, want %v", got, tt.wantState)
			}
		})
	}
	lazy := must(ParseFilter([]byte(`{"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}}}`)))
	must(w.JoinRoom(carol, must(w.CreateRoom(alice, CreateRoomRequest{Preset: "public_chat"}))))
	for _, e := range w.syncOf(t, alice, "", lazy).Rooms.Join[id].State.Events {
		if e.Type == "m.room.member" && *e.StateKey != alice && *e.StateKey != bob {
			t.Fatalf("lazy loading sent %s's member event", *e.StateKey)
		}
	}
}

func TestSyncEphemeralAndAccountData(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch

	wantErr(t, w.SetTyping(bob, id, true, 30*time.Second), nil)
	wantErr(t, w.SetTyping(carol, id, true, time.Second), ErrForbidden)
	res := w.syncOf(t, alice, tok, nil)
	if eph := res.Rooms.Join[id].Ephemeral.Events; len(eph) != 1 || string(eph[0].Content) != `{"user_ids":["`+bob+`"]}` {
		t.Fatalf("typing = %+v", eph)
	}
	tok = res.NextBatch
	w.clk.Advance(31 * time.Second)
	w.ClockMoved()
	res = w.syncOf(t, alice, tok, nil)
	if eph := res.Rooms.Join[id].Ephemeral.Events; len(eph) != 1 || string(eph[0].Content) != `{"user_ids":[]}` {
		t.Fatalf("after the timeout, typing = %+v", eph)
	}
	tok = res.NextBatch

	wantErr(t, w.SetAccountData(alice, "m.direct", json.RawMessage(`{"`+bob+`":["`+id+`"]}`)), nil)
	wantErr(t, w.SetRoomAccountData(alice, id, "m.tag", json.RawMessage(`{"tags":{"u.work":{}}}`)), nil)
	wantErr(t, w.SetAccountData(alice, "m.push_rules", json.RawMessage(`{}`)), ErrServerControlled)
	wantErr(t, w.SetRoomAccountData(alice, id, "m.fully_read", json.RawMessage(`{}`)), ErrServerControlled)
	wantErr(t, w.SetRoomAccountData(alice, "bad", "m.tag", json.RawMessage(`{}`)), ErrInvalidParam)
	wantErr(t, w.SetAccountData(alice, "x", json.RawMessage(`[1]`)), ErrBadJSON)
	res = w.syncOf(t, alice, tok, nil)
	if got := res.AccountData.Events; len(got) != 1 || got[0].Type != "m.direct" {
		t.Fatalf("global account data = %+v", got)
	}
	if got := res.Rooms.Join[id].AccountData.Events; len(got) != 1 || got[0].Type != "m.tag" {
		t.Fatalf("room account data = %+v", got)
	}
	if d := must(w.AccountData(alice, "m.direct")); !strings.Contains(string(d), id) {
		t.Fatalf("account data = %s", d)
	}
	_, err := w.RoomAccountData(alice, id, "nope")
	wantErr(t, err, ErrNotFound)

	// Read markers: m.fully_read as room account data, the receipt public.
	msg := w.say(t, bob, id, "read me")
	tok = res.NextBatch
	wantErr(t, w.SetReadMarkers(alice, id, msg, msg, ""), nil)
	res = w.syncOf(t, alice, tok, nil)
	jr := res.Rooms.Join[id]
	if got := jr.AccountData.Events; len(got) != 1 || got[0].Type != "m.fully_read" || !strings.Contains(string(got[0].Content), msg) {
		t.Fatalf("room account data after read markers = %+v", got)
	}
	if jr.UnreadNotifications.NotificationCount != 0 {
		t.Fatalf("unread after read markers = %+v", jr.UnreadNotifications)
	}
	// A bad event in read markers changes nothing.
	msg3 := w.say(t, bob, id, "unread")
	wantErr(t, w.SetReadMarkers(alice, id, "$nope", msg3, ""), ErrNotFound)
	if u := w.syncOf(t, alice, "", nil).Rooms.Join[id].UnreadNotifications; u.NotificationCount != 1 {
		t.Fatalf("a failed read marker call moved the receipt: unread = %+v", u)
	}
	// A private receipt is seen by its owner only.
	msg2 := w.say(t, bob, id, "again")
	btok := w.syncOf(t, bob, "", nil).NextBatch
	wantErr(t, w.SendReceipt(alice, id, "m.read.private", msg2, "main"), nil)
	if b := w.syncOf(t, bob, btok, nil); !b.Empty() {
		t.Fatalf("bob sees alice's private receipt: %+v", b.Rooms.Join[id].Ephemeral)
	}
	wantErr(t, w.SendReceipt(alice, id, "m.unknown", msg2, ""), ErrInvalidParam)
	wantErr(t, w.SendReceipt(alice, id, "m.read", "$nope", ""), ErrNotFound)
}

func TestPresenceAndProfile(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch
	ctok := w.syncOf(t, carol, "", nil).NextBatch
	busy := "busy"
	wantErr(t, w.SetPresence(bob, "unavailable", &busy), nil)
	wantErr(t, w.SetPresence(bob, "asleep", nil), ErrInvalidParam)
	res := w.syncOf(t, alice, tok, nil)
	if p := res.Presence.Events; len(p) != 1 || p[0].Sender != bob || !strings.Contains(string(p[0].Content), `"status_msg":"busy"`) {
		t.Fatalf("presence = %+v", p)
	}
	if c := w.syncOf(t, carol, ctok, nil); !c.Empty() {
		t.Fatal("carol, who shares no room with bob, sees his presence")
	}
	got := must(w.Presence(bob))
	if got.Presence != "unavailable" || *got.StatusMsg != "busy" {
		t.Fatalf("presence = %+v", got)
	}
	if p := must(w.Presence(carol)); p.Presence != "offline" {
		t.Fatalf("unset presence = %+v", p)
	}

	tok = res.NextBatch
	w.SetDisplayName(bob, "Bobby")
	w.SetAvatarURL(bob, "mxc://example.org/b")
	if p := must(w.Profile(bob)); p.DisplayName != "Bobby" || p.AvatarURL != "mxc://example.org/b" {
		t.Fatalf("profile = %+v", p)
	}
	_, err := w.Profile("@ghost:example.org")
	wantErr(t, err, ErrNotFound)
	tl := w.syncOf(t, alice, tok, nil).Rooms.Join[id].Timeline.Events
	if len(tl) != 2 || !strings.Contains(string(tl[1].Content), `"displayname":"Bobby"`) || tl[1].Unsigned.PrevContent == nil {
		t.Fatalf("profile changes in alice's timeline = %+v", tl)
	}
	if jm := must(w.JoinedMembers(alice, id)); jm[bob].AvatarURL != "mxc://example.org/b" {
		t.Fatalf("joined members = %+v", jm)
	}
}

func TestContext(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	var ids []string
	for i := range 10 {
		ids = append(ids, w.say(t, alice, id, fmt.Sprint(i)))
	}
	c := must(w.Context(bob, id, ids[5], 4, ""))
	if got := bodies(c.EventsBefore); !slices.Equal(got, []string{"4", "3"}) {
		t.Fatalf("events before = %v", got)
	}
	if got := bodies(c.EventsAfter); !slices.Equal(got, []string{"6", "7"}) {
		t.Fatalf("events after = %v", got)
	}
	if c.Event.EventID != ids[5] || c.Event.RoomID != id || len(c.State) == 0 {
		t.Fatalf("context = %+v", c)
	}
	// The tokens continue where the context ends.
	next := must(w.Messages(bob, id, MessagesQuery{From: c.End, Dir: "f", Limit: 1}))
	prev := must(w.Messages(bob, id, MessagesQuery{From: c.Start, Dir: "b", Limit: 1}))
	if bodies(next.Chunk)[0] != "8" || bodies(prev.Chunk)[0] != "2" {
		t.Fatalf("after end: %v, before start: %v", bodies(next.Chunk), bodies(prev.Chunk))
	}
	_, err := w.Context(bob, id, "$nope", 4, "")
	wantErr(t, err, ErrNotFound)
	_, err = w.EventByID(carol, id, ids[0])
	wantErr(t, err, ErrForbidden)
}

func TestSyncTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"s0", 0, nil},
		{"s42", 42, nil},
		{"s42_k7", 42, nil},
		{"42", 0, ErrInvalidParam},
		{"s-1", 0, ErrInvalidParam},
		{"sx", 0, ErrInvalidParam},
		{"", 0, ErrInvalidParam},
	}
	for _, tt := range tests {
		got, err := ParseToken(tt.in)
		if got != tt.want || (err == nil) != (tt.err == nil) {
			t.Errorf("ParseToken(%q) = %d, %v", tt.in, got, err)
		}
	}
	w := newTestStore(t)
	_, err := w.Sync(SyncRequest{UserID: alice, Since: "bogus"})
	wantErr(t, err, ErrInvalidParam)
}

func TestReset(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "public_chat")
	tok := w.syncOf(t, alice, "", nil).NextBatch
	ch := w.Wake(alice)
	w.Reset()
	select {
	case <-ch:
	default:
		t.Fatal("Reset did not wake the waiters")
	}
	if rooms := w.JoinedRooms(alice); len(rooms) != 0 {
		t.Fatalf("after Reset alice is in %v", rooms)
	}
	_, err := w.JoinRoom(bob, id)
	wantErr(t, err, ErrNotFound)
	if res := w.syncOf(t, alice, tok, nil); !res.Empty() || must(ParseToken(res.NextBatch)) <= must(ParseToken(tok)) {
		t.Fatalf("after Reset an old token gets %+v", res)
	}
}

func TestUnreadCounts(t *testing.T) {
	w := newTestStore(t)
	id := must(w.CreateRoom(alice, CreateRoomRequest{Preset: "public_chat"}))
	w.say(t, alice, id, "before carol joined")
	must(w.JoinRoom(carol, id))
	counts := func() UnreadCounts { return w.syncOf(t, carol, "", nil).Rooms.Join[id].UnreadNotifications }
	steps := []struct {
		name string
		act  func()
		want UnreadCounts
	}{
		{"history before the join does not count", func() {}, UnreadCounts{}},
		{"a message from another", func() { w.say(t, alice, id, "hi") }, UnreadCounts{NotificationCount: 1}},
		{"a mention highlights", func() {
			must(w.SendMessage(alice, id, Send{Type: "m.room.message", Content: json.RawMessage(`{"body":"x","m.mentions":{"user_ids":["` + carol + `"]}}`)}))
		}, UnreadCounts{NotificationCount: 2, HighlightCount: 1}},
		{"her own messages and state do not count", func() {
			w.say(t, carol, id, "me")
			w.SetDisplayName(carol, "C")
		}, UnreadCounts{NotificationCount: 2, HighlightCount: 1}},
		{"a redaction uncounts", func() {
			last := w.syncOf(t, carol, "", nil).Rooms.Join[id].Timeline.Events
			var mention string
			for _, e := range last {
				if strings.Contains(string(e.Content), "m.mentions") {
					mention = e.EventID
				}
			}
			must(w.Redact(alice, id, mention, "", Send{}))
		}, UnreadCounts{NotificationCount: 1}},
		{"a read receipt on the latest clears", func() {
			tl := w.syncOf(t, carol, "", nil).Rooms.Join[id].Timeline.Events
			_ = w.SendReceipt(carol, id, "m.read.private", tl[len(tl)-1].EventID, "")
		}, UnreadCounts{}},
		{"counting resumes after the receipt", func() { w.say(t, alice, id, "Carol?") }, UnreadCounts{NotificationCount: 1, HighlightCount: 1}},
	}
	for _, st := range steps {
		st.act()
		if got := counts(); got != st.want {
			t.Fatalf("%s: counts = %+v, want %+v", st.name, got, st.want)
		}
	}
}

func TestLeavingStopsTyping(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	wantErr(t, w.SetTyping(bob, id, true, time.Minute), nil)
	tok := w.syncOf(t, alice, "", nil).NextBatch
	wantErr(t, w.Leave(bob, id, ""), nil)
	eph := w.syncOf(t, alice, tok, nil).Rooms.Join[id].Ephemeral.Events
	if len(eph) != 1 || string(eph[0].Content) != `{"user_ids":[]}` {
		t.Fatalf("after bob left, typing = %+v", eph)
	}
}

func TestLazyMembersInIncrementalSync(t *testing.T) {
	w := newTestStore(t)
	id := must(w.CreateRoom(alice, CreateRoomRequest{Preset: "public_chat"}))
	must(w.JoinRoom(bob, id))
	must(w.JoinRoom(carol, id))
	for range 3 {
		w.say(t, alice, id, "filler")
	}
	lazy := must(ParseFilter([]byte(`{"room":{"timeline":{"limit":2},"state":{"lazy_load_members":true},"ephemeral":{"not_types":["m.typing"]},"account_data":{"types":["m.tag"]}}}`)))
	tok := w.syncOf(t, alice, "", lazy).NextBatch
	w.say(t, carol, id, "carol speaks")
	_ = w.SetTyping(bob, id, true, time.Minute)
	_ = w.SetRoomAccountData(alice, id, "m.other", json.RawMessage(`{}`))
	jr := w.syncOf(t, alice, tok, lazy).Rooms.Join[id]
	var keys []string
	for _, e := range jr.State.Events {
		keys = append(keys, e.Type+"/"+*e.StateKey)
	}
	if !slices.Equal(keys, []string{"m.room.member/" + carol}) {
		t.Fatalf("lazy incremental state = %v, want carol's member event only", keys)
	}
	if len(jr.Ephemeral.Events) != 0 || len(jr.AccountData.Events) != 0 {
		t.Fatalf("filtered out sections came back: %+v %+v", jr.Ephemeral, jr.AccountData)
	}
}
