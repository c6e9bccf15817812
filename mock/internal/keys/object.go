package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// object is a signed JSON object (device keys, a cross-signing key): its
// top-level fields apart from "signatures", and its signatures by signer
// user ID then key ID.
type object struct {
	fields map[string]json.RawMessage
	sigs   map[string]map[string]string
}

// parseObject parses raw as a signed object. ErrBadJSON if raw is not a
// JSON object or its signatures are not a map of maps of strings.
func parseObject(raw json.RawMessage) (*object, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: %s", ErrBadJSON, abbreviate(raw))
	}
	o := &object{fields: fields, sigs: make(map[string]map[string]string)}
	if raw, ok := fields["signatures"]; ok {
		delete(fields, "signatures")
		if err := json.Unmarshal(raw, &o.sigs); err != nil || o.sigs == nil {
			return nil, fmt.Errorf("%w: signatures: %s", ErrBadJSON, abbreviate(raw))
		}
	}
	return o, nil
}

// abbreviate returns raw for an error message, cut if long.
func abbreviate(raw []byte) string {
	const limit = 60
	if len(raw) > limit {
		return string(raw[:limit]) + "…"
	}
	return string(raw)
}

// str returns the string field name, or "" if absent or not a string.
func (o *object) str(name string) string {
	var v string
	_ = json.Unmarshal(o.fields[name], &v)
	return v
}

// hasPublicKey reports whether the object's "keys" map holds pub as a
// value: signatures/upload names a cross-signing key by its public key.
func (o *object) hasPublicKey(pub string) bool {
	var keys map[string]string
	_ = json.Unmarshal(o.fields["keys"], &keys)
	for _, k := range keys {
		if k == pub {
			return true
		}
	}
	return false
}

// sameKey reports whether o and p have the same fields, signatures aside.
func (o *object) sameKey(p *object) bool {
	a, _ := json.Marshal(o.fields) // keys sorted, values compacted
	b, _ := json.Marshal(p.fields)
	return bytes.Equal(a, b)
}

// addSignatures merges sigs, made by signer, into o and reports
// whether anything changed.
func (o *object) addSignatures(signer string, sigs map[string]string) bool {
	if len(sigs) == 0 {
		return false
	}
	mine := o.sigs[signer]
	if mine == nil {
		mine = make(map[string]string)
		o.sigs[signer] = mine
	}
	changed := false
	for keyID, sig := range sigs {
		if mine[keyID] != sig {
			mine[keyID], changed = sig, true
		}
	}
	return changed
}

// addAllSignatures merges every signature of p into o and reports whether
// anything changed.
func (o *object) addAllSignatures(p *object) bool {
	changed := false
	for signer, sigs := range p.sigs {
		changed = o.addSignatures(signer, sigs) || changed
	}
	return changed
}

// json renders the object with its signatures and with extra fields set
// (none of which may be "signatures").
func (o *object) json(extra map[string]any) json.RawMessage {
	out := make(map[string]any, len(o.fields)+len(extra)+1)
	for k, v := range o.fields {
		out[k] = v
	}
	maps.Copy(out, extra)
	if len(o.sigs) > 0 {
		out["signatures"] = o.sigs
	}
	b, _ := json.Marshal(out) // cannot fail: every value came from JSON
	return b
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// clone returns a copy of o that later changes to o do not reach. Field
// values are never changed in place, so they are shared.
func (o *object) clone() *object {
	c := &object{fields: maps.Clone(o.fields), sigs: make(map[string]map[string]string, len(o.sigs))}
	for signer, sigs := range o.sigs {
		c.sigs[signer] = maps.Clone(sigs)
	}
	return c
}
