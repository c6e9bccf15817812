package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/internal/yamlpos"
	"github.com/mxauth/mxauth/operation"
)

// Keys allowed in each section, in the order the documentation lists them.
var (
	topKeys    = []string{"description", "server", "oauth", "clock", "tokens", "limits", "users", "rules"}
	oauthKeys  = []string{"auto_approve", "metadata_names", "action_names", "refresh_replay", "code_replay"}
	limitKeys  = []string{"failed_attempts", "window"}
	expiryKeys = []string{"legacy", "oauth"}
	serverKeys = []string{"name", "versions", "auth", "guest_access", "unknown_endpoint", "refresh_errors"}
	clockKeys  = []string{"mode", "start"}
	tokenKeys  = []string{
		"access_lifetime", "refresh_lifetime", "login_token_lifetime", "expire_non_refreshable",
		"old_access_token_after_refresh", "soft_logout_on_failed_refresh", "soft_logout_on_expiry", "deterministic",
	}
	userKeys   = []string{"id", "password", "devices"}
	deviceKeys = []string{"id", "display_name", "access_token", "refresh_token", "expires_in"}
)

// allVersions are the spec versions a server may advertise, and does by
// default; DefaultVersions hands out copies.
var allVersions = []string{
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9",
	"v1.10", "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18",
}

// DefaultVersions returns the spec versions a server advertises unless told
// otherwise, v1.1 to v1.18: a new slice on each call.
func DefaultVersions() []string { return slices.Clone(allVersions) }

// DefaultStart returns where a virtual clock starts unless told otherwise:
// 2026-01-01 00:00:00 UTC.
func DefaultStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Syntax of names; scenario.schema.json uses the same patterns.
var (
	serverNameRE = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)
	localpartRE  = regexp.MustCompile(`^[a-z0-9._=/+-]+$`)
	tokenRE      = regexp.MustCompile(`^[!-~]+$`) // visible ASCII
)

// Parse reads a scenario from data. filename is used only in error
// messages. ops is the API the rules are checked against: the operations
// they may name, and which of them take an access token (a rule on the
// user or device of a request that carries none could never fire); nil
// accepts any operation and checks no rule against the API. When the
// scenario has problems, the error is an *Error listing all of them.
func Parse(filename string, data []byte, ops *operation.Table) (*Scenario, error) {
	p := &parser{file: filename, ops: ops, users: map[string]bool{}}
	s := &Scenario{
		Server: Server{
			Name:            "localhost",
			Versions:        DefaultVersions(),
			Auth:            []string{Legacy},
			UnknownEndpoint: Spec,
			RefreshErrors:   Spec,
		},
		OAuth:  OAuthSettings{MetadataNames: Stable, ActionNames: Stable, RefreshReplay: Strict, CodeReplay: Immediate},
		Limits: Limits{FailedAttempts: DefaultFailedAttempts, Window: DefaultLimitWindow},
		Clock:  Clock{Virtual: true, Start: DefaultStart()},
		Tokens: Tokens{
			AccessLifetime:     5 * time.Minute,
			RefreshLifetime:    24 * time.Hour,
			LoginTokenLifetime: 2 * time.Minute,
			SoftLogoutOnExpiry: SoftLogoutOnExpiry{Legacy: true, OAuth: true},
		},
	}
	if root := p.document(data); root != nil {
		p.scenario(root, s)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads the scenario file at path; see Parse. An error reading the
// file is returned as it is.
func Load(path string, ops *operation.Table) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, ops)
}

// document parses the YAML and returns its top-level node, or nil when the
// file is empty or not YAML.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntax(err, data)
		}
		return nil
	}
	switch err := dec.Decode(&next); {
	case err == nil:
		p.errorf(&next, "a scenario file holds one YAML document; this is a second one")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntax(err, data)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil
	}
	if expanded(root, map[*yaml.Node]int{}) > maxValues {
		p.errorf(root, "the document is too large: over %d values once aliases are expanded", maxValues)
		return nil
	}
	return root
}

// maxValues bounds the values of a document once aliases are expanded, so
// that a small file cannot make the parser do unbounded work.
const maxValues = 1_000_000

// expanded returns how many values n stands for once aliases are expanded,
// or a number above maxValues. sizes holds the nodes counted so far; an
// alias to a value that contains it counts as one.
func expanded(n *yaml.Node, sizes map[*yaml.Node]int) int {
	if size, ok := sizes[n]; ok {
		return size
	}
	sizes[n] = 1
	size := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		size += expanded(n.Alias, sizes)
	}
	for _, c := range n.Content {
		size = min(size+expanded(c, sizes), maxValues+1)
	}
	sizes[n] = size
	return size
}

// syntax records a YAML syntax error at the place yamlpos finds for it.
func (p *parser) syntax(err error, data []byte) {
	for _, q := range yamlpos.Problems(data, err) {
		p.probs = append(p.probs, Problem{File: p.file, Line: q.Line, Col: q.Col, Msg: "YAML syntax error: " + q.Msg})
	}
}

// scenario reads the top-level mapping into s. Sections are read in an
// order where each needs only those before it: users need the server name,
// rules need the users.
func (p *parser) scenario(root *yaml.Node, s *Scenario) {
	if root = deref(root); root.Kind != yaml.MappingNode {
		p.errorf(root, "a scenario is a mapping with the keys %s; got %s", strings.Join(topKeys, ", "), describe(root))
		return
	}
	f, _ := p.mapping(root, "", topKeys)
	if v := f.val("description"); v != nil {
		s.Description, _ = p.str(v, "description")
	}
	if v := f.val("server"); v != nil {
		p.serverSection(v, &s.Server)
	}
	p.server = s.Server.Name
	if v := f.val("oauth"); v != nil {
		p.oauthSection(v, &s.OAuth, slices.Contains(s.Server.Auth, OAuth))
	}
	if v := f.val("clock"); v != nil {
		p.clockSection(v, &s.Clock)
	}
	if v := f.val("tokens"); v != nil {
		p.tokensSection(v, &s.Tokens)
	}
	if v := f.val("limits"); v != nil {
		p.limitsSection(v, &s.Limits)
	}
	if v := f.val("users"); v != nil {
		s.Users = p.usersSection(v)
	}
	if v := f.val("rules"); v != nil {
		s.Rules = p.rulesSection(v)
	}
}

// oauthSection reads the OAuth 2.0 settings, which need oauth in
// server.auth.
func (p *parser) oauthSection(n *yaml.Node, o *OAuthSettings, on bool) {
	f, ok := p.mapping(n, "oauth", oauthKeys)
	if !ok {
		return
	}
	if !on {
		p.errorf(n, "oauth: these settings need oauth in server.auth")
		return
	}
	if v := f.val("auto_approve"); v != nil {
		if user, ok := p.nonEmpty(v, "oauth.auto_approve"); ok {
			if _, ok := p.userID(v, "oauth.auto_approve", user); ok {
				o.AutoApprove = user
			}
		}
	}
	if v := f.val("metadata_names"); v != nil {
		o.MetadataNames, _ = p.enum(v, "oauth.metadata_names", []string{Stable, Unstable, Both})
	}
	if v := f.val("action_names"); v != nil {
		o.ActionNames, _ = p.enum(v, "oauth.action_names", []string{Stable, MSC})
	}
	if v := f.val("refresh_replay"); v != nil {
		o.RefreshReplay, _ = p.enum(v, "oauth.refresh_replay", []string{Strict, MAS})
	}
	if v := f.val("code_replay"); v != nil {
		o.CodeReplay, _ = p.enum(v, "oauth.code_replay", []string{Immediate, Grace})
	}
}

// Defaults of the limits section: no honest client fails this often.
const (
	DefaultFailedAttempts = 30
	DefaultLimitWindow    = time.Minute
)

// limitsSection reads the limits on failed password and user code
// attempts.
func (p *parser) limitsSection(n *yaml.Node, l *Limits) {
	f, ok := p.mapping(n, "limits", limitKeys)
	if !ok {
		return
	}
	if v := f.val("failed_attempts"); v != nil {
		if s := deref(v); s.Kind == yaml.ScalarNode && s.ShortTag() == "!!str" && s.Value == "off" {
			l.FailedAttempts = -1
		} else if s, ok := p.scalar(v, "limits.failed_attempts", "!!int", "a number of attempts (1 or more) or off"); ok {
			if err := s.Decode(&l.FailedAttempts); err != nil || l.FailedAttempts < 1 {
				p.errorf(s, "limits.failed_attempts: %s is not a number of attempts; give 1 or more, or off", s.Value)
			}
		}
	}
	if v := f.val("window"); v != nil {
		l.Window, _ = p.lifetime(v, "limits.window", false)
	}
}

func (p *parser) serverSection(n *yaml.Node, s *Server) {
	f, ok := p.mapping(n, "server", serverKeys)
	if !ok {
		return
	}
	if v := f.val("name"); v != nil {
		if name, ok := p.str(v, "server.name"); ok {
			if serverNameRE.MatchString(name) {
				s.Name = name
			} else {
				p.errorf(v, "server.name: bad server name %q; use a host name or IP address with an optional port, such as example.org or localhost:8008", name)
			}
		}
	}
	if v := f.val("versions"); v != nil {
		s.Versions, _ = p.set(v, "server.versions", allVersions)
	}
	if v := f.val("auth"); v != nil {
		s.Auth, _ = p.set(v, "server.auth", []string{Legacy, OAuth})
	}
	if v := f.val("guest_access"); v != nil {
		s.GuestAccess, _ = p.boolean(v, "server.guest_access")
	}
	if v := f.val("unknown_endpoint"); v != nil {
		s.UnknownEndpoint, _ = p.enum(v, "server.unknown_endpoint", []string{Spec, Synapse})
	}
	if v := f.val("refresh_errors"); v != nil {
		s.RefreshErrors, _ = p.enum(v, "server.refresh_errors", []string{Spec, Synapse})
	}
}

func (p *parser) clockSection(n *yaml.Node, c *Clock) {
	f, ok := p.mapping(n, "clock", clockKeys)
	if !ok {
		return
	}
	if v := f.val("mode"); v != nil {
		mode, _ := p.enum(v, "clock.mode", []string{"virtual", "real"})
		c.Virtual = mode != "real"
	}
	e, ok := f["start"]
	switch {
	case !ok:
	case !c.Virtual:
		p.errorf(e.key, "clock.start: only a virtual clock has a start; remove start or set mode: virtual")
	default:
		c.Start, _ = p.timestamp(e.val, "clock.start")
	}
	if !c.Virtual {
		c.Start = time.Time{}
	}
}

// timestamp reads an RFC 3339 time, quoted or not.
func (p *parser) timestamp(n *yaml.Node, path string) (time.Time, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || n.ShortTag() == "!!timestamp") {
		if t, err := time.Parse(time.RFC3339Nano, n.Value); err == nil {
			return t.UTC(), true
		}
	}
	p.errorf(n, "%s: bad time %s; use RFC 3339, such as 2026-01-01T00:00:00Z", path, strconv.Quote(n.Value))
	return time.Time{}, false
}

func (p *parser) tokensSection(n *yaml.Node, t *Tokens) {
	f, ok := p.mapping(n, "tokens", tokenKeys)
	if !ok {
		return
	}
	if v := f.val("access_lifetime"); v != nil {
		t.AccessLifetime, _ = p.lifetime(v, "tokens.access_lifetime", true)
	}
	if v := f.val("refresh_lifetime"); v != nil {
		t.RefreshLifetime, _ = p.lifetime(v, "tokens.refresh_lifetime", true)
	}
	if v := f.val("login_token_lifetime"); v != nil {
		t.LoginTokenLifetime, _ = p.lifetime(v, "tokens.login_token_lifetime", true)
	}
	if v := f.val("expire_non_refreshable"); v != nil {
		t.ExpireNonRefreshable, _ = p.boolean(v, "tokens.expire_non_refreshable")
	}
	if v := f.val("old_access_token_after_refresh"); v != nil {
		old, _ := p.enum(v, "tokens.old_access_token_after_refresh", []string{"keep", "revoke"})
		t.RevokeOldAccessOnRefresh = old == "revoke"
	}
	if v := f.val("soft_logout_on_failed_refresh"); v != nil {
		t.SoftLogoutOnFailedRefresh, _ = p.boolean(v, "tokens.soft_logout_on_failed_refresh")
	}
	if v := f.val("soft_logout_on_expiry"); v != nil {
		p.softLogoutOnExpiry(v, &t.SoftLogoutOnExpiry)
	}
	if v := f.val("deterministic"); v != nil {
		if s, ok := p.scalar(v, "tokens.deterministic", "!!int", "a seed (an integer of 0 or more)"); ok {
			if err := s.Decode(&t.Seed); err != nil {
				p.errorf(s, "tokens.deterministic: the seed must be an integer from 0 to %d, got %s", uint64(math.MaxUint64), s.Value)
			}
			t.Deterministic = true
		}
	}
}

// softLogoutOnExpiry reads tokens.soft_logout_on_expiry: a boolean for
// both kinds of session, or a mapping with legacy and oauth.
func (p *parser) softLogoutOnExpiry(n *yaml.Node, s *SoftLogoutOnExpiry) {
	const path = "tokens.soft_logout_on_expiry"
	if deref(n).Kind != yaml.MappingNode {
		if b, ok := p.boolean(n, path); ok {
			s.Legacy, s.OAuth = b, b
		}
		return
	}
	f, ok := p.mapping(n, path, expiryKeys)
	if !ok {
		return
	}
	if v := f.val("legacy"); v != nil {
		s.Legacy, _ = p.boolean(v, path+".legacy")
	}
	if v := f.val("oauth"); v != nil {
		s.OAuth, _ = p.boolean(v, path+".oauth")
	}
}

// usersSection reads the users, checking that user IDs, device IDs (per
// user) and fixed tokens are unique.
func (p *parser) usersSection(n *yaml.Node) []User {
	items, ok := p.list(n, "users")
	if !ok {
		return nil
	}
	users := make([]User, 0, len(items))
	first := map[string]*yaml.Node{} // full user ID → its id node
	tokens := map[string]*yaml.Node{}
	for i, item := range items {
		path := fmt.Sprintf("users[%d]", i)
		f, ok := p.mapping(item, path, userKeys)
		if !ok {
			continue
		}
		var u User
		if v := f.val("id"); v == nil {
			p.errorf(deref(item), "%s: missing id", path)
		} else if id, ok := p.str(v, path+".id"); ok {
			if full, ok := p.userID(v, path+".id", id); ok {
				if prev := first[full]; prev != nil {
					p.errorf(v, "%s.id: duplicate user %s (first at line %d)", path, full, prev.Line)
				} else {
					first[full] = v
					p.users[full] = true
				}
			}
			u.ID = id
		}
		if v := f.val("password"); v != nil {
			u.Password, _ = p.str(v, path+".password")
		}
		if v := f.val("devices"); v != nil {
			u.Devices = p.devices(v, path+".devices", tokens)
		}
		users = append(users, u)
	}
	return users
}

// devices reads one user's devices. tokens maps the fixed tokens seen so
// far, in any user, to where they were first given.
func (p *parser) devices(n *yaml.Node, path string, tokens map[string]*yaml.Node) []Device {
	items, ok := p.list(n, path)
	if !ok {
		return nil
	}
	devices := make([]Device, 0, len(items))
	first := map[string]*yaml.Node{}
	for i, item := range items {
		dpath := fmt.Sprintf("%s[%d]", path, i)
		f, ok := p.mapping(item, dpath, deviceKeys)
		if !ok {
			continue
		}
		var d Device
		if v := f.val("id"); v == nil {
			p.errorf(deref(item), "%s: missing id", dpath)
		} else if id, ok := p.visible(v, dpath+".id"); ok {
			if prev := first[id]; prev != nil {
				p.errorf(v, "%s.id: duplicate device %s (first at line %d)", dpath, id, prev.Line)
			} else {
				first[id] = v
			}
			d.ID = id
		}
		if v := f.val("display_name"); v != nil {
			d.DisplayName, _ = p.str(v, dpath+".display_name")
		}
		// Check the tokens in file order, so a repeated one is reported
		// where it is repeated.
		keys := []string{"access_token", "refresh_token"}
		slices.SortFunc(keys, f.compare)
		for _, key := range keys {
			v := f.val(key)
			if v == nil {
				continue
			}
			if tok, ok := p.visible(v, dpath+"."+key); ok {
				if prev := tokens[tok]; prev != nil {
					p.errorf(v, "%s.%s: token %q is already used (at line %d); fixed tokens must be unique", dpath, key, tok, prev.Line)
				} else {
					tokens[tok] = v
				}
				if key == "access_token" {
					d.AccessToken = tok
				} else {
					d.RefreshToken = tok
				}
			}
		}
		if v := f.val("expires_in"); v != nil {
			d.ExpiresIn, _ = p.lifetime(v, dpath+".expires_in", true)
		}
		devices = append(devices, d)
	}
	return devices
}

// visible reads a non-empty string of visible ASCII characters, as device
// IDs and tokens must be.
func (p *parser) visible(n *yaml.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && !tokenRE.MatchString(s) {
		p.errorf(n, "%s: %q must be visible ASCII without spaces", path, s)
		return "", false
	}
	return s, ok
}

// userID checks a user as written, a localpart or a full user ID on this
// server, and returns the full ID.
func (p *parser) userID(n *yaml.Node, path, id string) (string, bool) {
	local, ok := strings.CutPrefix(id, "@")
	if ok {
		var server string
		if local, server, ok = strings.Cut(local, ":"); !ok || !localpartRE.MatchString(local) {
			p.errorf(n, "%s: bad user ID %q; write a localpart such as alice or a full ID such as @alice:%s", path, id, p.server)
			return "", false
		}
		if server != p.server {
			p.errorf(n, "%s: user %s is not on this server (%s)", path, id, p.server)
			return "", false
		}
	} else if !localpartRE.MatchString(local) {
		p.errorf(n, "%s: bad localpart %q; use only a-z, 0-9 and . _ = - / +", path, id)
		return "", false
	}
	return "@" + local + ":" + p.server, true
}
