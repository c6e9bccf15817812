package specgen

import "github.com/getkin/kin-openapi/openapi3"

// patternMapsAsAdditional gives each object schema that describes its
// members by a single patternProperties entry, and says nothing of other
// members, that entry's schema as additionalProperties. The Matrix spec from
// v1.8 on keys maps by ID this way (the rooms of /sync: "^!" for room IDs)
// where the Swagger 2.0 releases used additionalProperties; oapi-codegen
// ignores patternProperties and would make the map's values untyped. The
// pattern itself is not checked by the generated code, as before.
func patternMapsAsAdditional(doc *openapi3.T) {
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		s := sr.Value
		if s == nil || len(s.PatternProperties) != 1 || len(s.Properties) > 0 ||
			s.AdditionalProperties.Schema != nil || s.AdditionalProperties.Has != nil {
			return
		}
		for _, value := range s.PatternProperties {
			s.AdditionalProperties.Schema = value
		}
		s.PatternProperties = nil
	})
}
