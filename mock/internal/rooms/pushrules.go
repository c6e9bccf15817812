package rooms

import (
	"slices"
	"strings"
)

// PushRule is one push rule. Conditions and actions are kept as decoded
// JSON, since the store does not evaluate them.
type PushRule struct {
	RuleID     string           `json:"rule_id"`
	Default    bool             `json:"default"`
	Enabled    bool             `json:"enabled"`
	Actions    []any            `json:"actions"`
	Conditions []map[string]any `json:"conditions,omitempty"`
	Pattern    string           `json:"pattern,omitempty"`
}

// Ruleset is a user's push rules by kind, each list in priority order: the
// answer of GET /pushrules/ is {"global": Ruleset}.
type Ruleset struct {
	Override  []PushRule `json:"override"`
	Content   []PushRule `json:"content"`
	Room      []PushRule `json:"room"`
	Sender    []PushRule `json:"sender"`
	Underride []PushRule `json:"underride"`
}

// pushRules is a user's rule set.
type pushRules struct{ rs Ruleset }

// kind returns the list of a kind, or nil for an unknown kind.
func (rs *Ruleset) kind(k string) *[]PushRule {
	switch k {
	case "override":
		return &rs.Override
	case "content":
		return &rs.Content
	case "room":
		return &rs.Room
	case "sender":
		return &rs.Sender
	case "underride":
		return &rs.Underride
	}
	return nil
}

// match builds an event_match condition.
func match(key, pattern string) map[string]any {
	return map[string]any{"kind": "event_match", "key": key, "pattern": pattern}
}

// Actions of the default rules.
var (
	notifySound     = []any{"notify", map[string]any{"set_tweak": "sound", "value": "default"}}
	notifyHighlight = []any{"notify", map[string]any{"set_tweak": "highlight"}}
	notifySoundHigh = []any{"notify", map[string]any{"set_tweak": "sound", "value": "default"}, map[string]any{"set_tweak": "highlight"}}
)

// defaultRules returns the spec's server-default rules (v1.18) for a user.
// Content, room and sender rules have no defaults.
func defaultRules(userID string) Ruleset {
	rule := func(id string, actions []any, conds ...map[string]any) PushRule {
		if conds == nil {
			conds = []map[string]any{}
		}
		return PushRule{RuleID: id, Default: true, Enabled: true, Actions: actions, Conditions: conds}
	}
	none := []any{}
	master := rule(".m.rule.master", none)
	master.Enabled = false
	oneToOne := map[string]any{"kind": "room_member_count", "is": "2"}
	return Ruleset{
		Override: []PushRule{
			master,
			rule(".m.rule.suppress_notices", none, match("content.msgtype", "m.notice")),
			rule(".m.rule.invite_for_me", notifySound, match("type", "m.room.member"), match("content.membership", "invite"), match("state_key", userID)),
			rule(".m.rule.member_event", none, match("type", "m.room.member")),
			rule(".m.rule.is_user_mention", notifySoundHigh, map[string]any{"kind": "event_property_contains", "key": `content.m\.mentions.user_ids`, "value": userID}),
			rule(".m.rule.is_room_mention", notifyHighlight,
				map[string]any{"kind": "event_property_is", "key": `content.m\.mentions.room`, "value": true},
				map[string]any{"kind": "sender_notification_permission", "key": "room"}),
			rule(".m.rule.tombstone", notifyHighlight, match("type", "m.room.tombstone"), match("state_key", "")),
			rule(".m.rule.reaction", none, match("type", "m.reaction")),
			rule(".m.rule.room.server_acl", none, match("type", "m.room.server_acl"), match("state_key", "")),
			rule(".m.rule.suppress_edits", none, map[string]any{"kind": "event_property_is", "key": `content.m\.relates_to.rel_type`, "value": "m.replace"}),
		},
		Content: []PushRule{},
		Room:    []PushRule{},
		Sender:  []PushRule{},
		Underride: []PushRule{
			rule(".m.rule.call", []any{"notify", map[string]any{"set_tweak": "sound", "value": "ring"}}, match("type", "m.call.invite")),
			rule(".m.rule.encrypted_room_one_to_one", notifySound, oneToOne, match("type", "m.room.encrypted")),
			rule(".m.rule.room_one_to_one", notifySound, oneToOne, match("type", "m.room.message")),
			rule(".m.rule.message", []any{"notify"}, match("type", "m.room.message")),
			rule(".m.rule.encrypted", []any{"notify"}, match("type", "m.room.encrypted")),
		},
	}
}

// rules returns the user's rule set, made from the defaults on first use.
// The caller holds s.mu for writing.
func (s *Store) rules(userID string) *Ruleset {
	u := s.user(userID)
	if u.push == nil {
		u.push = &pushRules{rs: defaultRules(userID)}
	}
	return &u.push.rs
}

// PushRules returns the user's rules.
func (s *Store) PushRules(userID string) Ruleset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneRules(*s.rules(userID))
}

// cloneRules copies a rule set's lists, so that callers never share them.
func cloneRules(rs Ruleset) Ruleset {
	for _, k := range []string{"override", "content", "room", "sender", "underride"} {
		l := rs.kind(k)
		*l = slices.Clone(*l)
	}
	return rs
}

// findRule returns the list of a kind and the index of a rule in it.
func (s *Store) findRule(userID, kind, ruleID string) (*[]PushRule, int, error) {
	l := s.rules(userID).kind(kind)
	if l == nil {
		return nil, -1, errf(ErrInvalidParam, "unknown push rule kind %q", kind)
	}
	i := slices.IndexFunc(*l, func(r PushRule) bool { return r.RuleID == ruleID })
	if i < 0 {
		return l, -1, errf(ErrNotFound, "unknown push rule %s/%s", kind, ruleID)
	}
	return l, i, nil
}

// PushRule returns one rule.
func (s *Store) PushRule(userID, kind, ruleID string) (PushRule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, i, err := s.findRule(userID, kind, ruleID)
	if err != nil {
		return PushRule{}, err
	}
	return (*l)[i], nil
}

// NewPushRule is the body of PUT /pushrules/global/{kind}/{ruleId}.
type NewPushRule struct {
	Actions    []any            `json:"actions"`
	Conditions []map[string]any `json:"conditions,omitempty"`
	Pattern    string           `json:"pattern,omitempty"`
}

// PutPushRule adds or replaces a user-defined rule. before and after (at most
// one) name a user-defined rule of the same kind to place it next to;
// without them a new rule goes first among the user's rules of its kind
// (after .m.rule.master for override) and a replaced rule keeps its place.
// Rule IDs starting with "." belong to the server (ErrInvalidParam); content
// rules need a pattern.
func (s *Store) PutPushRule(userID, kind, ruleID, before, after string, nr NewPushRule) error {
	if strings.HasPrefix(ruleID, ".") || ruleID == "" {
		return errf(ErrInvalidParam, "rule IDs starting with '.' are reserved for server-default rules")
	}
	if before != "" && after != "" {
		return errf(ErrInvalidParam, "give before or after, not both")
	}
	if kind == "content" && nr.Pattern == "" {
		return errf(ErrInvalidParam, "content rules need a pattern")
	}
	if nr.Actions == nil {
		return errf(ErrBadJSON, "actions are required")
	}
	s.mu.Lock()
	l, i, err := s.findRule(userID, kind, ruleID)
	if l == nil {
		s.mu.Unlock()
		return err
	}
	rule := PushRule{RuleID: ruleID, Enabled: true, Actions: nr.Actions, Conditions: nr.Conditions, Pattern: nr.Pattern}
	if i >= 0 && before == "" && after == "" {
		(*l)[i] = rule
	} else {
		if i >= 0 {
			*l = slices.Delete(*l, i, i+1)
		}
		at, err := placeRule(*l, kind, before, after)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		*l = slices.Insert(*l, at, rule)
	}
	s.pushRulesChanged(userID)
	return nil
}

// placeRule returns where a new rule goes in a list.
func placeRule(l []PushRule, kind, before, after string) (int, error) {
	anchor, offset := before, 0
	if after != "" {
		anchor, offset = after, 1
	}
	if anchor == "" {
		if kind == "override" && len(l) > 0 && l[0].RuleID == ".m.rule.master" {
			return 1, nil
		}
		return 0, nil
	}
	if strings.HasPrefix(anchor, ".") {
		return 0, errf(ErrInvalidParam, "a rule cannot be placed relative to server-default rule %s", anchor)
	}
	i := slices.IndexFunc(l, func(r PushRule) bool { return r.RuleID == anchor })
	if i < 0 {
		return 0, errf(ErrNotFound, "unknown push rule %s", anchor)
	}
	return i + offset, nil
}

// DeletePushRule removes a user-defined rule; server-default rules cannot be
// deleted (ErrInvalidParam).
func (s *Store) DeletePushRule(userID, kind, ruleID string) error {
	s.mu.Lock()
	l, i, err := s.findRule(userID, kind, ruleID)
	if err == nil && (*l)[i].Default {
		err = errf(ErrInvalidParam, "server-default rule %s cannot be deleted", ruleID)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	*l = slices.Delete(*l, i, i+1)
	s.pushRulesChanged(userID)
	return nil
}

// SetPushRuleEnabled enables or disables a rule.
func (s *Store) SetPushRuleEnabled(userID, kind, ruleID string, enabled bool) error {
	return s.editRule(userID, kind, ruleID, func(r *PushRule) { r.Enabled = enabled })
}

// SetPushRuleActions replaces a rule's actions.
func (s *Store) SetPushRuleActions(userID, kind, ruleID string, actions []any) error {
	if actions == nil {
		return errf(ErrBadJSON, "actions are required")
	}
	return s.editRule(userID, kind, ruleID, func(r *PushRule) { r.Actions = actions })
}

// editRule changes one rule in place.
func (s *Store) editRule(userID, kind, ruleID string, edit func(*PushRule)) error {
	s.mu.Lock()
	l, i, err := s.findRule(userID, kind, ruleID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	edit(&(*l)[i])
	s.pushRulesChanged(userID)
	return nil
}

// pushRulesChanged records the change for /sync (m.push_rules account data),
// releases s.mu (held for writing) and wakes the user.
func (s *Store) pushRulesChanged(userID string) {
	s.user(userID).pushPos = s.next()
	s.mu.Unlock()
	s.wake.notify(userID)
}

// pushRulesEvent returns the m.push_rules account data event. The caller
// holds s.mu; the user's data exists.
func (s *Store) pushRulesEvent(userID string) BasicEvent {
	u := s.w.users[userID]
	rs := defaultRules(userID)
	if u != nil && u.push != nil {
		rs = u.push.rs
	}
	return BasicEvent{Type: "m.push_rules", Content: mustJSON(map[string]Ruleset{"global": rs})}
}
