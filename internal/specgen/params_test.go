package specgen

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestStringUnionParameters: a parameter that is a room ID or an alias
// becomes a string; a union with a non-string alternative stays as it is.
func TestStringUnionParameters(t *testing.T) {
	str := openapi3.NewStringSchema().NewRef()
	strings := &openapi3.Schema{OneOf: openapi3.SchemaRefs{str, str}, Description: "a room ID or an alias"}
	mixed := &openapi3.Schema{AnyOf: openapi3.SchemaRefs{str, openapi3.NewIntegerSchema().NewRef()}}
	op := openapi3.NewOperation()
	op.AddParameter(openapi3.NewPathParameter("roomIdOrAlias").WithSchema(strings))
	op.AddParameter(openapi3.NewQueryParameter("mixed").WithSchema(mixed))
	doc := &openapi3.T{Paths: openapi3.NewPaths()}
	doc.AddOperation("/rooms/{roomIdOrAlias}", "GET", op)

	stringUnionParameters(doc)

	got := op.Parameters.GetByInAndName("path", "roomIdOrAlias").Schema.Value
	if !got.Type.Is(openapi3.TypeString) || len(got.OneOf) != 0 || got.Description != "a room ID or an alias" {
		t.Errorf("string union: %+v", got)
	}
	if kept := op.Parameters.GetByInAndName("query", "mixed").Schema.Value; kept != mixed {
		t.Error("a union with an integer alternative was changed")
	}
}
