package mock_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/matrixerr"
	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/operation"
)

// userDataStep is one request of TestUserDataEndpoints and what it must get.
type userDataStep struct {
	name         string
	method, path string
	body         any
	token        string // "" means Alice's
	status       int
	errcode      string              // for an error answer
	check        func(answer) string // for a success: "" when the answer is right, else what is wrong
}

// TestUserDataEndpoints drives every per-user data endpoint over loopback,
// in order on one server, each step checking its answer, and each error
// path with its status and errcode. Receipts, typing and read markers need
// a room: here they meet an unknown one (the room cases are in the api
// package's tests, which make a room in the world directly).
func TestUserDataEndpoints(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"), mock.WithVirtualClock(epoch))
	alice := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	bob := login(t, hs, "bob", "pw", nil).str(t, "access_token")
	const (
		me    = "/_matrix/client/v3/user/@alice:localhost"
		room  = "!someroom:localhost"
		rules = "/_matrix/client/v3/pushrules/global/"
	)
	var filterID string
	steps := []userDataStep{
		// Filters; the user ID may come percent-encoded.
		{name: "define filter", method: "POST", path: "/_matrix/client/v3/user/%40alice%3Alocalhost/filter",
			body: map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 5}}}, status: 200,
			check: func(a answer) string {
				filterID, _ = a.body["filter_id"].(string)
				return want(filterID != "", "no filter_id")
			}},
		{name: "get filter", method: "GET", path: me + "/filter/{filter}", status: 200,
			check: func(a answer) string {
				room, _ := a.body["room"].(map[string]any)
				timeline, _ := room["timeline"].(map[string]any)
				return want(timeline["limit"] == 5.0, "filter not given back")
			}},
		{name: "unknown filter", method: "GET", path: me + "/filter/nope", status: 404, errcode: "M_NOT_FOUND"},
		{name: "filter of another user", method: "GET", path: "/_matrix/client/v3/user/@bob:localhost/filter/{filter}", status: 403, errcode: "M_FORBIDDEN"},
		{name: "define filter for another user", method: "POST", path: "/_matrix/client/v3/user/@bob:localhost/filter", body: map[string]any{}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "bob cannot read alice's filter", method: "GET", path: me + "/filter/{filter}", token: bob, status: 403, errcode: "M_FORBIDDEN"},

		// Push rules: the default set, then a rule of the user's.
		{name: "push rules", method: "GET", path: "/_matrix/client/v3/pushrules/", status: 200,
			check: func(a answer) string {
				return want(hasRule(a.body["global"], "override", ".m.rule.master"), "no .m.rule.master")
			}},
		{name: "global push rules", method: "GET", path: rules, status: 200,
			check: func(a answer) string {
				return want(hasRule(a.body, "underride", ".m.rule.message"), "no .m.rule.message")
			}},
		{name: "default rule", method: "GET", path: rules + "override/.m.rule.master", status: 200,
			check: func(a answer) string {
				return want(a.body["default"] == true && a.body["rule_id"] == ".m.rule.master", "wrong rule")
			}},
		{name: "put rule", method: "PUT", path: rules + "room/!a:localhost", body: map[string]any{"actions": []any{"notify"}}, status: 200},
		{name: "put rule before it", method: "PUT", path: rules + "room/!b:localhost?before=!a:localhost", body: map[string]any{"actions": []any{}}, status: 200},
		{name: "order follows before", method: "GET", path: rules, status: 200,
			check: func(a answer) string {
				return want(ruleIDs(a.body, "room") == "!b:localhost,!a:localhost", "room rules "+ruleIDs(a.body, "room"))
			}},
		{name: "put rule after missing", method: "PUT", path: rules + "room/!c:localhost?after=!nope:localhost", body: map[string]any{"actions": []any{}}, status: 404, errcode: "M_NOT_FOUND"},
		{name: "put rule without actions", method: "PUT", path: rules + "room/!c:localhost", body: map[string]any{}, status: 400, errcode: "M_MISSING_PARAM"},
		{name: "put server rule", method: "PUT", path: rules + "override/.m.rule.mine", body: map[string]any{"actions": []any{}}, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "content rule needs a pattern", method: "PUT", path: rules + "content/words", body: map[string]any{"actions": []any{}}, status: 400},
		{name: "disable rule", method: "PUT", path: rules + "room/!a:localhost/enabled", body: map[string]any{"enabled": false}, status: 200},
		{name: "rule is disabled", method: "GET", path: rules + "room/!a:localhost/enabled", status: 200,
			check: func(a answer) string { return want(a.body["enabled"] == false, "still enabled") }},
		{name: "set actions", method: "PUT", path: rules + "room/!a:localhost/actions", body: map[string]any{"actions": []any{"notify", map[string]any{"set_tweak": "sound", "value": "default"}}}, status: 200},
		{name: "actions", method: "GET", path: rules + "room/!a:localhost/actions", status: 200,
			check: func(a answer) string {
				acts, _ := a.body["actions"].([]any)
				return want(len(acts) == 2, "actions "+a.raw)
			}},
		{name: "delete rule", method: "DELETE", path: rules + "room/!a:localhost", status: 200},
		{name: "deleted rule", method: "GET", path: rules + "room/!a:localhost", status: 404, errcode: "M_NOT_FOUND"},
		{name: "delete default rule", method: "DELETE", path: rules + "override/.m.rule.master", status: 400, errcode: "M_INVALID_PARAM"},
		{name: "bad kind", method: "GET", path: rules + "elsewhere/x", status: 400},
		{name: "bob's rules are his own", method: "GET", path: rules + "room/!b:localhost", token: bob, status: 404, errcode: "M_NOT_FOUND"},

		// Account data, global and per room.
		{name: "missing account data", method: "GET", path: me + "/account_data/org.example.x", status: 404, errcode: "M_NOT_FOUND"},
		{name: "put account data", method: "PUT", path: me + "/account_data/org.example.x", body: map[string]any{"n": 1}, status: 200},
		{name: "get account data", method: "GET", path: me + "/account_data/org.example.x", status: 200,
			check: func(a answer) string { return want(a.body["n"] == 1.0, "content "+a.raw) }},
		{name: "server-controlled type", method: "PUT", path: me + "/account_data/m.push_rules", body: map[string]any{}, status: 405, errcode: "M_BAD_JSON"},
		{name: "account data of another user", method: "GET", path: "/_matrix/client/v3/user/@bob:localhost/account_data/org.example.x", status: 403, errcode: "M_FORBIDDEN"},
		{name: "put another user's account data", method: "PUT", path: me + "/account_data/org.example.x", token: bob, body: map[string]any{}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "put room account data", method: "PUT", path: me + "/rooms/" + room + "/account_data/org.example.y", body: map[string]any{"r": true}, status: 200},
		{name: "get room account data", method: "GET", path: me + "/rooms/" + room + "/account_data/org.example.y", status: 200,
			check: func(a answer) string { return want(a.body["r"] == true, "content "+a.raw) }},
		{name: "room account data elsewhere", method: "GET", path: me + "/rooms/!other:localhost/account_data/org.example.y", status: 404, errcode: "M_NOT_FOUND"},
		{name: "malformed room ID", method: "PUT", path: me + "/rooms/nonsense/account_data/org.example.y", body: map[string]any{}, status: 400, errcode: "M_INVALID_PARAM"},
		{name: "fully_read is the server's", method: "PUT", path: me + "/rooms/" + room + "/account_data/m.fully_read", body: map[string]any{}, status: 405, errcode: "M_BAD_JSON"},

		// Tags, kept as the room's m.tag account data.
		{name: "no tags", method: "GET", path: me + "/rooms/" + room + "/tags", status: 200,
			check: func(a answer) string {
				tags, ok := a.body["tags"].(map[string]any)
				return want(ok && len(tags) == 0, "tags "+a.raw)
			}},
		{name: "add tag", method: "PUT", path: me + "/rooms/" + room + "/tags/u.work", body: map[string]any{"order": 0.5}, status: 200},
		{name: "add favourite", method: "PUT", path: me + "/rooms/" + room + "/tags/m.favourite", body: map[string]any{}, status: 200},
		{name: "tags", method: "GET", path: me + "/rooms/" + room + "/tags", status: 200,
			check: func(a answer) string {
				tags, _ := a.body["tags"].(map[string]any)
				work, _ := tags["u.work"].(map[string]any)
				return want(len(tags) == 2 && work["order"] == 0.5, "tags "+a.raw)
			}},
		{name: "tags are m.tag", method: "GET", path: me + "/rooms/" + room + "/account_data/m.tag", status: 200,
			check: func(a answer) string {
				tags, _ := a.body["tags"].(map[string]any)
				return want(len(tags) == 2, "m.tag "+a.raw)
			}},
		{name: "delete tag", method: "DELETE", path: me + "/rooms/" + room + "/tags/u.work", status: 200},
		{name: "tag deleted", method: "GET", path: me + "/rooms/" + room + "/tags", status: 200,
			check: func(a answer) string {
				tags, _ := a.body["tags"].(map[string]any)
				_, fav := tags["m.favourite"]
				return want(len(tags) == 1 && fav, "tags "+a.raw)
			}},
		{name: "tags of another user", method: "PUT", path: "/_matrix/client/v3/user/@bob:localhost/rooms/" + room + "/tags/u.x", body: map[string]any{}, status: 403, errcode: "M_FORBIDDEN"},

		// Profile.
		{name: "set display name", method: "PUT", path: "/_matrix/client/v3/profile/@alice:localhost/displayname", body: map[string]any{"displayname": "Alice L."}, status: 200},
		{name: "set avatar", method: "PUT", path: "/_matrix/client/v3/profile/%40alice%3Alocalhost/avatar_url", body: map[string]any{"avatar_url": "mxc://localhost/a"}, status: 200},
		{name: "profile", method: "GET", path: "/_matrix/client/v3/profile/@alice:localhost", token: bob, status: 200,
			check: func(a answer) string {
				return want(a.body["displayname"] == "Alice L." && a.body["avatar_url"] == "mxc://localhost/a", "profile "+a.raw)
			}},
		{name: "display name", method: "GET", path: "/_matrix/client/v3/profile/@alice:localhost/displayname", status: 200,
			check: func(a answer) string { return want(a.body["displayname"] == "Alice L.", "displayname "+a.raw) }},
		{name: "delete avatar", method: "DELETE", path: "/_matrix/client/v3/profile/@alice:localhost/avatar_url", status: 200},
		{name: "avatar gone", method: "GET", path: "/_matrix/client/v3/profile/@alice:localhost/avatar_url", status: 404, errcode: "M_NOT_FOUND"},
		{name: "display name of a string", method: "PUT", path: "/_matrix/client/v3/profile/@alice:localhost/displayname", body: map[string]any{"displayname": 3}, status: 400, errcode: "M_BAD_JSON"},
		{name: "display name missing", method: "PUT", path: "/_matrix/client/v3/profile/@alice:localhost/displayname", body: map[string]any{}, status: 400, errcode: "M_MISSING_PARAM"},
		{name: "custom field refused", method: "PUT", path: "/_matrix/client/v3/profile/@alice:localhost/m.tz", body: map[string]any{"m.tz": "Europe/Paris"}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "custom field absent", method: "GET", path: "/_matrix/client/v3/profile/@alice:localhost/m.tz", status: 404, errcode: "M_NOT_FOUND"},
		{name: "another user's name", method: "PUT", path: "/_matrix/client/v3/profile/@bob:localhost/displayname", body: map[string]any{"displayname": "B"}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "unknown user's profile", method: "GET", path: "/_matrix/client/v3/profile/@nobody:localhost", status: 404, errcode: "M_NOT_FOUND"},

		// Presence.
		{name: "set presence", method: "PUT", path: "/_matrix/client/v3/presence/@alice:localhost/status", body: map[string]any{"presence": "unavailable", "status_msg": "away"}, status: 200},
		{name: "presence", method: "GET", path: "/_matrix/client/v3/presence/@alice:localhost/status", token: bob, status: 200,
			check: func(a answer) string {
				return want(a.body["presence"] == "unavailable" && a.body["status_msg"] == "away", "presence "+a.raw)
			}},
		{name: "bad presence", method: "PUT", path: "/_matrix/client/v3/presence/@alice:localhost/status", body: map[string]any{"presence": "asleep"}, status: 400},
		{name: "another user's presence", method: "PUT", path: "/_matrix/client/v3/presence/@bob:localhost/status", body: map[string]any{"presence": "online"}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "unknown user's presence", method: "GET", path: "/_matrix/client/v3/presence/@nobody:localhost/status", status: 404, errcode: "M_NOT_FOUND"},

		// Typing, receipts and read markers need a room that exists.
		{name: "typing for another user", method: "PUT", path: "/_matrix/client/v3/rooms/" + room + "/typing/@bob:localhost", body: map[string]any{"typing": true}, status: 403, errcode: "M_FORBIDDEN"},
		{name: "typing in an unknown room", method: "PUT", path: "/_matrix/client/v3/rooms/" + room + "/typing/@alice:localhost", body: map[string]any{"typing": true, "timeout": 1000}, status: 404, errcode: "M_NOT_FOUND"},
		{name: "receipt in an unknown room", method: "POST", path: "/_matrix/client/v3/rooms/" + room + "/receipt/m.read/$e", body: map[string]any{}, status: 404, errcode: "M_NOT_FOUND"},
		{name: "read markers in an unknown room", method: "POST", path: "/_matrix/client/v3/rooms/" + room + "/read_markers", body: map[string]any{"m.fully_read": "$e"}, status: 404, errcode: "M_NOT_FOUND"},

		// User directory: only users sharing a room, so nobody yet.
		{name: "directory", method: "POST", path: "/_matrix/client/v3/user_directory/search", body: map[string]any{"search_term": "bob"}, status: 200,
			check: func(a answer) string {
				results, ok := a.body["results"].([]any)
				return want(ok && len(results) == 0 && a.body["limited"] == false, "directory "+a.raw)
			}},
		{name: "directory without a term", method: "POST", path: "/_matrix/client/v3/user_directory/search", body: map[string]any{}, status: 400, errcode: "M_MISSING_PARAM"},
	}
	for _, s := range steps {
		token := s.token
		if token == "" {
			token = alice
		}
		path := strings.ReplaceAll(s.path, "{filter}", filterID)
		a := call(t, hs, s.method, path, token, s.body)
		if s.errcode != "" || s.status >= 400 {
			if a.status != s.status || (s.errcode != "" && a.body["errcode"] != s.errcode) {
				t.Errorf("%s: %s %s: got %d %s, want %d %s", s.name, s.method, path, a.status, a.raw, s.status, s.errcode)
			}
			continue
		}
		if a.status != s.status {
			t.Errorf("%s: %s %s: got %d %s, want %d", s.name, s.method, path, a.status, a.raw, s.status)
			continue
		}
		if a.header.Get(operation.CannedHeader) != "" {
			t.Errorf("%s: answered by the canned server", s.name)
		}
		if s.check != nil {
			if problem := s.check(a); problem != "" {
				t.Errorf("%s: %s", s.name, problem)
			}
		}
	}
}

// want returns problem unless ok.
func want(ok bool, problem string) string {
	if ok {
		return ""
	}
	return problem
}

// hasRule reports whether a push rule set (decoded JSON) has ruleID among
// its rules of kind.
func hasRule(ruleset any, kind, ruleID string) bool {
	set, _ := ruleset.(map[string]any)
	list, _ := set[kind].([]any)
	for _, r := range list {
		if rule, _ := r.(map[string]any); rule["rule_id"] == ruleID {
			return true
		}
	}
	return false
}

// ruleIDs lists, comma-separated, the IDs of a rule set's rules of kind.
func ruleIDs(ruleset map[string]any, kind string) string {
	list, _ := ruleset[kind].([]any)
	var ids []string
	for _, r := range list {
		rule, _ := r.(map[string]any)
		id, _ := rule["rule_id"].(string)
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}

// TestUserDataTypedAPI calls the per-user data endpoints through the
// generated typed client: its answers decode into the generated types and
// its errors match matrixerr codes.
func TestUserDataTypedAPI(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	token := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	api, err := clientserver.NewAPI(hs.URL, clientserver.WithRequestEditorFn(clientserver.RequestEditorFn(
		clientserver.Operations.BearerToken(func(context.Context) (string, error) { return token, nil }))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rules, err := api.GetPushRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rules.Global.Override == nil || len(*rules.Global.Override) == 0 {
		t.Fatalf("no override rules: %+v", rules.Global)
	}
	limit := 3
	f, err := api.DefineFilter(ctx, "@alice:localhost", clientserver.Filter{EventFields: &[]string{"type"}, Presence: &clientserver.EventFilter{Limit: &limit}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := api.GetFilter(ctx, "@alice:localhost", f.FilterID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Presence == nil || got.Presence.Limit == nil || *got.Presence.Limit != 3 {
		t.Errorf("filter came back as %+v", got)
	}
	order := float32(0.25)
	if err := api.SetRoomTag(ctx, "@alice:localhost", "!r:localhost", "u.x", clientserver.Tag{Order: &order}); err != nil {
		t.Fatal(err)
	}
	tags, err := api.GetRoomTags(ctx, "@alice:localhost", "!r:localhost")
	if err != nil {
		t.Fatal(err)
	}
	if tags.Tags == nil || (*tags.Tags)["u.x"].Order == nil || *(*tags.Tags)["u.x"].Order != order {
		t.Errorf("tags came back as %+v", tags.Tags)
	}

	for name, call := range map[string]struct {
		err  error
		want matrixerr.Code
	}{
		"account data of bob":  {api.SetAccountData(ctx, "@bob:localhost", "x.y", map[string]any{}), matrixerr.ErrForbidden},
		"unknown rule":         {api.GetPushRule(ctx, "room", "!none:localhost"), matrixerr.Code("M_NOT_FOUND")},
		"typing for bob":       {api.SetTyping(ctx, "!r:localhost", "@bob:localhost", clientserver.SetTypingRequest{Typing: true}), matrixerr.ErrForbidden},
		"unknown user profile": {second(api.GetUserProfile(ctx, "@nobody:localhost")), matrixerr.Code("M_NOT_FOUND")},
	} {
		if !errors.Is(call.err, call.want) {
			t.Errorf("%s: got %v, want %s", name, call.err, call.want)
		}
		var e *matrixerr.Error
		if errors.As(call.err, &e) && e.StatusCode != http.StatusForbidden && e.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d", name, e.StatusCode)
		}
	}
}

// second returns the error of a (value, error) pair.
func second[T any](_ T, err error) error { return err }
