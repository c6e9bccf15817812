package specgen

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/mxauth/mxauth/templates"
)

// cannedOperation feeds templates/canned.tmpl: one operation's fixed answer.
type cannedOperation struct {
	Name        string // the Go name of the strict server method
	ID          string // the operationId as the spec gives it
	Status      int
	ContentType string // empty for an answer without a body
	Body        string
}

var cannedTemplate = template.Must(template.ParseFS(templates.FS, "canned.tmpl"))

// renderCanned writes the CannedServer for defs, the operations of a strict
// server; ids maps "METHOD path" to the operationId as the spec gives it.
func renderCanned(defs []codegen.OperationDefinition, ids map[string]string) (string, error) {
	ops := make([]cannedOperation, 0, len(defs))
	for _, d := range defs {
		op := cannedOperation{Name: d.OperationId, ID: ids[routeKey(d.Method, d.Path)], Status: 200}
		op.Status, op.ContentType, op.Body = cannedAnswer(d.Spec.Responses)
		ops = append(ops, op)
	}
	var b bytes.Buffer
	if err := cannedTemplate.Execute(&b, ops); err != nil {
		return "", err
	}
	return b.String(), nil
}

// cannedAnswer chooses the lowest 2xx answer of responses (200 with an
// empty JSON object when the spec lists none) and builds its body: JSON
// from the schema for a JSON answer, nothing for any other media type.
func cannedAnswer(responses *openapi3.Responses) (status int, contentType, body string) {
	status, contentType, body = 200, "application/json", "{}"
	if responses == nil {
		return
	}
	best := 0
	for code, ref := range responses.Map() {
		n, err := strconv.Atoi(code)
		if err != nil || n < 200 || n > 299 || (best != 0 && n >= best) || ref.Value == nil {
			continue
		}
		best = n
		status, contentType, body = n, "", ""
		if mt := ref.Value.Content.Get("application/json"); mt != nil {
			contentType, body = "application/json", "{}"
			if mt.Schema != nil {
				body = string(mustJSON(sample(mt.Schema, 0)))
			}
			continue
		}
		types := make([]string, 0, len(ref.Value.Content))
		for t := range ref.Value.Content {
			types = append(types, t)
		}
		if len(types) > 0 {
			slices.Sort(types)
			contentType = types[0]
		}
	}
	return
}

// mustJSON encodes v, which sample built from JSON values only.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("specgen: a canned body does not encode: " + err.Error())
	}
	return b
}

// sampleStrings are the placeholders for strings of a Matrix format.
var sampleStrings = map[string]string{
	"mx-user-id":     "@user:example.org",
	"mx-room-id":     "!room:example.org",
	"mx-room-alias":  "#room:example.org",
	"mx-event-id":    "$event",
	"mx-mxc-uri":     "mxc://example.org/media",
	"mx-server-name": "example.org",
	"uri":            "https://example.org/",
}

// maxSampleDepth bounds sample's walk, for recursive schemas.
const maxSampleDepth = 12

// sample returns a JSON value that ref's schema accepts: its example when
// it has one, else its first enum value, else the required properties of
// an object, an empty array (or one item when at least one is required),
// or an empty value of its type.
func sample(ref *openapi3.SchemaRef, depth int) any {
	if ref == nil || ref.Value == nil || depth > maxSampleDepth {
		return nil
	}
	s := ref.Value
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.AllOf) > 0:
		merged := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := sample(part, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		for k, v := range requiredProperties(s, depth) {
			merged[k] = v
		}
		return merged
	case len(s.OneOf) > 0:
		return sample(s.OneOf[0], depth+1)
	case len(s.AnyOf) > 0:
		return sample(s.AnyOf[0], depth+1)
	}
	t := s.Type
	switch {
	case t == nil || t.Includes("object") || len(s.Properties) > 0:
		return requiredProperties(s, depth)
	case t.Includes("array"):
		if s.MinItems > 0 {
			return []any{sample(s.Items, depth+1)}
		}
		return []any{}
	case t.Includes("string"):
		format := s.Format
		if f, ok := s.Extensions["x-pattern-format"].(string); ok {
			format = f
		}
		return sampleStrings[format]
	case t.Includes("integer"), t.Includes("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 0
	case t.Includes("boolean"):
		return false
	}
	return nil
}

// requiredProperties samples the required properties of an object schema.
func requiredProperties(s *openapi3.Schema, depth int) map[string]any {
	out := map[string]any{}
	for _, name := range s.Required {
		out[name] = sample(s.Properties[name], depth+1)
	}
	return out
}
