package specgen

import (
	"fmt"
	"path"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
)

// reservedNames are Go names that oapi-codegen gives its own declarations; a
// schema must not take one.
var reservedNames = map[string]bool{
	"Client": true, "ClientInterface": true, "ClientOption": true, "ClientWithResponses": true,
	"ClientWithResponsesInterface": true, "HttpRequestDoer": true, "RequestEditorFn": true,
	"ServerInterface": true, "ServerInterfaceWrapper": true, "StrictServerInterface": true,
	"StrictHandlerFunc": true, "StrictMiddlewareFunc": true, "StrictHTTPServerOptions": true,
	"MiddlewareFunc": true, "GorillaServerOptions": true, "Operations": true, "API": true, "NewAPI": true,
}

// hoistSchemas moves every referenced schema into components.schemas under a
// readable Go name and points the references there, so that each shared
// definition (definitions/errors/error.yaml, say) becomes one named type
// however many operations use it.
//
// A schema's name comes from its title when that is a plain name ("Error",
// "Device"), else from its file name (rate_limited.yaml: RateLimited) or, for
// a fragment, its last segment (#/components/schemas/booleanCapability:
// BooleanCapability). When two different schemas would get one name, every
// one of them takes a longer name built from its file path, and so on until
// the names differ, so the result depends only on the set of schemas, never
// on the order they were met or on where the files are checked out. Names in
// taken (the generated sum types) are avoided like oapi-codegen's own.
func hoistSchemas(doc *openapi3.T, taken map[string]bool) error {
	type use struct {
		ref *openapi3.SchemaRef
		key string
	}
	var uses []use
	targets := map[string]*openapi3.Schema{}
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		if sr.Ref == "" {
			return
		}
		key := refKey(sr)
		uses = append(uses, use{sr, key})
		targets[key] = sr.Value
	})

	names, err := nameTargets(targets, taken)
	if err != nil {
		return err
	}
	for _, u := range uses {
		name := names[u.key]
		if _, done := doc.Components.Schemas[name]; !done {
			doc.Components.Schemas[name] = &openapi3.SchemaRef{Value: u.ref.Value}
		}
		u.ref.Ref = "#/components/schemas/" + name
	}
	return nil
}

// refKey identifies a reference's target: its absolute file and fragment.
func refKey(sr *openapi3.SchemaRef) string {
	if u := sr.RefPath(); u != nil {
		return u.Path + "#" + u.Fragment
	}
	return sr.Ref
}

// nameTargets gives each target a distinct Go name that is neither reserved
// nor taken (see hoistSchemas).
func nameTargets(targets map[string]*openapi3.Schema, taken map[string]bool) (map[string]string, error) {
	level := map[string]int{}
	names := map[string]string{}
	for {
		byName := map[string][]string{}
		for _, key := range sortedKeys(targets) {
			name, ok := candidateName(key, targets[key], level[key])
			if !ok {
				return nil, fmt.Errorf("cannot find a distinct name for the schema at %s", key)
			}
			names[key] = name
			byName[name] = append(byName[name], key)
		}
		clash := false
		for name, keys := range byName {
			if len(keys) > 1 || reservedNames[name] || taken[name] {
				clash = true
				for _, k := range keys {
					level[k]++
				}
			}
		}
		if !clash {
			return names, nil
		}
	}
}

// candidateName returns the name for key at a level of detail: 0 the title
// or short name, 1 the file (and fragment) name, 2 and up one more parent
// folder each. It reports false when the path has no more folders to add.
func candidateName(key string, s *openapi3.Schema, level int) (string, bool) {
	file, fragment, _ := strings.Cut(key, "#")
	segments := strings.Split(strings.Trim(fragment, "/"), "/")
	last := segments[len(segments)-1]
	if level == 0 {
		if fragment == "" && s != nil && isPlainTitle(s.Title) {
			return goName(s.Title), true
		}
		if last != "" {
			return goName(last), true
		}
		return goName(strings.TrimSuffix(path.Base(file), path.Ext(file))), true
	}
	dirs := strings.Split(strings.TrimSuffix(file, path.Ext(file)), "/")
	take := level // file name plus level-1 folders
	if take > len(dirs) {
		return "", false
	}
	parts := dirs[len(dirs)-take:]
	if last != "" {
		parts = append(parts, last)
	}
	return goName(strings.Join(parts, "_")), true
}

// isPlainTitle reports whether a title reads as a type name: words of letters
// and digits, at most three of them ("Error", "Device", "Discovery
// Information"), not a sentence or a dotted event type.
func isPlainTitle(title string) bool {
	if title == "" || len(strings.Fields(title)) > 3 {
		return false
	}
	for _, r := range title {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' {
			return false
		}
	}
	return unicode.IsLetter(rune(title[0]))
}

// goName turns a title, file name or fragment into an exported Go name:
// "rate_limited" → "RateLimited", "Discovery Information" →
// "DiscoveryInformation", "m.login.terms" → "MLoginTerms".
func goName(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	name := b.String()
	if name == "" || !unicode.IsLetter(rune(name[0])) {
		name = "Schema" + name
	}
	return name
}

// eachSchemaRef calls visit once for every schema reference reachable from
// the document's operations and component schemas, in a stable order, and
// descends into each schema once.
func eachSchemaRef(doc *openapi3.T, visit func(*openapi3.SchemaRef)) {
	w := schemaWalker{visit: visit, seenRefs: map[*openapi3.SchemaRef]bool{}, seenSchemas: map[*openapi3.Schema]bool{}}
	for _, p := range sortedKeys(doc.Paths.Map()) {
		item := doc.Paths.Value(p)
		ops := item.Operations()
		for _, method := range sortedKeys(ops) {
			op := ops[method]
			for _, param := range op.Parameters {
				if param.Value != nil {
					w.ref(param.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				w.content(op.RequestBody.Value.Content)
			}
			if op.Responses == nil {
				continue
			}
			responses := op.Responses.Map()
			for _, status := range sortedKeys(responses) {
				r := responses[status].Value
				if r == nil {
					continue
				}
				w.content(r.Content)
				for _, h := range sortedKeys(r.Headers) {
					if hv := r.Headers[h].Value; hv != nil {
						w.ref(hv.Schema)
					}
				}
			}
		}
	}
	if doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.Schemas) {
			w.ref(doc.Components.Schemas[name])
		}
	}
}

type schemaWalker struct {
	visit       func(*openapi3.SchemaRef)
	seenRefs    map[*openapi3.SchemaRef]bool
	seenSchemas map[*openapi3.Schema]bool
}

func (w *schemaWalker) content(c openapi3.Content) {
	for _, ct := range sortedKeys(c) {
		if c[ct] != nil {
			w.ref(c[ct].Schema)
		}
	}
}

func (w *schemaWalker) ref(sr *openapi3.SchemaRef) {
	if sr == nil || w.seenRefs[sr] {
		return
	}
	w.seenRefs[sr] = true
	w.visit(sr)
	s := sr.Value
	if s == nil || w.seenSchemas[s] {
		return
	}
	w.seenSchemas[s] = true
	for _, name := range sortedKeys(s.Properties) {
		w.ref(s.Properties[name])
	}
	w.ref(s.Items)
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf, s.PrefixItems} {
		for _, child := range list {
			w.ref(child)
		}
	}
	w.ref(s.Not)
	w.ref(s.AdditionalProperties.Schema)
	for _, name := range sortedKeys(s.PatternProperties) {
		w.ref(s.PatternProperties[name])
	}
}
