package rooms

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// ruleIDs returns the IDs of a list of rules.
func ruleIDs(l []PushRule) []string {
	out := []string{}
	for _, r := range l {
		out = append(out, r.RuleID)
	}
	return out
}

func TestDefaultPushRules(t *testing.T) {
	w := newTestStore(t)
	rs := w.PushRules(alice)
	wantOverride := []string{".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me", ".m.rule.member_event",
		".m.rule.is_user_mention", ".m.rule.is_room_mention", ".m.rule.tombstone", ".m.rule.reaction", ".m.rule.room.server_acl", ".m.rule.suppress_edits"}
	wantUnderride := []string{".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"}
	if got := ruleIDs(rs.Override); !slices.Equal(got, wantOverride) {
		t.Fatalf("override = %v", got)
	}
	if got := ruleIDs(rs.Underride); !slices.Equal(got, wantUnderride) {
		t.Fatalf("underride = %v", got)
	}
	b, _ := json.Marshal(map[string]Ruleset{"global": rs})
	for _, want := range []string{
		`"content":[]`, `"room":[]`, `"sender":[]`,
		`{"rule_id":".m.rule.master","default":true,"enabled":false,"actions":[]}`,
		`{"key":"state_key","kind":"event_match","pattern":"` + alice + `"}`,
		`{"key":"state_key","kind":"event_match","pattern":""}`,
		`{"is":"2","kind":"room_member_count"}`,
		`{"key":"content.m\\.mentions.user_ids","kind":"event_property_contains","value":"` + alice + `"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rules JSON lacks %s", want)
		}
	}
}

func TestPushRuleOperations(t *testing.T) {
	w := newTestStore(t)
	tok := w.syncOf(t, alice, "", nil).NextBatch
	notify := []any{"notify"}
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"add an override", func() error {
			return w.PutPushRule(alice, "override", "mine", "", "", NewPushRule{Actions: notify, Conditions: []map[string]any{match("type", "x")}})
		}, nil},
		{"add one before it", func() error {
			return w.PutPushRule(alice, "override", "first", "mine", "", NewPushRule{Actions: notify})
		}, nil},
		{"add a content rule", func() error {
			return w.PutPushRule(alice, "content", "word", "", "", NewPushRule{Actions: notify, Pattern: "cake"})
		}, nil},
		{"content rule without pattern", func() error { return w.PutPushRule(alice, "content", "w2", "", "", NewPushRule{Actions: notify}) }, ErrInvalidParam},
		{"reserved ID", func() error {
			return w.PutPushRule(alice, "override", ".m.rule.mine", "", "", NewPushRule{Actions: notify})
		}, ErrInvalidParam},
		{"unknown kind", func() error { return w.PutPushRule(alice, "sideways", "x", "", "", NewPushRule{Actions: notify}) }, ErrInvalidParam},
		{"no actions", func() error { return w.PutPushRule(alice, "override", "x", "", "", NewPushRule{}) }, ErrBadJSON},
		{"before an unknown rule", func() error { return w.PutPushRule(alice, "override", "x", "nope", "", NewPushRule{Actions: notify}) }, ErrNotFound},
		{"after a default rule", func() error {
			return w.PutPushRule(alice, "override", "x", "", ".m.rule.master", NewPushRule{Actions: notify})
		}, ErrInvalidParam},
		{"delete a default rule", func() error { return w.DeletePushRule(alice, "override", ".m.rule.master") }, ErrInvalidParam},
		{"delete an unknown rule", func() error { return w.DeletePushRule(alice, "override", "nope") }, ErrNotFound},
		{"disable a default rule", func() error { return w.SetPushRuleEnabled(alice, "underride", ".m.rule.message", false) }, nil},
		{"change a default rule's actions", func() error { return w.SetPushRuleActions(alice, "override", ".m.rule.reaction", notify) }, nil},
		{"enable an unknown rule", func() error { return w.SetPushRuleEnabled(alice, "override", "nope", true) }, ErrNotFound},
		{"delete a user rule", func() error { return w.DeletePushRule(alice, "override", "first") }, nil},
	}
	for _, tt := range tests {
		if err := tt.op(); tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	rs := w.PushRules(alice)
	if got := ruleIDs(rs.Override)[:3]; !slices.Equal(got, []string{".m.rule.master", "mine", ".m.rule.suppress_notices"}) {
		t.Fatalf("override order = %v: user rules go after master, before the other defaults", got)
	}
	if r := must(w.PushRule(alice, "underride", ".m.rule.message")); r.Enabled {
		t.Fatal("the rule is still enabled")
	}
	if r := must(w.PushRule(alice, "override", ".m.rule.reaction")); !slices.Equal(r.Actions, notify) {
		t.Fatalf("actions = %v", r.Actions)
	}
	if r := must(w.PushRule(alice, "content", "word")); r.Pattern != "cake" || r.Default {
		t.Fatalf("content rule = %+v", r)
	}
	_, err := w.PushRule(alice, "override", "first")
	wantErr(t, err, ErrNotFound)
	// Other users keep the defaults; the change reaches alice's sync.
	if got := ruleIDs(w.PushRules(bob).Override); len(got) != 10 {
		t.Fatalf("bob's rules changed: %v", got)
	}
	res := w.syncOf(t, alice, tok, nil)
	if len(res.AccountData.Events) != 1 || res.AccountData.Events[0].Type != "m.push_rules" || !strings.Contains(string(res.AccountData.Events[0].Content), `"mine"`) {
		t.Fatalf("account data after the changes = %+v", res.AccountData.Events)
	}
}

func TestFilters(t *testing.T) {
	w := newTestStore(t)
	raw := json.RawMessage(`{"room": {"timeline": {"limit": 3}, "state": {"lazy_load_members": true}}}`)
	id := must(w.CreateFilter(alice, raw))
	id2 := must(w.CreateFilter(alice, json.RawMessage(`{}`)))
	if id == id2 {
		t.Fatal("two filters share an ID")
	}
	if got := string(must(w.FilterJSON(alice, id))); got != `{"room":{"timeline":{"limit":3},"state":{"lazy_load_members":true}}}` {
		t.Fatalf("stored filter = %s", got)
	}
	tests := []struct {
		name     string
		user     string
		param    string
		limit    int
		lazy     bool
		want     error
		wantNone bool
	}{
		{"stored", alice, id, 3, true, nil, false},
		{"inline", alice, `{"room":{"timeline":{"limit":7}}}`, 7, false, nil, false},
		{"none", alice, "", 0, false, nil, true},
		{"other user's ID", bob, id, 0, false, ErrNotFound, false},
		{"unknown ID", alice, "99", 0, false, ErrNotFound, false},
		{"bad inline JSON", alice, `{"room":`, 0, false, ErrBadJSON, false},
		{"negative limit", alice, `{"room":{"timeline":{"limit":-1}}}`, 0, false, ErrBadJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := w.SyncFilter(tt.user, tt.param)
			wantErr(t, err, tt.want)
			if tt.want != nil {
				return
			}
			if tt.wantNone != (f == nil) {
				t.Fatalf("filter = %+v", f)
			}
			if f != nil && (f.room().timeline().Limit != tt.limit || f.room().state().LazyLoadMembers != tt.lazy) {
				t.Fatalf("filter = %+v", f.Room)
			}
		})
	}
	_, err := w.CreateFilter(alice, json.RawMessage(`[]`))
	wantErr(t, err, ErrBadJSON)
}

func TestTypeMatches(t *testing.T) {
	tests := []struct {
		pattern, typ string
		want         bool
	}{
		{"m.room.message", "m.room.message", true},
		{"m.room.*", "m.room.message", true},
		{"m.*.message", "m.room.message", true},
		{"*", "anything", true},
		{"m.room.*", "m.reaction", false},
		{"m.room.message", "m.room.messages", false},
	}
	for _, tt := range tests {
		if got := typeMatches(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("typeMatches(%q, %q) = %v", tt.pattern, tt.typ, got)
		}
	}
}

func TestParseRoomEventFilter(t *testing.T) {
	f := must(ParseRoomEventFilter([]byte(`{"limit":4,"types":["m.room.message"],"lazy_load_members":true}`)))
	if f.Limit != 4 || !f.LazyLoadMembers || !slices.Equal(f.Types, []string{"m.room.message"}) {
		t.Fatalf("filter = %+v", f)
	}
	for _, bad := range []string{`{"limit":-2}`, `{`, `[]`} {
		_, err := ParseRoomEventFilter([]byte(bad))
		wantErr(t, err, ErrBadJSON)
	}
}
