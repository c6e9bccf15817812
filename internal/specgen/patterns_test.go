package specgen

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestPatternMapsAsAdditional(t *testing.T) {
	room := openapi3.NewSchemaRef("", &openapi3.Schema{Title: "Joined Room", Type: &openapi3.Types{"object"}})
	object := func(mutate func(*openapi3.Schema)) *openapi3.Schema {
		s := openapi3.NewObjectSchema()
		s.PatternProperties = openapi3.Schemas{"^!": room}
		mutate(s)
		return s
	}
	open := true
	for _, tc := range []struct {
		name    string
		schema  *openapi3.Schema
		rewrite bool
	}{
		{"one pattern", object(func(*openapi3.Schema) {}), true},
		{"two patterns", object(func(s *openapi3.Schema) { s.PatternProperties["^@"] = room }), false},
		{"with properties", object(func(s *openapi3.Schema) { s.Properties = openapi3.Schemas{"a": room} }), false},
		{"with additionalProperties", object(func(s *openapi3.Schema) { s.AdditionalProperties.Has = &open }), false},
	} {
		doc := &openapi3.T{Paths: openapi3.NewPaths(), Components: &openapi3.Components{
			Schemas: openapi3.Schemas{"Rooms": openapi3.NewSchemaRef("", tc.schema)},
		}}
		patternMapsAsAdditional(doc)
		got := tc.schema.AdditionalProperties.Schema == room && tc.schema.PatternProperties == nil
		if got != tc.rewrite {
			t.Errorf("%s: rewritten = %v, want %v", tc.name, got, tc.rewrite)
		}
	}
}
