package scenario

import (
	"bytes"
	"encoding/json"
	"math"

	"gopkg.in/yaml.v3"
)

// json converts the YAML value n to JSON, keeping the order of mapping
// keys.
func (p *parser) json(n *yaml.Node, path string) []byte {
	w := jsonWriter{expanding: map[*yaml.Node]bool{}}
	if err := w.write(n); err != nil {
		p.errorf(err.node, "%s: %s", path, err.msg)
		return nil
	}
	return w.buf.Bytes()
}

// bodyError is a value that JSON cannot represent.
type bodyError struct {
	node *yaml.Node
	msg  string
}

// jsonWriter writes YAML values as JSON.
type jsonWriter struct {
	buf       bytes.Buffer
	expanding map[*yaml.Node]bool // aliases being written, to catch an anchor inside itself
}

// write appends the JSON form of n.
func (w *jsonWriter) write(n *yaml.Node) *bodyError {
	switch n.Kind {
	case yaml.AliasNode:
		switch {
		case n.Alias == nil:
			return &bodyError{n, "alias *" + n.Value + " refers to nothing"}
		case w.expanding[n]:
			return &bodyError{n, "alias *" + n.Value + " refers to a value that contains it"}
		}
		w.expanding[n] = true
		defer delete(w.expanding, n)
		return w.write(n.Alias)
	case yaml.MappingNode:
		return w.object(n)
	case yaml.SequenceNode:
		w.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.write(item); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return w.scalar(n)
	}
	return &bodyError{n, "unexpected YAML node"}
}

// object appends the JSON object for the mapping n.
func (w *jsonWriter) object(n *yaml.Node) *bodyError {
	seen := map[string]bool{}
	w.buf.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		switch {
		case k.Kind != yaml.ScalarNode:
			return &bodyError{k, "keys must be strings, got " + describe(k)}
		case k.ShortTag() == "!!merge":
			return &bodyError{k, "merge keys (<<) are not supported"}
		case seen[k.Value]:
			return &bodyError{k, "duplicate key " + quote(k.Value)}
		}
		seen[k.Value] = true
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.buf.WriteString(quote(k.Value))
		w.buf.WriteByte(':')
		if err := w.write(n.Content[i+1]); err != nil {
			return err
		}
	}
	w.buf.WriteByte('}')
	return nil
}

// scalar appends the JSON value of the scalar n: null, a boolean, a
// number, or else its text as a string.
func (w *jsonWriter) scalar(n *yaml.Node) *bodyError {
	switch n.ShortTag() {
	case "!!null":
		w.buf.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return &bodyError{n, err.Error()}
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return &bodyError{n, "JSON has no " + n.Value}
		}
		out, err := json.Marshal(v)
		if err != nil {
			return &bodyError{n, err.Error()}
		}
		w.buf.Write(out)
		return nil
	}
	w.buf.WriteString(quote(n.Value))
	return nil
}

// quote returns s as a JSON string, leaving <, > and & as they are.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // never fails for a string
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
