package specgen

import "github.com/getkin/kin-openapi/openapi3"

// stringUnionParameters turns each parameter whose schema is a oneOf or
// anyOf of strings alone (getRoomSummary's roomIdOrAlias: a room ID or a
// room alias) into a plain string parameter. oapi-codegen would give it a
// union struct, which no path or query value can be bound to.
func stringUnionParameters(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.Schema != nil && onlyStrings(p.Value.Schema.Value) {
					s := p.Value.Schema.Value
					p.Value.Schema = openapi3.NewSchemaRef("", &openapi3.Schema{
						Type: &openapi3.Types{openapi3.TypeString}, Description: s.Description, Extensions: s.Extensions,
					})
				}
			}
		}
	}
}

// onlyStrings reports whether s is a oneOf or anyOf whose alternatives are
// all strings.
func onlyStrings(s *openapi3.Schema) bool {
	if s == nil {
		return false
	}
	alternatives := s.OneOf
	if len(alternatives) == 0 {
		alternatives = s.AnyOf
	}
	if len(alternatives) == 0 {
		return false
	}
	for _, a := range alternatives {
		if a.Value == nil || a.Value.Type == nil || !a.Value.Type.Is(openapi3.TypeString) {
			return false
		}
	}
	return true
}
