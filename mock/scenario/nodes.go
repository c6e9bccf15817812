package scenario

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/operation"
)

// parser collects the problems of one scenario file while it reads it.
type parser struct {
	file   string
	ops    *operation.Table // the API rules are checked against; nil: none
	server string           // the server name, to resolve user IDs
	users  map[string]bool  // full IDs of the users the file declares
	probs  []Problem
}

// errorf records a problem at n.
func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, Problem{
		File: p.file,
		Line: max(n.Line, 1),
		Col:  max(n.Column, 1),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// err returns the problems found, sorted by position and without
// repetitions (a value used through several aliases has its problems
// reported once), or nil when there are none.
func (p *parser) err() error {
	if len(p.probs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.probs, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return &Error{Problems: slices.Compact(p.probs)}
}

// deref follows aliases to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names the YAML type of n for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "a timestamp"
	default:
		return "a value tagged " + tag
	}
}

// where introduces a path in messages about keys.
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// entry is a key of a mapping and its value.
type entry struct{ key, val *yaml.Node }

// fields are the entries of a mapping by key.
type fields map[string]entry

// val returns the value of key, or nil when the mapping lacks it.
func (f fields) val(key string) *yaml.Node {
	return f[key].val
}

// compare orders two keys by their position in the file; keys the
// mapping lacks come first.
func (f fields) compare(a, b string) int {
	pos := func(key string) (line, col int) {
		if k := f[key].key; k != nil {
			return k.Line, k.Column
		}
		return 0, 0
	}
	al, ac := pos(a)
	bl, bc := pos(b)
	return cmp.Or(cmp.Compare(al, bl), cmp.Compare(ac, bc))
}

// mapping checks that n is a mapping whose keys are all in allowed, each
// given once, and returns its entries. It reports false when n is not a
// mapping.
func (p *parser) mapping(n *yaml.Node, path string, allowed []string) (fields, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping, got %s", path, describe(n))
		return nil, false
	}
	f := make(fields, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, "keys must be strings, got %s %s", describe(k), where(path))
		case k.ShortTag() == "!!merge":
			p.errorf(k, "merge keys (<<) are not supported")
		case !slices.Contains(allowed, k.Value):
			p.errorf(k, "unknown key %q %s; allowed: %s", k.Value, where(path), strings.Join(allowed, ", "))
		case f[k.Value].key != nil:
			p.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, where(path), f[k.Value].key.Line)
		default:
			f[k.Value] = entry{k, n.Content[i+1]}
		}
	}
	return f, true
}

// empty reports whether n is a mapping without keys.
func empty(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.MappingNode && len(n.Content) == 0
}

// list checks that n is a sequence and returns its items.
func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a list, got %s", path, describe(n))
		return nil, false
	}
	return n.Content, true
}

// scalar checks that n is a scalar with the given YAML tag (such as
// "!!str") and returns it; want names the expected value in the message.
func (p *parser) scalar(n *yaml.Node, path, tag, want string) (*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag {
		p.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
		return nil, false
	}
	return n, true
}

// str reads a string.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	s, ok := p.scalar(n, path, "!!str", "a string")
	if !ok {
		return "", false
	}
	return s.Value, true
}

// nonEmpty reads a string that must not be empty.
func (p *parser) nonEmpty(n *yaml.Node, path string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && s == "" {
		p.errorf(n, "%s: must not be empty", path)
		return "", false
	}
	return s, ok
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := p.scalar(n, path, "!!bool", "true or false")
	if !ok {
		return false, false
	}
	var b bool
	if err := s.Decode(&b); err != nil {
		p.errorf(s, "%s: expected true or false, got %s", path, s.Value)
		return false, false
	}
	return b, true
}

// positive reads an integer from 1 to math.MaxInt32.
func (p *parser) positive(n *yaml.Node, path string) (int, bool) {
	s, ok := p.scalar(n, path, "!!int", "a positive integer")
	if !ok {
		return 0, false
	}
	var i int64
	switch err := s.Decode(&i); {
	case err != nil || i > math.MaxInt32:
		p.errorf(s, "%s: %s is too large", path, s.Value)
	case i < 1:
		p.errorf(s, "%s: must be at least 1, got %s", path, s.Value)
	default:
		return int(i), true
	}
	return 0, false
}

// enum reads a string that must be one of allowed.
func (p *parser) enum(n *yaml.Node, path string, allowed []string) (string, bool) {
	s, ok := p.str(n, path)
	if ok && !slices.Contains(allowed, s) {
		p.errorf(n, "%s: unknown value %q; allowed: %s", path, s, strings.Join(allowed, ", "))
		return "", false
	}
	return s, ok
}

// set reads a non-empty list of distinct values from allowed.
func (p *parser) set(n *yaml.Node, path string, allowed []string) ([]string, bool) {
	items, ok := p.list(n, path)
	if !ok {
		return nil, false
	}
	if len(items) == 0 {
		p.errorf(deref(n), "%s: list at least one value", path)
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := p.enum(item, fmt.Sprintf("%s[%d]", path, i), allowed)
		switch {
		case !ok:
		case slices.Contains(out, s):
			p.errorf(deref(item), "%s: %q is listed twice", path, s)
		default:
			out = append(out, s)
		}
	}
	return out, len(out) == len(items)
}

// durationHelp tells how to write a duration.
const durationHelp = `use a Go duration such as "90s", "5m" or "1h30m"`

// duration reads a non-negative Go duration; with never, the string
// "never" is allowed too and gives Never.
func (p *parser) duration(n *yaml.Node, path string, never bool) (time.Duration, bool) {
	help := durationHelp
	if never {
		help += `, or "never"`
	}
	s, ok := p.scalar(n, path, "!!str", "a duration ("+help+")")
	if !ok {
		return 0, false
	}
	if never && s.Value == "never" {
		return Never, true
	}
	d, err := time.ParseDuration(s.Value)
	switch {
	case err != nil:
		p.errorf(s, "%s: bad duration %q; %s", path, s.Value, help)
		return 0, false
	case d < 0:
		p.errorf(s, "%s: duration %q is negative", path, s.Value)
		return 0, false
	}
	return d, true
}

// lifetime reads a duration that must be longer than zero.
func (p *parser) lifetime(n *yaml.Node, path string, never bool) (time.Duration, bool) {
	d, ok := p.duration(n, path, never)
	if ok && d == 0 {
		p.errorf(n, "%s: must be longer than 0", path)
		return 0, false
	}
	return d, ok
}
