package scenario

import (
	"cmp"
	"fmt"
	"mime"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/internal/nearest"
	"github.com/mxauth/mxauth/operation"
)

var (
	ruleKeys     = []string{"name", "when", "then", "times"}
	whenKeys     = []string{"at", "request", "nth", "every", "from", "to", "after_rule"}
	requestKeys  = []string{"operation", "method", "path", "user", "device"}
	targetKeys   = []string{"user", "device"}
	respondKeys  = []string{"status", "headers", "body", "body_text", "content_type"}
	methods      = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	pathRE       = regexp.MustCompile(`^/[^?#\s]*$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// effectKeys are the keys of then, in the order effects apply.
var effectKeys = func() []string {
	keys := make([]string, len(effectOrder))
	for i, k := range effectOrder {
		keys[i] = string(k)
	}
	return keys
}()

// rulesSection reads the rules, then checks their names and after_rule
// references.
func (p *parser) rulesSection(n *yaml.Node) []Rule {
	items, ok := p.list(n, "rules")
	if !ok {
		return nil
	}
	rules := make([]Rule, len(items))
	afters := make([]*yaml.Node, len(items)) // each rule's after_rule value
	index := map[string]int{}                // rule name → index
	for i, item := range items {
		path := fmt.Sprintf("rules[%d]", i)
		var name *yaml.Node
		rules[i], name, afters[i] = p.rule(item, path)
		if name == nil {
			continue
		}
		if j, dup := index[rules[i].Name]; dup {
			p.errorf(name, "%s.name: duplicate rule name %q (first at rules[%d])", path, rules[i].Name, j)
		} else {
			index[rules[i].Name] = i
		}
	}
	for i, after := range afters {
		if after == nil {
			continue
		}
		path := fmt.Sprintf("rules[%d].when.after_rule", i)
		name := rules[i].When.AfterRule
		switch j, ok := index[name]; {
		case !ok:
			p.errorf(after, "%s: unknown rule %q", path, name)
		case j == i:
			p.errorf(after, "%s: rule %q waits for itself and would never fire", path, name)
		default:
			if cycle := waitCycle(rules, index, i); cycle != nil {
				p.errorf(after, "%s: rules wait for each other in a circle (%s) and would never fire", path, strings.Join(cycle, " → "))
			}
		}
	}
	return rules
}

// waitCycle returns the names along the after_rule chain from rule i back
// to i, or nil when the chain does not return to i or i is not the first
// of its circle in the file (so that each circle is reported once).
func waitCycle(rules []Rule, index map[string]int, i int) []string {
	names := []string{rules[i].Name}
	for j, ok := index[rules[i].When.AfterRule]; ok; j, ok = index[rules[j].When.AfterRule] {
		switch {
		case j < i:
			return nil
		case j == i:
			return append(names, rules[i].Name)
		case len(names) > len(rules):
			return nil // a circle that does not pass through i
		}
		names = append(names, rules[j].Name)
	}
	return nil
}

// rule reads one rule. It also returns the nodes of its name and its
// after_rule, nil when absent, for the checks across rules.
func (p *parser) rule(n *yaml.Node, path string) (r Rule, name, after *yaml.Node) {
	r.Times, r.Line = 1, deref(n).Line
	f, ok := p.mapping(n, path, ruleKeys)
	if !ok {
		return r, nil, nil
	}
	if v := f.val("name"); v != nil {
		if s, ok := p.nonEmpty(v, path+".name"); ok {
			r.Name, name = s, v
		}
	}
	// Only a readable when makes a time rule, whose effects must name
	// their user: a broken when gets no second complaint about that.
	timeRule := false
	if v := f.val("when"); v == nil {
		p.errorf(deref(n), "%s: missing when", path)
	} else {
		r.When, after = p.trigger(v, path+".when")
		timeRule = r.When.Request == nil && deref(v).Kind == yaml.MappingNode && !empty(v)
	}
	if v := f.val("then"); v == nil {
		p.errorf(deref(n), "%s: missing then", path)
	} else {
		r.Then = p.effects(v, path+".then", timeRule)
	}
	if v := f.val("times"); v != nil {
		r.Times = p.times(v, path+".times")
	}
	return r, name, after
}

// times reads a positive integer or "always" (0).
func (p *parser) times(n *yaml.Node, path string) int {
	n = deref(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		times, _ := p.positive(n, path)
		return times
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str":
		p.errorf(n, `%s: expected a positive integer or "always", got %s`, path, describe(n))
	case n.Value != "always":
		p.errorf(n, `%s: expected a positive integer or "always", got %q`, path, n.Value)
	}
	return 0
}

// trigger reads a rule's when. It also returns the node of after_rule.
func (p *parser) trigger(n *yaml.Node, path string) (t Trigger, after *yaml.Node) {
	f, ok := p.mapping(n, path, whenKeys)
	if !ok {
		return t, nil
	}
	if empty(n) {
		p.errorf(deref(n), "%s: no condition; give at least one of %s", path, strings.Join(whenKeys, ", "))
	}
	if v := f.val("at"); v != nil {
		t.At, _ = p.duration(v, path+".at", false)
	}
	if v := f.val("request"); v != nil {
		t.Request = p.request(v, path+".request")
	}
	counters := []struct {
		key string
		dst *int
	}{{"nth", &t.Nth}, {"every", &t.Every}, {"from", &t.From}, {"to", &t.To}}
	for _, c := range counters {
		if v := f.val(c.key); v != nil {
			*c.dst, _ = p.positive(v, path+"."+c.key)
			if t.Request == nil {
				t.Request = &RequestMatch{} // counting every request
			}
		}
	}
	if f.val("nth") != nil {
		for _, other := range []string{"every", "from", "to"} {
			if o, ok := f[other]; ok {
				p.errorf(o.key, "%s: nth and %s exclude each other; nth fires on one request only", path, other)
			}
		}
	}
	if t.From > 0 && t.To > 0 && t.From > t.To {
		p.errorf(f["to"].key, "%s: the window from %d to %d is empty; from must not be greater than to", path, t.From, t.To)
	}
	if v := f.val("after_rule"); v != nil {
		if name, ok := p.nonEmpty(v, path+".after_rule"); ok {
			t.AfterRule, after = name, v
		}
	}
	return t, after
}

// request reads the request conditions of a trigger.
func (p *parser) request(n *yaml.Node, path string) *RequestMatch {
	f, ok := p.mapping(n, path, requestKeys)
	if !ok {
		return &RequestMatch{}
	}
	var m RequestMatch
	if v := f.val("operation"); v != nil {
		if op, ok := p.nonEmpty(v, path+".operation"); ok {
			p.knownOperation(v, path+".operation", op)
			m.Operation = op
		}
		for _, other := range []string{"method", "path"} {
			if o, ok := f[other]; ok {
				p.errorf(o.key, "%s: operation and %s exclude each other; give either operation or method and path", path, other)
			}
		}
	}
	if v := f.val("method"); v != nil {
		m.Method, _ = p.enum(v, path+".method", methods)
	}
	if v := f.val("path"); v != nil {
		if s, ok := p.str(v, path+".path"); ok {
			if pathRE.MatchString(s) {
				m.Path = s
			} else {
				p.errorf(v, "%s.path: bad path %q; give the URL path only, starting with /, such as /_matrix/client/v3/account/whoami", path, s)
			}
		}
	}
	if v := f.val("user"); v != nil {
		m.User, _ = p.knownUser(v, path+".user")
	}
	if v := f.val("device"); v != nil {
		m.Device, _ = p.visible(v, path+".device")
	}
	if m.User != "" || m.Device != "" {
		who := cmp.Or(f["user"], f["device"])
		if why := p.tokenless(&m); why != "" {
			p.errorf(who.key, "%s: this rule can never fire: %s, so no request to it has a user or device; leave out user and device", path, why)
		}
	}
	return &m
}

// knownOperation checks that the API has the operation op, and suggests
// the closest ones when it does not: by name, and by path (whoami finds
// getTokenOwner, served at /account/whoami).
func (p *parser) knownOperation(n *yaml.Node, path, op string) {
	if p.ops == nil {
		return
	}
	if _, ok := p.ops.ByID(op); ok {
		return
	}
	var ids, byPath []string
	word := "/" + strings.ToLower(op)
	for _, info := range p.ops.All() {
		ids = append(ids, info.ID)
		if strings.Contains(strings.ToLower(info.Path)+"/", word+"/") {
			byPath = append(byPath, info.ID)
		}
	}
	if near := nearest.Names(op, ids, byPath...); len(near) > 0 {
		p.errorf(n, "%s: unknown operation %q (did you mean %s?)", path, op, strings.Join(near, ", "))
		return
	}
	p.errorf(n, "%s: unknown operation %q; give an operationId of the client-server API, such as getTokenOwner", path, op)
}

// tokenless says why no request m selects can carry an access token, or
// returns "" when some may: m names an operation that takes none, or a
// method and path that only such operations serve, or a path outside the
// API (whose requests no token is read for).
func (p *parser) tokenless(m *RequestMatch) string {
	if p.ops == nil {
		return ""
	}
	if m.Operation != "" {
		if op, ok := p.ops.ByID(m.Operation); ok && op.Auth == operation.AuthNone {
			return fmt.Sprintf("operation %s takes no access token", op.ID)
		}
		return ""
	}
	if m.Path == "" {
		return ""
	}
	candidates := methods
	if m.Method != "" {
		candidates = []string{m.Method}
	}
	var served []string
	for _, method := range candidates {
		if op, ok := p.ops.Match(method, m.Path); ok {
			if op.Auth != operation.AuthNone {
				return ""
			}
			served = append(served, op.ID)
		}
	}
	if len(served) == 0 {
		return "no operation of the API is served there, and the mock reads no access token outside the API"
	}
	if len(served) == 1 {
		return fmt.Sprintf("operation %s takes no access token", served[0])
	}
	return fmt.Sprintf("operations %s take no access token", strings.Join(served, " and "))
}

// knownUser reads a reference to a user the scenario declares.
func (p *parser) knownUser(n *yaml.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if !ok {
		return "", false
	}
	full, ok := p.userID(n, path, s)
	if !ok {
		return "", false
	}
	if !p.users[full] {
		p.errorf(n, "%s: unknown user %q; list it under users", path, s)
		return "", false
	}
	return s, true
}

// effects reads a rule's then. In a time rule, effects on a device must
// name the user.
func (p *parser) effects(n *yaml.Node, path string, timeRule bool) []Effect {
	f, ok := p.mapping(n, path, effectKeys)
	if !ok {
		return nil
	}
	if empty(n) {
		p.errorf(deref(n), "%s: no effect; give at least one of %s", path, strings.Join(effectKeys, ", "))
	}
	if d, ok := f[string(DropConnection)]; ok && f.val(string(Respond)) != nil {
		p.errorf(d.key, "%s: respond and drop_connection exclude each other", path)
	}
	if l, ok := f[string(LoseAnswer)]; ok && (f.val(string(Respond)) != nil || f.val(string(DropConnection)) != nil) {
		p.errorf(l.key, "%s: lose_answer needs the real answer, so it excludes respond and drop_connection", path)
	}
	if l, ok := f[string(LoseAnswer)]; ok && timeRule {
		p.errorf(l.key, "%s: lose_answer needs a request; give the rule a request condition", path)
	}
	var effects []Effect
	for _, kind := range effectOrder {
		e, ok := f[string(kind)]
		if !ok {
			continue
		}
		epath := path + "." + string(kind)
		eff := Effect{Kind: kind}
		switch kind {
		case Delay:
			eff.Delay, _ = p.lifetime(e.val, epath, false)
		case Respond:
			eff.Response = p.respond(e.val, epath)
		case DropConnection:
			if drop, ok := p.boolean(e.val, epath); ok && !drop {
				p.errorf(e.val, "%s: only true is allowed; leave the key out instead", epath)
			}
		case LoseAnswer:
			eff.Loss, _ = p.enum(e.val, epath, []string{LostConnection, LostBadGateway})
		default:
			eff.User, eff.Device = p.target(e, epath, timeRule)
		}
		effects = append(effects, eff)
	}
	return effects
}

// target reads the user and device an effect acts on: a mapping, or
// nothing for the request's own.
func (p *parser) target(e entry, path string, timeRule bool) (user, device string) {
	if v := deref(e.val); v.Kind != yaml.ScalarNode || v.ShortTag() != "!!null" {
		f, ok := p.mapping(v, path, targetKeys)
		if !ok {
			return "", ""
		}
		if v := f.val("user"); v != nil {
			if user, ok = p.knownUser(v, path+".user"); !ok {
				return "", ""
			}
		}
		if v := f.val("device"); v != nil {
			device, _ = p.visible(v, path+".device")
		}
	}
	if timeRule && user == "" {
		p.errorf(e.key, "%s: give user; a rule without a request condition has no request to take the user from", path)
	}
	return user, device
}

// respond reads the answer of a respond effect.
func (p *parser) respond(n *yaml.Node, path string) Response {
	r := Response{Status: 200}
	f, ok := p.mapping(n, path, respondKeys)
	if !ok {
		return r
	}
	if v := f.val("status"); v != nil {
		if s, ok := p.scalar(v, path+".status", "!!int", "an HTTP status code"); ok {
			if err := s.Decode(&r.Status); err != nil || r.Status < 100 || r.Status > 599 {
				p.errorf(s, "%s.status: %s is not an HTTP status code (100 to 599)", path, s.Value)
			}
		}
	}
	if v := f.val("headers"); v != nil {
		r.Headers = p.headers(v, path+".headers")
	}
	if v := f.val("body"); v != nil {
		r.Body = p.json(v, path+".body")
		r.ContentType = "application/json"
	}
	if e, ok := f["body_text"]; ok {
		if f.val("body") != nil {
			p.errorf(e.key, "%s: body and body_text exclude each other", path)
		}
		if text, ok := p.str(e.val, path+".body_text"); ok {
			r.Body, r.ContentType = []byte(text), "text/plain"
		}
	}
	if e, ok := f["content_type"]; ok {
		if f.val("body_text") == nil {
			p.errorf(e.key, "%s: content_type goes with body_text only (body is always application/json)", path)
		} else if ct, ok := p.str(e.val, path+".content_type"); ok {
			if _, _, err := mime.ParseMediaType(ct); err != nil {
				p.errorf(e.val, "%s.content_type: bad media type %q", path, ct)
			}
			r.ContentType = ct
		}
	}
	return r
}

// headers reads the extra header fields of a response. Values may be
// strings, numbers or booleans, sent as written.
func (p *parser) headers(n *yaml.Node, path string) map[string]string {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping, got %s", path, describe(n))
		return nil
	}
	h := make(map[string]string, len(n.Content)/2)
	first := map[string]*yaml.Node{} // canonical name → key
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || !headerNameRE.MatchString(k.Value) {
			p.errorf(k, "%s: bad header name %q", path, k.Value)
			continue
		}
		canon := strings.ToLower(k.Value)
		if prev := first[canon]; prev != nil {
			p.errorf(k, "%s: duplicate header %s (first at line %d)", path, k.Value, prev.Line)
			continue
		}
		first[canon] = k
		switch {
		case v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null":
			p.errorf(v, "%s.%s: expected a string, number or boolean, got %s", path, k.Value, describe(v))
		case strings.ContainsAny(v.Value, "\r\n"):
			p.errorf(v, "%s.%s: a header value must be on one line", path, k.Value)
		default:
			h[k.Value] = v.Value
		}
	}
	return h
}
