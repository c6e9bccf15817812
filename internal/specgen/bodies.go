package specgen

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// nameInlineBodies gives each inline object that an operation takes or
// returns a component schema named after the operation, the name a person
// would write: login's request body becomes LoginRequest and its 200 answer
// LoginResponse, where oapi-codegen would leave an anonymous struct (or
// call it Login200JSONResponseBody). A second success answer with its own
// object takes the status too (PutRoomKeys202Response), an error answer the
// status and Error (Login401Error). A name already taken (by a schema,
// by oapi-codegen, or by names in taken) gets a number.
//
// Inline objects inside those, and inside the component schemas, are named
// the same way after the property that holds them
// (GetCapabilitiesResponseCapabilities), so that no anonymous struct is
// left for a caller to spell out.
//
// It runs after hoistSchemas, so that every $ref'd schema has its name and
// only inline ones are left.
func nameInlineBodies(doc *openapi3.T, taken map[string]bool) {
	perOperation := operationTypeNames(doc)
	used := func(name string) bool {
		_, schema := doc.Components.Schemas[name]
		return schema || taken[name] || reservedNames[name] || perOperation[name]
	}
	named := map[*openapi3.Schema]bool{}
	var give func(sr *openapi3.SchemaRef, name string, top bool)
	var nested func(s *openapi3.Schema, name string)
	// nested names the inline objects inside s after the property (or
	// Item, for array elements) that holds them.
	nested = func(s *openapi3.Schema, name string) {
		for _, prop := range sortedKeys(s.Properties) {
			give(s.Properties[prop], name+goName(prop), false)
		}
		give(s.Items, name+"Item", false)
		give(s.AdditionalProperties.Schema, name+"Value", false)
		for _, part := range s.AllOf { // merged into one struct by oapi-codegen
			if part.Ref == "" && part.Value != nil && !named[part.Value] {
				named[part.Value] = true
				nested(part.Value, name)
			}
		}
	}
	// give names sr's schema when it is inline and needs a name: a body
	// (top) that is an object or a map, or inside one an object with
	// properties (a map such as map[string]bool needs none, but its
	// values may).
	give = func(sr *openapi3.SchemaRef, name string, top bool) {
		if sr == nil || sr.Ref != "" || sr.Value == nil || named[sr.Value] {
			return
		}
		if !needsName(sr.Value) || (!top && len(sr.Value.Properties) == 0 && len(sr.Value.AllOf) == 0) {
			named[sr.Value] = true
			nested(sr.Value, name)
			return
		}
		unique := name
		for n := 2; used(unique); n++ {
			unique = name + strconv.Itoa(n)
		}
		named[sr.Value] = true
		doc.Components.Schemas[unique] = &openapi3.SchemaRef{Value: sr.Value}
		sr.Ref = "#/components/schemas/" + unique
		nested(sr.Value, unique)
	}
	for _, name := range sortedKeys(doc.Components.Schemas) {
		if s := doc.Components.Schemas[name].Value; s != nil && !named[s] {
			named[s] = true
			nested(s, name)
		}
	}
	for _, p := range sortedKeys(doc.Paths.Map()) {
		ops := doc.Paths.Value(p).Operations()
		for _, method := range sortedKeys(ops) {
			op := ops[method]
			base := upperFirst(op.OperationID)
			if base == "" {
				continue
			}
			if rb := op.RequestBody; rb != nil && rb.Ref == "" && rb.Value != nil {
				for _, ct := range sortedKeys(rb.Value.Content) {
					give(rb.Value.Content[ct].Schema, base+"Request", true)
				}
			}
			if op.Responses == nil {
				continue
			}
			firstSuccess := true
			for _, status := range sortedKeys(op.Responses.Map()) {
				r := op.Responses.Value(status)
				if r == nil || r.Ref != "" || r.Value == nil {
					continue
				}
				name := base + status + "Error"
				if strings.HasPrefix(status, "2") {
					name = base + "Response"
					if !firstSuccess {
						name = base + status + "Response"
					}
					firstSuccess = false
				}
				for _, ct := range sortedKeys(r.Value.Content) {
					give(r.Value.Content[ct].Schema, name, true)
				}
			}
		}
	}
}

// operationSuffixes end the names oapi-codegen declares for each operation
// (LoginParams, LoginRequestObject, ...), which a body's name must not take.
var operationSuffixes = []string{
	"Params", "JSONBody", "JSONRequestBody", "FormdataBody", "FormdataRequestBody",
	"TextBody", "TextRequestBody", "RequestObject", "ResponseObject", "HTTPResponse",
}

// operationTypeNames returns the names oapi-codegen will declare for doc's
// operations, as far as they do not depend on a status code.
func operationTypeNames(doc *openapi3.T) map[string]bool {
	names := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, suffix := range operationSuffixes {
				names[upperFirst(op.OperationID)+suffix] = true
			}
		}
	}
	return names
}

// needsName reports whether oapi-codegen would write s as a struct or a map
// type of its own: an object with properties, additional properties or an
// allOf that adds to one schema. The empty object {} stays inline (the typed
// API returns no value for it), and so does an allOf of a single schema,
// which is that schema (a Swagger 2.0 release says "allOf: [Device]" where a
// 3.1 one says "$ref: Device").
func needsName(s *openapi3.Schema) bool {
	if s == nil || (s.Type != nil && !s.Type.Includes("object")) {
		return false
	}
	return len(s.Properties) > 0 || len(s.AllOf) > 1 || s.AdditionalProperties.Schema != nil ||
		(s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has)
}

// upperFirst turns an operationId into the start of a Go name: its first
// letter in upper case ("getTokenOwner": "GetTokenOwner"); oapi-codegen's
// name normaliser does the rest.
func upperFirst(id string) string {
	r, size := utf8.DecodeRuneInString(id)
	if r == utf8.RuneError || !unicode.IsLetter(r) {
		return goName(id)
	}
	return string(unicode.ToUpper(r)) + id[size:]
}
