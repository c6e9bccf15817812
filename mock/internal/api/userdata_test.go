package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/rooms"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/mock/scenario"
)

// roomWorld is a world with Alice and Bob joined to one room, Carol outside
// it, served over loopback by the request pipeline.
type roomWorld struct {
	t          *testing.T
	w          *world.World
	url        string
	room       string
	message    string // an event ID in the room, sent by Bob
	alice, bob string // access tokens
}

func newRoomWorld(t *testing.T) *roomWorld {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := world.Settings{Virtual: true, Start: start, Users: []scenario.User{
		{ID: "alice", Password: "pw"}, {ID: "bob", Password: "pw"}, {ID: "carol", Password: "pw"},
	}}
	w, err := world.New(set, clock.Virtual(start), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(api.Config{World: func() *world.World { return w }, Journal: journal.New(100), Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	rw := &roomWorld{t: t, w: w, url: srv.URL}
	rw.room, err = w.Rooms.CreateRoom("@alice:localhost", rooms.CreateRoomRequest{Name: "Tea", Invite: []string{"@bob:localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Rooms.JoinRoom("@bob:localhost", rw.room); err != nil {
		t.Fatal(err)
	}
	w.Rooms.SetDisplayName("@bob:localhost", "Bobby Tables")
	rw.message, err = w.Rooms.SendMessage("@bob:localhost", rw.room, rooms.Send{Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"hi"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rw.alice, rw.bob = rw.login("@alice:localhost"), rw.login("@bob:localhost")
	return rw
}

func (rw *roomWorld) login(user string) string {
	sess, err := rw.w.Store.Login(state.LoginRequest{UserID: user})
	if err != nil {
		rw.t.Fatal(err)
	}
	return sess.AccessToken
}

// do sends a JSON request and returns the status and the decoded answer.
func (rw *roomWorld) do(method, path, token string, body any) (int, map[string]any) {
	rw.t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, rw.url+path, bytes.NewReader(raw))
	if err != nil {
		rw.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rw.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		rw.t.Fatalf("%s %s: answer %q is not JSON", method, path, data)
	}
	return resp.StatusCode, out
}

// sync is Alice's sync since a token, through the rooms store.
func (rw *roomWorld) sync(since string) *rooms.SyncResponse {
	rw.t.Helper()
	resp, err := rw.w.Rooms.Sync(rooms.SyncRequest{UserID: "@alice:localhost", Since: since})
	if err != nil {
		rw.t.Fatal(err)
	}
	return resp
}

// TestUserDataInRoom: typing, receipts, read markers, tags, room account
// data and the user directory on a real room, and what Alice's next sync
// (the rooms store's Sync, which the /sync handler answers) shows of them.
func TestUserDataInRoom(t *testing.T) {
	rw := newRoomWorld(t)
	room := "/_matrix/client/v3/rooms/" + rw.room
	me := "/_matrix/client/v3/user/@alice:localhost/rooms/" + rw.room
	since := rw.sync("").NextBatch

	for _, s := range []struct {
		name, method, path string
		body               any
		status             int
		errcode            string
	}{
		{"typing", "PUT", room + "/typing/@alice:localhost", map[string]any{"typing": true, "timeout": 20000}, 200, ""},
		{"receipt", "POST", room + "/receipt/m.read/" + rw.message, map[string]any{}, 200, ""},
		{"threaded receipt", "POST", room + "/receipt/m.read/" + rw.message, map[string]any{"thread_id": "main"}, 200, ""},
		{"receipt for an unknown event", "POST", room + "/receipt/m.read/$nope", map[string]any{}, 404, "M_NOT_FOUND"},
		{"bad receipt type", "POST", room + "/receipt/m.seen/" + rw.message, map[string]any{}, 400, ""},
		{"read markers", "POST", room + "/read_markers", map[string]any{"m.fully_read": rw.message, "m.read.private": rw.message}, 200, ""},
		{"tag", "PUT", me + "/tags/m.favourite", map[string]any{"order": 0.1}, 200, ""},
		{"room account data", "PUT", me + "/account_data/org.example.z", map[string]any{"z": 1}, 200, ""},
	} {
		status, body := rw.do(s.method, s.path, rw.alice, s.body)
		if status != s.status || (s.errcode != "" && body["errcode"] != s.errcode) {
			t.Errorf("%s: got %d %v, want %d %s", s.name, status, body, s.status, s.errcode)
		}
	}

	// Carol shares no room: she may not type or send receipts there.
	carol := rw.login("@carol:localhost")
	if status, body := rw.do("PUT", room+"/typing/@carol:localhost", carol, map[string]any{"typing": true}); status != 403 || body["errcode"] != "M_FORBIDDEN" {
		t.Errorf("carol typing: %d %v", status, body)
	}
	if status, body := rw.do("POST", room+"/receipt/m.read/"+rw.message, carol, map[string]any{}); status != 403 || body["errcode"] != "M_FORBIDDEN" {
		t.Errorf("carol's receipt: %d %v", status, body)
	}

	joined, ok := rw.sync(since).Rooms.Join[rw.room]
	if !ok {
		t.Fatal("the room is not in Alice's incremental sync")
	}
	var types []string
	for _, e := range joined.Ephemeral.Events {
		types = append(types, e.Type)
	}
	if !slices.Contains(types, "m.typing") || !slices.Contains(types, "m.receipt") {
		t.Errorf("ephemeral events %v, want m.typing and m.receipt", types)
	}
	data := map[string]string{}
	for _, e := range joined.AccountData.Events {
		data[e.Type] = string(e.Content)
	}
	if data["m.tag"] != `{"tags":{"m.favourite":{"order":0.1}}}` {
		t.Errorf("m.tag in sync: %q", data["m.tag"])
	}
	if data["m.fully_read"] == "" || data["org.example.z"] != `{"z":1}` {
		t.Errorf("room account data in sync: %v", data)
	}
	if joined.UnreadNotifications.NotificationCount != 0 {
		t.Errorf("notification count %d after reading Bob's message", joined.UnreadNotifications.NotificationCount)
	}

	// The directory finds Bob by display name, ignoring case, and not
	// Carol, who shares no room with Alice.
	status, body := rw.do("POST", "/_matrix/client/v3/user_directory/search", rw.alice, map[string]any{"search_term": "bobby"})
	results, _ := body["results"].([]any)
	if status != 200 || len(results) != 1 || results[0].(map[string]any)["user_id"] != "@bob:localhost" || results[0].(map[string]any)["display_name"] != "Bobby Tables" {
		t.Errorf("directory search for bobby: %d %v", status, body)
	}
	_, body = rw.do("POST", "/_matrix/client/v3/user_directory/search", rw.alice, map[string]any{"search_term": "carol"})
	if results, _ := body["results"].([]any); len(results) != 0 {
		t.Errorf("directory found carol: %v", body)
	}
	_, body = rw.do("POST", "/_matrix/client/v3/user_directory/search", rw.alice, map[string]any{"search_term": "LOCALHOST", "limit": 1})
	if results, _ := body["results"].([]any); len(results) != 1 || body["limited"] != true {
		t.Errorf("directory with limit 1: %v", body)
	}
}

// TestUserDataInSync: global account data, display name and presence set
// over HTTP show up in the next sync of the rooms store.
func TestUserDataInSync(t *testing.T) {
	rw := newRoomWorld(t)
	since := rw.sync("").NextBatch
	for _, s := range []struct {
		method, path string
		body         any
		token        string
	}{
		{"PUT", "/_matrix/client/v3/user/@alice:localhost/account_data/org.example.g", map[string]any{"g": true}, rw.alice},
		{"PUT", "/_matrix/client/v3/presence/@bob:localhost/status", map[string]any{"presence": "online"}, rw.bob},
		{"PUT", "/_matrix/client/v3/profile/@bob:localhost/displayname", map[string]any{"displayname": "Robert"}, rw.bob},
	} {
		if status, body := rw.do(s.method, s.path, s.token, s.body); status != 200 {
			t.Fatalf("%s %s: %d %v", s.method, s.path, status, body)
		}
	}
	resp := rw.sync(since)
	if !slices.ContainsFunc(resp.AccountData.Events, func(e rooms.BasicEvent) bool { return e.Type == "org.example.g" }) {
		t.Errorf("global account data not in sync: %+v", resp.AccountData.Events)
	}
	if !slices.ContainsFunc(resp.Presence.Events, func(e rooms.BasicEvent) bool { return e.Sender == "@bob:localhost" }) {
		t.Errorf("Bob's presence not in sync: %+v", resp.Presence.Events)
	}
	renamed := slices.ContainsFunc(resp.Rooms.Join[rw.room].Timeline.Events, func(e rooms.Event) bool {
		return e.Type == "m.room.member" && bytes.Contains(e.Content, []byte(`"Robert"`))
	})
	if !renamed {
		t.Error("Bob's new display name is not in the room's timeline")
	}
}

// TestConcurrentTags: tags added at once, each by its own request, all
// land: a tag change is one read-modify-write of m.tag.
func TestConcurrentTags(t *testing.T) {
	rw := newRoomWorld(t)
	tags := "/_matrix/client/v3/user/@alice:localhost/rooms/" + rw.room + "/tags"
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("PUT", rw.url+tags+"/u.t"+strconv.Itoa(i), strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+rw.alice)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
				t.Errorf("tag %d: %v %v", i, resp, err)
			} else {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	_, body := rw.do("GET", tags, rw.alice, nil)
	if got, _ := body["tags"].(map[string]any); len(got) != n {
		t.Errorf("%d tags after %d concurrent adds: %v", len(got), n, body)
	}
}
