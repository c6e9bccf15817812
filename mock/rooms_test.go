package mock_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// twoUsers starts a server with alice and bob logged in, and returns their
// access tokens.
func twoUsers(t *testing.T, opts ...mock.Option) (hs *mock.Server, alice, bob string) {
	t.Helper()
	opts = append([]mock.Option{mock.WithUser("alice", "pw-alice"), mock.WithUser("bob", "pw-bob")}, opts...)
	hs = mock.Start(t, opts...)
	return hs, login(t, hs, "alice", "pw-alice", nil).str(t, "access_token"), login(t, hs, "bob", "pw-bob", nil).str(t, "access_token")
}

const cs = "/_matrix/client/v3"

// TestRoomsEndpoints runs each rooms operation over HTTP, in the order a
// room's life takes, with the errors each refuses with.
func TestRoomsEndpoints(t *testing.T) {
	hs, alice, bob := twoUsers(t)
	created := call(t, hs, "POST", cs+"/createRoom", alice, map[string]any{"name": "Tea", "room_alias_name": "tea", "preset": "private_chat"})
	created.wantStatus(t, http.StatusOK)
	room := created.str(t, "room_id")
	r := cs + "/rooms/" + url.PathEscape(room)
	alias := url.PathEscape("#tea:localhost")

	steps := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"bob may not join a private room", "POST", r + "/join", bob, map[string]any{}, 403, "M_FORBIDDEN"},
		{"no such room", "POST", cs + "/rooms/!nope:localhost/join", bob, map[string]any{}, 404, "M_NOT_FOUND"},
		{"invite without user_id", "POST", r + "/invite", alice, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"invite unknown user", "POST", r + "/invite", alice, map[string]any{"user_id": "@nobody:localhost"}, 404, "M_NOT_FOUND"},
		{"invite bob", "POST", r + "/invite", alice, map[string]any{"user_id": "@bob:localhost"}, 200, ""},
		{"bob joins by alias", "POST", cs + "/join/" + alias, bob, map[string]any{}, 200, ""},
		{"bob reads the name", "GET", r + "/state/m.room.name/", bob, nil, 200, ""},
		{"no topic", "GET", r + "/state/m.room.topic/", bob, nil, 404, "M_NOT_FOUND"},
		{"bob may not rename", "PUT", r + "/state/m.room.name/", bob, map[string]any{"name": "x"}, 403, "M_FORBIDDEN"},
		{"alice sets a topic", "PUT", r + "/state/m.room.topic/", alice, map[string]any{"topic": "Darjeeling"}, 200, ""},
		{"state by type, no key", "GET", r + "/state/m.room.topic", bob, nil, 200, ""},
		{"bob sends", "PUT", r + "/send/m.room.message/t1", bob, map[string]any{"msgtype": "m.text", "body": "hi"}, 200, ""},
		{"members", "GET", r + "/members", bob, nil, 200, ""},
		{"joined members", "GET", r + "/joined_members", bob, nil, 200, ""},
		{"messages backwards", "GET", r + "/messages?dir=b&limit=5", bob, nil, 200, ""},
		{"messages bad filter", "GET", r + "/messages?dir=b&filter=%7Bnope", bob, nil, 400, "M_BAD_JSON"},
		{"messages bad token", "GET", r + "/messages?dir=b&from=zzz", bob, nil, 400, "M_INVALID_PARAM"},
		{"aliases", "GET", r + "/aliases", bob, nil, 200, ""},
		{"alias taken", "PUT", cs + "/directory/room/" + alias, alice, map[string]any{"room_id": room}, 409, "M_UNKNOWN"},
		{"new alias", "PUT", cs + "/directory/room/" + url.PathEscape("#green:localhost"), alice, map[string]any{"room_id": room}, 200, ""},
		{"resolve alias", "GET", cs + "/directory/room/" + url.PathEscape("#green:localhost"), bob, nil, 200, ""},
		{"delete alias", "DELETE", cs + "/directory/room/" + url.PathEscape("#green:localhost"), alice, nil, 200, ""},
		{"alias gone", "GET", cs + "/directory/room/" + url.PathEscape("#green:localhost"), bob, nil, 404, "M_NOT_FOUND"},
		{"publish", "PUT", cs + "/directory/list/room/" + url.PathEscape(room), alice, map[string]any{"visibility": "public"}, 200, ""},
		{"visibility", "GET", cs + "/directory/list/room/" + url.PathEscape(room), alice, nil, 200, ""},
		{"public rooms", "GET", cs + "/publicRooms", bob, nil, 200, ""},
		{"public rooms searched", "POST", cs + "/publicRooms", bob, map[string]any{"filter": map[string]any{"generic_search_term": "tea"}}, 200, ""},
		{"forget while joined", "POST", r + "/forget", bob, map[string]any{}, 400, "M_UNKNOWN"},
		{"bob may not kick", "POST", r + "/kick", bob, map[string]any{"user_id": "@alice:localhost"}, 403, "M_FORBIDDEN"},
		{"kick bob", "POST", r + "/kick", alice, map[string]any{"user_id": "@bob:localhost", "reason": "tidy"}, 200, ""},
		{"ban bob", "POST", r + "/ban", alice, map[string]any{"user_id": "@bob:localhost"}, 200, ""},
		{"banned bob may not join", "POST", r + "/join", bob, map[string]any{}, 403, "M_FORBIDDEN"},
		{"unban bob", "POST", r + "/unban", alice, map[string]any{"user_id": "@bob:localhost"}, 200, ""},
		{"bob forgets", "POST", r + "/forget", bob, map[string]any{}, 200, ""},
		{"alice leaves", "POST", r + "/leave", alice, map[string]any{}, 200, ""},
		{"joined rooms", "GET", cs + "/joined_rooms", alice, nil, 200, ""},
		{"no token", "GET", cs + "/joined_rooms", "", nil, 401, "M_MISSING_TOKEN"},
	}
	for _, st := range steps {
		a := call(t, hs, st.method, st.path, st.token, st.body)
		if st.errcode != "" {
			t.Run(st.name, func(t *testing.T) { a.wantError(t, st.status, st.errcode) })
			continue
		}
		if a.status != st.status {
			t.Fatalf("%s: got %d %s, want %d", st.name, a.status, a.raw, st.status)
		}
		if a.header.Get("X-Mxauth-Canned") != "" {
			t.Fatalf("%s: answered canned", st.name)
		}
	}
	// GET /state answers an array, which call does not decode.
	if st, _ := send(hs, "GET", r+"/state", bob, nil); st.status != http.StatusOK || !strings.HasPrefix(st.raw, "[") || !strings.Contains(st.raw, "Darjeeling") {
		t.Errorf("GET /state: %d %s", st.status, st.raw)
	}
	if got := call(t, hs, "GET", cs+"/joined_rooms", alice, nil).raw; !strings.Contains(got, `"joined_rooms":[]`) {
		t.Errorf("alice left: joined_rooms = %s", got)
	}
}

// TestSendIdempotentAcrossRefresh: the same transaction ID from the same
// device sends one event, also after the device's token is refreshed; from
// another device it is another event.
func TestSendIdempotentAcrossRefresh(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	sess := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
	token := sess.str(t, "access_token")
	room := call(t, hs, "POST", cs+"/createRoom", token, map[string]any{}).str(t, "room_id")
	send := cs + "/rooms/" + url.PathEscape(room) + "/send/m.room.message/txn1"
	first := call(t, hs, "PUT", send, token, map[string]any{"body": "once"}).str(t, "event_id")
	refreshed := call(t, hs, "POST", cs+"/refresh", "", map[string]any{"refresh_token": sess.str(t, "refresh_token")})
	refreshed.wantStatus(t, http.StatusOK)
	again := call(t, hs, "PUT", send, refreshed.str(t, "access_token"), map[string]any{"body": "once"}).str(t, "event_id")
	if again != first {
		t.Errorf("retry after refresh sent %s, want the first event %s", again, first)
	}
	otherDevice := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	if other := call(t, hs, "PUT", send, otherDevice, map[string]any{"body": "once"}).str(t, "event_id"); other == first {
		t.Errorf("the same transaction ID from another device was taken for a retry (%s)", other)
	}
}

// syncOnce sends GET /sync with the query and returns the answer.
func syncOnce(t *testing.T, hs *mock.Server, token, query string) answer {
	t.Helper()
	a := call(t, hs, "GET", cs+"/sync?"+query, token, nil)
	a.wantStatus(t, http.StatusOK)
	return a
}

// TestSyncLongPoll: a message wakes the waiting poll of a member, and only
// a member's; the token carries both streams.
func TestSyncLongPoll(t *testing.T) {
	hs, alice, bob := twoUsers(t)
	room, err := hs.CreateRoom("alice", mock.CreateRoomRequest{Invite: []string{"@bob:localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	first := syncOnce(t, hs, bob, "")
	since := first.str(t, "next_batch")
	if !strings.HasPrefix(since, "s") || !strings.Contains(since, "_k") {
		t.Fatalf("next_batch %q is not s<N>_k<M>", since)
	}
	if !strings.Contains(first.raw, `"invite":{"`+room) || !strings.Contains(first.raw, `"m.room.member"`) {
		t.Fatalf("bob's first sync lacks the invite with its member event: %s", first.raw)
	}
	if _, err := hs.JoinRoom("bob", room); err != nil {
		t.Fatal(err)
	}
	since = syncOnce(t, hs, bob, "since="+since).str(t, "next_batch")
	aliceSince := syncOnce(t, hs, alice, "").str(t, "next_batch")

	// carol shares no room: her poll must not wake.
	carol := func() string {
		if _, err := hs.AddUser("carol", "pw-carol"); err != nil {
			t.Fatal(err)
		}
		return login(t, hs, "carol", "pw-carol", nil).str(t, "access_token")
	}()
	carolSince := syncOnce(t, hs, carol, "").str(t, "next_batch")
	carolDone := syncInBackground(hs, carol, "timeout=1500&since="+carolSince)
	bobDone := syncInBackground(hs, bob, "timeout=30000&since="+since)
	time.Sleep(50 * time.Millisecond) // let both polls start waiting
	sent := time.Now()
	if _, err := hs.SendMessage("alice", room, "hello bob"); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-bobDone:
		if !strings.Contains(a.raw, "hello bob") {
			t.Fatalf("bob's poll answered without the message: %s", a.raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's poll did not wake")
	}
	a := <-carolDone
	if strings.Contains(a.raw, "hello bob") || a.status != http.StatusOK {
		t.Fatalf("carol's poll: %d %s", a.status, a.raw)
	}
	if waited := time.Since(sent); waited < time.Second {
		t.Errorf("carol's poll answered after %v, before its timeout: woken by another user's message", waited)
	}
	if got := syncOnce(t, hs, alice, "since="+aliceSince).raw; !strings.Contains(got, "hello bob") {
		t.Errorf("alice's own message missing from her sync: %s", got)
	}
}

// TestSyncVirtualClock: on a virtual clock a poll ends when the test moves
// the clock past its timeout, and the next sync after the access token
// expired is refused with soft_logout true.
func TestSyncVirtualClock(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch), mock.WithAccessTokenLifetime(5*time.Minute))
	// The poll must be waiting when the clock moves; on a loaded machine it
	// may not be yet, and then it is refused for its expired token like any
	// later request: try again with a longer head start.
	for _, headStart := range []time.Duration{20 * time.Millisecond, 200 * time.Millisecond, time.Second} {
		token := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true}).str(t, "access_token")
		since := syncOnce(t, hs, token, "").str(t, "next_batch")
		done := syncInBackground(hs, token, "timeout=60000&since="+since)
		time.Sleep(headStart)
		hs.Clock().Advance(6 * time.Minute)
		var polled answer
		select {
		case polled = <-done:
		case <-time.After(mock.VirtualPollCap + 5*time.Second):
			t.Fatal("the poll outlived a clock move past its timeout")
		}
		if polled.status == http.StatusUnauthorized {
			continue // the poll started after the move
		}
		polled.wantStatus(t, http.StatusOK) // authenticated when it started
		a := call(t, hs, "GET", cs+"/sync?timeout=60000&since="+since, token, nil)
		a.wantError(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		if a.body["soft_logout"] != true {
			t.Errorf("sync after expiry: soft_logout = %v, want true", a.body["soft_logout"])
		}
		return
	}
	t.Fatal("no poll was waiting when the clock moved, even with a one-second head start")
}

// TestSyncVirtualClockCap: a poll on a virtual clock nobody moves answers
// after the real-time cap.
func TestSyncVirtualClockCap(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	token := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	since := syncOnce(t, hs, token, "").str(t, "next_batch")
	done := syncInBackground(hs, token, "timeout=600000&since="+since)
	select {
	case a := <-done:
		a.wantStatus(t, http.StatusOK)
	case <-time.After(mock.VirtualPollCap + 10*time.Second):
		t.Fatal("the poll did not end at the real-time cap")
	}
}

// TestSyncDeviceDeleted: a device deleted while its client waits ends the
// wait with soft_logout false.
func TestSyncDeviceDeleted(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	sess := login(t, hs, "alice", "pw", nil)
	token := sess.str(t, "access_token")
	since := syncOnce(t, hs, token, "").str(t, "next_batch")
	done := syncInBackground(hs, token, "timeout=30000&since="+since)
	time.Sleep(50 * time.Millisecond)
	if err := hs.HardLogout("alice", sess.str(t, "device_id")); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-done:
		a.wantError(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		if a.body["soft_logout"] != false {
			t.Errorf("soft_logout = %v, want false", a.body["soft_logout"])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the poll went on after its device was deleted")
	}
}

// TestSyncParams: filters by ID and inline, unknown parameters ignored,
// bad ones refused.
func TestSyncParams(t *testing.T) {
	hs, alice, _ := twoUsers(t)
	room, err := hs.CreateRoom("alice", mock.CreateRoomRequest{Name: "Lobby"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := hs.SendMessage("alice", room, "m"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	inline := url.QueryEscape(`{"room":{"timeline":{"limit":1}}}`)
	a := syncOnce(t, hs, alice, "filter="+inline+"&set_presence=online&unknown_param=1&full_state=true")
	if !strings.Contains(a.raw, `"limited":true`) || !strings.Contains(a.raw, `"m2"`) || strings.Contains(a.raw, `"m1"`) {
		t.Errorf("timeline limit 1 not applied: %s", a.raw)
	}
	for _, k := range []string{"to_device", "device_lists", "device_one_time_keys_count", "account_data", "presence"} {
		if _, ok := a.body[k]; !ok {
			t.Errorf("sync answer lacks %s", k)
		}
	}
	call(t, hs, "GET", cs+"/sync?filter=nosuchfilter", alice, nil).wantError(t, http.StatusNotFound, "M_NOT_FOUND")
	call(t, hs, "GET", cs+"/sync?filter=%7Bbad", alice, nil).wantError(t, http.StatusBadRequest, "M_BAD_JSON")
	call(t, hs, "GET", cs+"/sync?since=garbage", alice, nil).wantError(t, http.StatusBadRequest, "M_INVALID_PARAM")
	call(t, hs, "GET", cs+"/sync?since=s1_x", alice, nil).wantError(t, http.StatusBadRequest, "M_INVALID_PARAM")
}

// TestControlRooms drives a room through the control API.
func TestControlRooms(t *testing.T) {
	hs, _, bob := twoUsers(t, mock.WithControl("ctl"))
	ctl := func(path string, body any) answer {
		t.Helper()
		return call(t, hs, "POST", "/_mock/rooms"+path, "ctl", body)
	}
	room := ctl("", map[string]any{"user": "alice", "room": map[string]any{"name": "Ctl"}}).str(t, "room_id")
	r := "/" + url.PathEscape(room)
	ctl(r+"/invite", map[string]any{"user": "alice", "target": "bob"}).wantStatus(t, http.StatusOK)
	ctl(r+"/join", map[string]any{"user": "bob"}).wantStatus(t, http.StatusOK)
	ctl(r+"/send", map[string]any{"user": "alice", "body": "from control"}).str(t, "event_id")
	ctl(r+"/state", map[string]any{"user": "alice", "type": "m.room.topic", "content": map[string]any{"topic": "ctl topic"}}).str(t, "event_id")
	got := syncOnce(t, hs, bob, "").raw
	for _, want := range []string{"from control", "ctl topic"} {
		if !strings.Contains(got, want) {
			t.Errorf("bob's sync lacks %q: %s", want, got)
		}
	}
	ctl(r+"/kick", map[string]any{"user": "bob", "target": "alice"}).wantError(t, http.StatusForbidden, "M_FORBIDDEN")
	ctl(r+"/kick", map[string]any{"user": "alice", "target": "bob"}).wantStatus(t, http.StatusOK)
	ctl(r+"/send", map[string]any{}).wantError(t, http.StatusBadRequest, "M_MISSING_PARAM")
	ctl("/"+url.PathEscape("!none:localhost")+"/send", map[string]any{"user": "alice", "body": "x"}).wantError(t, http.StatusNotFound, "M_NOT_FOUND")
}

// syncInBackground sends GET /sync?query from another goroutine; the
// channel gets the answer.
func syncInBackground(hs *mock.Server, token, query string) <-chan answer {
	done := make(chan answer, 1)
	go func() {
		a, _ := send(hs, "GET", cs+"/sync?"+query, token, nil)
		done <- a
	}()
	return done
}
