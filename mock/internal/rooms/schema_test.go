package rooms

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// upstreamFile returns a file of the Matrix spec's v1.18 client-server API
// in ../shared/upstream-spec (or $MXAUTH_UPSTREAM_SPEC), skipping the test
// when it is absent.
func upstreamFile(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("MXAUTH_UPSTREAM_SPEC")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared", "upstream-spec")
	}
	path := filepath.Join(root, "v1.18", "api", "client-server", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("upstream spec not found (%v); set MXAUTH_UPSTREAM_SPEC", err)
	}
	return path
}

// TestAnswersMatchUpstreamSchemas checks that what the handler layer will
// marshal validates against the 200 response schema of the upstream v1.18
// operation.
func TestAnswersMatchUpstreamSchemas(t *testing.T) {
	w := newTestStore(t)
	id := must(w.CreateRoom(alice, CreateRoomRequest{Visibility: "public", Name: "N", Topic: "T", RoomAliasName: "n"}))
	must(w.JoinRoom(bob, id))
	must(w.CreateRoom(carol, CreateRoomRequest{Invite: []string{alice}}))
	msg := must(w.SendMessage(bob, id, Send{DeviceID: "DEV", TxnID: "1", Type: "m.room.message", Content: text("hi")}))
	must(w.Redact(bob, id, msg, "why", Send{}))
	w.say(t, bob, id, "again")
	_ = w.SetTyping(bob, id, true, time.Minute)
	_ = w.SendReceipt(alice, id, "m.read", msg, "main")
	_ = w.SetPresence(bob, "online", nil)
	_ = w.SetAccountData(alice, "m.direct", json.RawMessage(`{}`))
	_ = w.SetRoomAccountData(alice, id, "m.tag", json.RawMessage(`{"tags":{}}`))
	_ = w.PutPushRule(alice, "content", "cake", "", "", NewPushRule{Actions: []any{"notify"}, Pattern: "cake"})
	left := must(w.CreateRoom(alice, CreateRoomRequest{}))
	_ = w.Leave(alice, left, "")

	ctxEvent := must(w.Context(alice, id, msg, 4, ""))
	answers := []struct {
		file, path, method string
		answer             any
	}{
		{"sync.yaml", "/sync", "GET", must(w.Sync(SyncRequest{UserID: alice, DeviceID: "DEV", Filter: &Filter{Room: &RoomFilter{IncludeLeave: true}}}))},
		{"message_pagination.yaml", "/rooms/{roomId}/messages", "GET", must(w.Messages(alice, id, MessagesQuery{Dir: "b", Limit: 3}))},
		{"event_context.yaml", "/rooms/{roomId}/context/{eventId}", "GET", ctxEvent},
		{"pushrules.yaml", "/pushrules/", "GET", map[string]Ruleset{"global": w.PushRules(alice)}},
		{"pushrules.yaml", "/pushrules/global/{kind}/{ruleId}", "GET", must(w.PushRule(alice, "override", ".m.rule.is_room_mention"))},
		{"list_public_rooms.yaml", "/publicRooms", "GET", must(w.PublicRooms(10, "", ""))},
		{"rooms.yaml", "/rooms/{roomId}/members", "GET", map[string]any{"chunk": must(w.Members(alice, id, MembersQuery{}))}},
		{"rooms.yaml", "/rooms/{roomId}/joined_members", "GET", map[string]any{"joined": must(w.JoinedMembers(alice, id))}},
		{"rooms.yaml", "/rooms/{roomId}/event/{eventId}", "GET", must(w.EventByID(alice, id, msg))},
		{"rooms.yaml", "/rooms/{roomId}/state", "GET", must(w.State(alice, id))},
		{"presence.yaml", "/presence/{userId}/status", "GET", must(w.Presence(bob))},
		{"profile.yaml", "/profile/{userId}", "GET", must(w.Profile(bob))},
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	docs := map[string]*openapi3.T{}
	for _, a := range answers {
		t.Run(a.method+" "+a.path, func(t *testing.T) {
			doc := docs[a.file]
			if doc == nil {
				var err error
				if doc, err = loader.LoadFromFile(upstreamFile(t, a.file)); err != nil {
					t.Fatal(err)
				}
				docs[a.file] = doc
			}
			item := doc.Paths.Find(a.path)
			if item == nil || item.GetOperation(a.method) == nil {
				t.Fatalf("%s has no %s %s", a.file, a.method, a.path)
			}
			resp := item.GetOperation(a.method).Responses.Status(200)
			schema := resp.Value.Content.Get("application/json").Schema.Value
			b, err := json.Marshal(a.answer)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			_ = json.Unmarshal(b, &v)
			if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
				t.Fatalf("answer does not match the schema: %v\n%s", err, b)
			}
		})
	}
}
