package specgen

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mxauth/mxauth/templates"
)

// goTypeKey is oapi-codegen's extension that replaces a schema's generated
// type with a Go type of our choosing.
const goTypeKey = "x-go-type"

// sumTypeKinds are the JSON types a type list can name, in the order they
// appear in a sum type's Go name.
var sumTypeKinds = []string{"string", "integer", "number", "boolean", "object", "array", "null"}

// sumTypeGo is the Go type each JSON type is read into.
var sumTypeGo = map[string]string{
	"string": "string", "integer": "int64", "number": "float64", "boolean": "bool",
	"object": "map[string]any", "array": "[]any",
}

// sumType is a Go type generated for a schema whose type is a list of two or
// more JSON types besides null (OpenAPI 3.1 `type: [string, object]`), which
// oapi-codegen cannot represent. It wraps the raw JSON and has helpers per
// type.
type sumType struct {
	Name  string   // StringOrObject
	Kinds []string // the JSON types besides null, in sumTypeKinds order
	Null  bool     // null is allowed too
}

// sumTypeName returns the Go name for a set of JSON types, such as
// StringOrObject or StringOrIntegerOrBooleanOrNull. It depends only on the
// set, so the same list gets the same type in every file and release.
func sumTypeName(kinds []string, null bool) string {
	words := make([]string, 0, len(kinds)+1)
	for _, k := range kinds {
		words = append(words, goName(k))
	}
	if null {
		words = append(words, "Null")
	}
	return strings.Join(words, "Or")
}

// sumTypeOf returns the sum type for a schema's type list, or false when the
// list has fewer than two types besides null (oapi-codegen handles those:
// [string, null] is a nullable string) or names an unknown type, which is
// left to oapi-codegen to report.
func sumTypeOf(s *openapi3.Schema) (sumType, bool) {
	if s == nil || s.Type == nil {
		return sumType{}, false
	}
	listed := map[string]bool{}
	for _, k := range *s.Type {
		if !slices.Contains(sumTypeKinds, k) {
			return sumType{}, false
		}
		listed[k] = true
	}
	var st sumType
	for _, k := range sumTypeKinds {
		switch {
		case !listed[k]:
		case k == "null":
			st.Null = true
		default:
			st.Kinds = append(st.Kinds, k)
		}
	}
	if len(st.Kinds) < 2 {
		return sumType{}, false
	}
	st.Name = sumTypeName(st.Kinds, st.Null)
	return st, true
}

// Describe lists the allowed JSON types in words: "a string or an object".
func (st sumType) Describe() string {
	words := slices.Clone(st.Kinds)
	if st.Null {
		words = append(words, "null")
	}
	for i, w := range words {
		if w == "integer" || w == "object" || w == "array" {
			words[i] = "an " + w
		} else if w != "null" {
			words[i] = "a " + w
		}
	}
	if len(words) == 2 {
		return words[0] + " or " + words[1]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Accepted is the Go case list of the JSON kinds UnmarshalJSON accepts: the
// listed types, integers where numbers are allowed, and null where it is.
func (st sumType) Accepted() string {
	kinds := slices.Clone(st.Kinds)
	if slices.Contains(kinds, "number") && !slices.Contains(kinds, "integer") {
		kinds = append(kinds, "integer")
	}
	if st.Null {
		kinds = append(kinds, "null")
	}
	quoted := make([]string, len(kinds))
	for i, k := range kinds {
		quoted[i] = strconv.Quote(k)
	}
	return strings.Join(quoted, ", ")
}

// rewriteTypeLists points every schema whose type is a list of several JSON
// types at a generated sum type (via x-go-type), and returns the sum types
// needed, sorted by name.
func rewriteTypeLists(doc *openapi3.T) []sumType {
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		st, ok := sumTypeOf(sr.Value)
		if !ok {
			return
		}
		if sr.Value.Extensions == nil {
			sr.Value.Extensions = map[string]any{}
		}
		sr.Value.Extensions[goTypeKey] = st.Name
	})
	return sumTypesIn(doc)
}

// sumTypeNames returns the set of the sum types' names.
func sumTypeNames(types []sumType) map[string]bool {
	names := make(map[string]bool, len(types))
	for _, st := range types {
		names[st.Name] = true
	}
	return names
}

// sumTypesIn returns the sum types that doc's schemas need, sorted by name,
// without changing doc.
func sumTypesIn(doc *openapi3.T) []sumType {
	found := map[string]sumType{}
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		if st, ok := sumTypeOf(sr.Value); ok {
			found[st.Name] = st
		}
	})
	out := make([]sumType, 0, len(found))
	for _, name := range sortedKeys(found) {
		out = append(out, found[name])
	}
	return out
}

var sumTypeTemplate = template.Must(template.New("sumtype.tmpl").Funcs(template.FuncMap{
	"title":  goName,
	"goType": func(kind string) string { return sumTypeGo[kind] },
}).ParseFS(templates.FS, "sumtype.tmpl"))

// renderSumTypes returns the Go declarations of the sum types.
func renderSumTypes(types []sumType) (string, error) {
	if len(types) == 0 {
		return "", nil
	}
	var b bytes.Buffer
	if err := sumTypeTemplate.Execute(&b, types); err != nil {
		return "", err
	}
	return b.String(), nil
}
