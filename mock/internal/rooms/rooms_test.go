package rooms

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCreateRoomPresets(t *testing.T) {
	tests := []struct {
		name       string
		req        CreateRoomRequest
		wantTypes  []string
		joinRule   string
		bobLevel   int
		inDirector bool
	}{
		{
			name:      "private_chat",
			req:       CreateRoomRequest{Preset: "private_chat", Name: "N", Topic: "T", Invite: []string{bob}, IsDirect: true},
			wantTypes: []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.name", "m.room.topic", "m.room.member"},
			joinRule:  "invite",
		},
		{
			name:      "trusted_private_chat makes invitees admins",
			req:       CreateRoomRequest{Preset: "trusted_private_chat", Invite: []string{bob}},
			wantTypes: []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.member"},
			joinRule:  "invite",
			bobLevel:  100,
		},
		{
			name:       "public visibility defaults to public_chat, with alias and initial state",
			req:        CreateRoomRequest{Visibility: "public", RoomAliasName: "town", InitialState: []StateEvent{{Type: "m.room.encryption", Content: json.RawMessage(`{"algorithm":"m.megolm.v1.aes-sha2"}`)}}},
			wantTypes:  []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.canonical_alias", "m.room.join_rules", "m.room.history_visibility", "m.room.encryption"},
			joinRule:   "public",
			inDirector: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestStore(t)
			id := must(w.CreateRoom(alice, tt.req))
			if !strings.HasPrefix(id, "!") || !strings.HasSuffix(id, ":example.org") {
				t.Fatalf("room ID %q lacks the sigil or server name", id)
			}
			res := w.syncOf(t, alice, "", nil)
			jr := res.Rooms.Join[id]
			all := append(append([]Event{}, jr.State.Events...), jr.Timeline.Events...)
			if got := types(all); !slices.Equal(got, tt.wantTypes) {
				t.Fatalf("events = %v\nwant %v", got, tt.wantTypes)
			}
			for _, e := range all {
				if !strings.HasPrefix(e.EventID, "$") || e.Sender != alice || e.OriginServerTS != epoch.UnixMilli() {
					t.Fatalf("event %+v: bad ID, sender or timestamp", e)
				}
			}
			jrule := must(w.StateEvent(alice, id, "m.room.join_rules", ""))
			if !strings.Contains(string(jrule.Content), `"`+tt.joinRule+`"`) {
				t.Fatalf("join rules %s, want %s", jrule.Content, tt.joinRule)
			}
			var pl powerLevels
			_ = json.Unmarshal(must(w.StateEvent(alice, id, "m.room.power_levels", "")).Content, &pl)
			if pl.Users[alice] != 100 || pl.userLevel(bob) != tt.bobLevel {
				t.Fatalf("power levels users = %v", pl.Users)
			}
			if vis := must(w.Visibility(id)); (vis == "public") != tt.inDirector {
				t.Fatalf("visibility = %s", vis)
			}
			if tt.req.RoomAliasName != "" {
				got, servers := must2(w.ResolveAlias("#" + tt.req.RoomAliasName + ":example.org"))
				if got != id || !slices.Equal(servers, []string{"example.org"}) {
					t.Fatalf("alias resolves to %s %v", got, servers)
				}
			}
			if tt.req.IsDirect {
				inv := must(w.StateEvent(alice, id, "m.room.member", bob))
				if !strings.Contains(string(inv.Content), `"is_direct":true`) || !strings.Contains(string(inv.Content), `"invite"`) {
					t.Fatalf("invite content %s lacks is_direct", inv.Content)
				}
			}
		})
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func TestCreateRoomErrors(t *testing.T) {
	tests := []struct {
		name string
		req  CreateRoomRequest
		want error
	}{
		{"unknown preset", CreateRoomRequest{Preset: "party"}, ErrInvalidParam},
		{"bad visibility", CreateRoomRequest{Visibility: "secret"}, ErrInvalidParam},
		{"alias taken", CreateRoomRequest{RoomAliasName: "taken"}, ErrRoomInUse},
		{"alias with colon", CreateRoomRequest{RoomAliasName: "a:b"}, ErrInvalidParam},
		{"unknown invitee", CreateRoomRequest{Invite: []string{"@ghost:example.org"}}, ErrUnknownUser},
		{"malformed invitee", CreateRoomRequest{Invite: []string{"bob"}}, ErrInvalidParam},
		{"inviting oneself", CreateRoomRequest{Invite: []string{alice}}, ErrInvalidParam},
		{"membership in initial state", CreateRoomRequest{InitialState: []StateEvent{{Type: "m.room.member", StateKey: bob, Content: json.RawMessage(`{"membership":"join"}`)}}}, ErrInvalidParam},
		{"initial state not an object", CreateRoomRequest{InitialState: []StateEvent{{Type: "x", Content: json.RawMessage(`[]`)}}}, ErrBadJSON},
		{"creation content not an object", CreateRoomRequest{CreationContent: json.RawMessage(`3`)}, ErrBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestStore(t)
			must(w.CreateRoom(carol, CreateRoomRequest{RoomAliasName: "taken"}))
			_, err := w.CreateRoom(alice, tt.req)
			wantErr(t, err, tt.want)
			if rooms := w.JoinedRooms(alice); len(rooms) != 0 {
				t.Fatalf("a failed createRoom left rooms %v", rooms)
			}
		})
	}
}

func TestMembership(t *testing.T) {
	tests := []struct {
		name string
		// act runs on a world where alice created a private room (id) and a
		// public room (pub); it returns the error of the step under test.
		act  func(w testWorld, id, pub string) error
		want error
		// bobIn is bob's membership in id afterwards.
		bobIn string
	}{
		{"join public room", func(w testWorld, _, pub string) error { _, err := w.JoinRoom(bob, pub); return err }, nil, ""},
		{"join private room uninvited", func(w testWorld, id, _ string) error { _, err := w.JoinRoom(bob, id); return err }, ErrForbidden, ""},
		{"join unknown room", func(w testWorld, _, _ string) error { _, err := w.JoinRoom(bob, "!nope:example.org"); return err }, ErrNotFound, ""},
		{"join by unknown alias", func(w testWorld, _, _ string) error { _, err := w.JoinRoom(bob, "#nope:example.org"); return err }, ErrNotFound, ""},
		{"join by alias", func(w testWorld, _, pub string) error {
			got, err := w.JoinRoom(bob, "#pub:example.org")
			if got != pub {
				return errf(ErrForbidden, "joined %s", got)
			}
			return err
		}, nil, ""},
		{"invite then join", func(w testWorld, id, _ string) error {
			if err := w.Invite(alice, id, bob, ""); err != nil {
				return err
			}
			_, err := w.JoinRoom(bob, id)
			return err
		}, nil, "join"},
		{"invite unknown user", func(w testWorld, id, _ string) error { return w.Invite(alice, id, "@ghost:example.org", "") }, ErrUnknownUser, ""},
		{"invite by non-member", func(w testWorld, id, _ string) error { return w.Invite(carol, id, bob, "") }, ErrForbidden, ""},
		{"reject invite", func(w testWorld, id, _ string) error {
			_ = w.Invite(alice, id, bob, "")
			return w.Leave(bob, id, "no thanks")
		}, nil, "leave"},
		{"leave a room never joined", func(w testWorld, id, _ string) error { return w.Leave(bob, id, "") }, ErrForbidden, ""},
		{"kick", func(w testWorld, id, _ string) error {
			_ = w.Invite(alice, id, bob, "")
			_, _ = w.JoinRoom(bob, id)
			return w.Kick(alice, id, bob, "bye")
		}, nil, "leave"},
		{"kick without power", func(w testWorld, id, _ string) error {
			_ = w.Invite(alice, id, bob, "")
			_, _ = w.JoinRoom(bob, id)
			return w.Kick(bob, id, alice, "")
		}, ErrForbidden, "join"},
		{"ban then join", func(w testWorld, id, _ string) error {
			_ = w.Ban(alice, id, bob, "")
			_, err := w.JoinRoom(bob, id)
			return err
		}, ErrForbidden, "ban"},
		{"ban, unban, invite, join", func(w testWorld, id, _ string) error {
			_ = w.Ban(alice, id, bob, "")
			if err := w.Unban(alice, id, bob, ""); err != nil {
				return err
			}
			_ = w.Invite(alice, id, bob, "")
			_, err := w.JoinRoom(bob, id)
			return err
		}, nil, "join"},
		{"invite a banned user", func(w testWorld, id, _ string) error {
			_ = w.Ban(alice, id, bob, "")
			return w.Invite(alice, id, bob, "")
		}, ErrForbidden, "ban"},
		{"forget while joined", func(w testWorld, id, _ string) error { return w.Forget(alice, id) }, ErrStillJoined, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestStore(t)
			id := must(w.CreateRoom(alice, CreateRoomRequest{}))
			pub := must(w.CreateRoom(alice, CreateRoomRequest{Preset: "public_chat", RoomAliasName: "pub"}))
			wantErr(t, tt.act(w, id, pub), tt.want)
			if got := must(w.Store.State(alice, id)); len(got) == 0 {
				t.Fatal("no state")
			}
			mem := ""
			if e, err := w.StateEvent(alice, id, "m.room.member", bob); err == nil {
				var c struct{ Membership string }
				_ = json.Unmarshal(e.Content, &c)
				mem = c.Membership
			}
			if mem != tt.bobIn {
				t.Fatalf("bob's membership = %q, want %q", mem, tt.bobIn)
			}
		})
	}
}

func TestJoinedRoomsMembersForget(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	must(w.CreateRoom(bob, CreateRoomRequest{}))
	if got := w.JoinedRooms(alice); !slices.Equal(got, []string{id}) {
		t.Fatalf("alice's joined rooms = %v", got)
	}
	if got := w.JoinedRooms(bob); len(got) != 2 {
		t.Fatalf("bob's joined rooms = %v", got)
	}
	before := w.syncOf(t, alice, "", nil).NextBatch
	wantErr(t, w.Invite(alice, id, carol, ""), nil)
	tests := []struct {
		q    MembersQuery
		want int
	}{
		{MembersQuery{}, 3},
		{MembersQuery{Membership: "join"}, 2},
		{MembersQuery{NotMembership: "join"}, 1},
		{MembersQuery{At: before}, 2},
	}
	for _, tt := range tests {
		if got := must(w.Members(alice, id, tt.q)); len(got) != tt.want {
			t.Errorf("Members(%+v) = %d events, want %d", tt.q, len(got), tt.want)
		}
	}
	jm := must(w.JoinedMembers(alice, id))
	if len(jm) != 2 || jm[bob].DisplayName != "bob" {
		t.Fatalf("joined members = %+v", jm)
	}
	_, err := w.Members(carol, id, MembersQuery{})
	wantErr(t, err, ErrForbidden)

	wantErr(t, w.Leave(bob, id, ""), nil)
	if got := w.JoinedRooms(bob); len(got) != 1 {
		t.Fatalf("after leaving, bob's joined rooms = %v", got)
	}
	// Bob still reads the history up to his leave, not after.
	w.say(t, alice, id, "after bob left")
	msgs := must(w.Messages(bob, id, MessagesQuery{Dir: "b", Limit: 50}))
	if slices.Contains(bodies(msgs.Chunk), "after bob left") {
		t.Fatal("a user who left sees messages sent after the leave")
	}
	wantErr(t, w.Forget(bob, id), nil)
	for _, sec := range []map[string]LeftRoom{w.syncOf(t, bob, "", &Filter{Room: &RoomFilter{IncludeLeave: true}}).Rooms.Leave} {
		if _, ok := sec[id]; ok {
			t.Fatal("a forgotten room is still in the leave section")
		}
	}
}

func TestSendTransactionIDs(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	send := func(user, device, txn string) string {
		return must(w.SendMessage(user, id, Send{DeviceID: device, TxnID: txn, Type: "m.room.message", Content: text(txn)}))
	}
	first := send(alice, "D1", "t1")
	tests := []struct {
		name     string
		user     string
		device   string
		txn      string
		sameAsT1 bool
	}{
		{"same device and txn (as after a token refresh)", alice, "D1", "t1", true},
		{"other device", alice, "D2", "t1", false},
		{"other user", bob, "D1", "t1", false},
		{"other txn", alice, "D1", "t2", false},
	}
	for _, tt := range tests {
		if got := send(tt.user, tt.device, tt.txn); (got == first) != tt.sameAsT1 {
			t.Errorf("%s: event ID %s, first %s", tt.name, got, first)
		}
	}
	res := w.syncOf(t, alice, "", nil)
	count := 0
	for _, e := range res.Rooms.Join[id].Timeline.Events {
		if e.EventID == first {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("the deduplicated event appears %d times", count)
	}
	// transaction_id is shown to the sending device only.
	for _, dev := range []struct {
		device string
		want   string
	}{{"D1", "t1"}, {"D2", ""}} {
		e := must(w.Sync(SyncRequest{UserID: alice, DeviceID: dev.device}))
		for _, ev := range e.Rooms.Join[id].Timeline.Events {
			if ev.EventID == first && ev.Unsigned.TransactionID != dev.want {
				t.Errorf("device %s sees transaction_id %q", dev.device, ev.Unsigned.TransactionID)
			}
		}
	}
	_, err := w.SendMessage(carol, id, Send{Type: "m.room.message", Content: text("x")})
	wantErr(t, err, ErrForbidden)
	_, err = w.SendMessage(alice, id, Send{Type: "m.room.message", Content: json.RawMessage(`"x"`)})
	wantErr(t, err, ErrBadJSON)
}

func TestSetState(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	topic := func(s string) json.RawMessage { return mustJSON(map[string]string{"topic": s}) }
	first := must(w.SetState(alice, id, StateEvent{Type: "m.room.topic", Content: topic("a")}))
	if again := must(w.SetState(alice, id, StateEvent{Type: "m.room.topic", Content: topic("a")})); again != first {
		t.Fatal("the same state twice sent a new event")
	}
	tests := []struct {
		name string
		user string
		st   StateEvent
		want error
	}{
		{"power too low", bob, StateEvent{Type: "m.room.topic", Content: topic("b")}, ErrForbidden},
		{"not a member", carol, StateEvent{Type: "m.room.topic", Content: topic("b")}, ErrForbidden},
		{"create is fixed", alice, StateEvent{Type: "m.room.create", Content: json.RawMessage(`{}`)}, ErrForbidden},
		{"membership through state", alice, StateEvent{Type: "m.room.member", StateKey: bob, Content: json.RawMessage(`{"membership":"leave"}`)}, ErrForbidden},
		{"own profile through state", bob, StateEvent{Type: "m.room.member", StateKey: bob, Content: json.RawMessage(`{"membership":"join","displayname":"B"}`)}, nil},
		{"canonical alias that does not exist", alice, StateEvent{Type: "m.room.canonical_alias", Content: json.RawMessage(`{"alias":"#no:example.org"}`)}, ErrInvalidParam},
		{"custom state", alice, StateEvent{Type: "org.example.x", StateKey: "k", Content: json.RawMessage(`{"v":1}`)}, nil},
	}
	for _, tt := range tests {
		_, err := w.SetState(tt.user, id, tt.st)
		if want := tt.want; want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	got := must(w.StateEvent(bob, id, "org.example.x", "k"))
	if string(got.Content) != `{"v":1}` {
		t.Fatalf("state content %s", got.Content)
	}
	_, err := w.StateEvent(bob, id, "org.example.x", "other")
	wantErr(t, err, ErrNotFound)
}

func TestRedact(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "private_chat")
	msg := w.say(t, alice, id, "secret")
	_, err := w.Redact(bob, id, msg, "", Send{})
	wantErr(t, err, ErrForbidden)
	_, err = w.Redact(alice, id, "$nope", "", Send{})
	wantErr(t, err, ErrNotFound)
	rid := must(w.Redact(alice, id, msg, "oops", Send{DeviceID: "D", TxnID: "r1"}))
	if again := must(w.Redact(alice, id, msg, "oops", Send{DeviceID: "D", TxnID: "r1"})); again != rid {
		t.Fatal("a repeated redaction transaction sent a new event")
	}
	e := must(w.EventByID(bob, id, msg))
	if string(e.Content) != "{}" || e.Unsigned.RedactedBecause == nil || e.Unsigned.RedactedBecause.EventID != rid {
		t.Fatalf("redacted event = %+v", e)
	}
	red := must(w.EventByID(bob, id, rid))
	if red.Redacts != msg || red.Type != "m.room.redaction" {
		t.Fatalf("redaction event = %+v", red)
	}
	// Bob may redact his own message.
	own := w.say(t, bob, id, "mine")
	must(w.Redact(bob, id, own, "", Send{}))
}

func TestRedactedContentKeepsWhatTheAlgorithmKeeps(t *testing.T) {
	tests := []struct {
		typ, in, want string
	}{
		{"m.room.member", `{"membership":"join","displayname":"A"}`, `{"membership":"join"}`},
		{"m.room.join_rules", `{"join_rule":"public","x":1}`, `{"join_rule":"public"}`},
		{"m.room.message", `{"body":"b"}`, `{}`},
		{"m.room.power_levels", `{"ban":50,"invite":0}`, `{"ban":50}`},
	}
	for _, tt := range tests {
		if got := string(redactedContent(tt.typ, json.RawMessage(tt.in))); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.typ, got, tt.want)
		}
	}
}

func TestAliasesAndDirectory(t *testing.T) {
	w := newTestStore(t)
	id := w.sharedRoom(t, "public_chat")
	tests := []struct {
		name  string
		alias string
		want  error
	}{
		{"new", "#home:example.org", nil},
		{"taken", "#home:example.org", ErrRoomInUse},
		{"other server", "#home:elsewhere.org", ErrInvalidParam},
		{"no sigil", "home:example.org", ErrInvalidParam},
		{"no server", "#home", ErrInvalidParam},
	}
	for _, tt := range tests {
		if err := w.SetAlias(bob, tt.alias, id); !(tt.want == nil && err == nil || errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	wantErr(t, w.SetAlias(bob, "#x:example.org", "!nope:example.org"), ErrNotFound)
	if got := must(w.RoomAliases(alice, id)); !slices.Equal(got, []string{"#home:example.org"}) {
		t.Fatalf("room aliases = %v", got)
	}
	wantErr(t, w.DeleteAlias(carol, "#home:example.org"), ErrForbidden)
	wantErr(t, w.DeleteAlias(bob, "#home:example.org"), nil)
	_, _, err := w.ResolveAlias("#home:example.org")
	wantErr(t, err, ErrNotFound)

	wantErr(t, w.SetVisibility(bob, id, "public"), ErrForbidden)
	wantErr(t, w.SetVisibility(alice, id, "shown"), ErrInvalidParam)
	wantErr(t, w.SetVisibility(alice, id, "public"), nil)
	must(w.SetState(alice, id, StateEvent{Type: "m.room.name", Content: json.RawMessage(`{"name":"Town Square"}`)}))
	other := must(w.CreateRoom(carol, CreateRoomRequest{Visibility: "public", Name: "Quiet"}))
	all := must(w.PublicRooms(0, "", ""))
	if all.TotalRoomCountEstimate != 2 || all.Chunk[0].RoomID != id || all.Chunk[0].NumJoinedMembers != 2 || all.Chunk[0].Name != "Town Square" {
		t.Fatalf("directory = %+v", all)
	}
	page := must(w.PublicRooms(1, "", ""))
	if len(page.Chunk) != 1 || page.NextBatch == "" {
		t.Fatalf("first page = %+v", page)
	}
	page2 := must(w.PublicRooms(1, page.NextBatch, ""))
	if len(page2.Chunk) != 1 || page2.Chunk[0].RoomID != other || page2.NextBatch != "" || page2.PrevBatch == "" {
		t.Fatalf("second page = %+v", page2)
	}
	if s := must(w.PublicRooms(0, "", "quiet")); len(s.Chunk) != 1 || s.Chunk[0].RoomID != other {
		t.Fatalf("search = %+v", s)
	}
	_, err = w.PublicRooms(0, "bogus", "")
	wantErr(t, err, ErrInvalidParam)
}

// TestDeterministicIDs: with the same ID source and clock, the same calls
// give the same IDs, also where one call touches several rooms.
func TestDeterministicIDs(t *testing.T) {
	run := func() []string {
		w := newTestStore(t)
		var ids []string
		for range 5 {
			ids = append(ids, w.sharedRoom(t, "private_chat"))
		}
		w.SetDisplayName(bob, "B")
		for _, id := range ids {
			for _, e := range w.syncOf(t, alice, "", nil).Rooms.Join[id].Timeline.Events {
				ids = append(ids, e.EventID)
			}
		}
		return ids
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Fatalf("two runs differ:\n%v\n%v", a, b)
	}
}
