package specgen

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// merge combines the files into one document, the normalisation every
// Matrix-style folder needs before a single-document generator can use it:
//
//   - each file's paths get its servers' basePath default as a prefix
//     ("/login" in a file served at /_matrix/client/v3 becomes
//     "/_matrix/client/v3/login"), and path items merge per method;
//   - path-level parameters move down into each operation, and a file's
//     global security into each operation that sets none, so that nothing
//     depends on which file an operation came from;
//   - security schemes, which the Matrix files give as $refs into
//     definitions/security.yaml, are resolved and unioned;
//   - references to parameters, request bodies, responses, headers and
//     examples are inlined (schemas are hoisted separately, see hoistSchemas).
//
// Two operations on the same method and path, two with the same operationId,
// an operation without an operationId, or two different security schemes of
// one name are errors that name the places involved.
func merge(files []*specFile) (*openapi3.T, error) {
	out := &openapi3.T{
		OpenAPI: "3.1.0",
		Info:    &openapi3.Info{Title: "merged", Version: "1.0.0"},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:         openapi3.Schemas{},
			SecuritySchemes: openapi3.SecuritySchemes{},
		},
	}
	schemeSites := map[string]string{}
	// Where each route and operationId was first defined (file:line:col).
	byRoute := map[string]string{}
	byID := map[string]string{}
	var errs []error

	for _, f := range files {
		if f.doc.Components != nil {
			for _, name := range sortedKeys(f.doc.Components.SecuritySchemes) {
				ref := f.doc.Components.SecuritySchemes[name]
				if ref == nil || ref.Value == nil {
					continue
				}
				if prev, ok := out.Components.SecuritySchemes[name]; ok {
					if !sameScheme(prev.Value, ref.Value) {
						errs = append(errs, fmt.Errorf("%s: security scheme %q differs from the one in %s", f.display, name, schemeSites[name]))
					}
					continue
				}
				out.Components.SecuritySchemes[name] = &openapi3.SecuritySchemeRef{Value: ref.Value}
				schemeSites[name] = f.display
			}
		}

		base := basePath(f.doc)
		for _, p := range f.doc.Paths.InMatchingOrder() {
			item := f.doc.Paths.Value(p)
			full := base + p
			target := out.Paths.Value(full)
			if target == nil {
				target = &openapi3.PathItem{}
				out.Paths.Set(full, target)
			}
			for _, method := range sortedKeys(item.Operations()) {
				op := item.Operations()[method]
				where := f.position("paths", p, strings.ToLower(method))
				if op.OperationID == "" {
					errs = append(errs, fmt.Errorf("%s: %s %s has no operationId", where, method, p))
					continue
				}
				route := method + " " + full
				if prev, dup := byRoute[route]; dup {
					errs = append(errs, fmt.Errorf("%s: %s is defined again (first at %s)", where, route, prev))
					continue
				}
				if prev, dup := byID[op.OperationID]; dup {
					errs = append(errs, fmt.Errorf("%s: operationId %q is used again (first at %s)", where, op.OperationID, prev))
					continue
				}
				byRoute[route], byID[op.OperationID] = where, where

				op.Parameters = mergeParameters(item.Parameters, op.Parameters)
				if op.Security == nil && f.doc.Security != nil {
					security := slices.Clone(f.doc.Security)
					op.Security = &security
				}
				inlineRefs(op)
				target.SetOperation(method, op)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// basePath returns the default of the first server's basePath variable, or
// the path of its URL when that has no variables.
func basePath(doc *openapi3.T) string {
	if len(doc.Servers) == 0 || doc.Servers[0] == nil {
		return ""
	}
	server := doc.Servers[0]
	if v, ok := server.Variables["basePath"]; ok && v != nil {
		return strings.TrimSuffix(v.Default, "/")
	}
	if !strings.Contains(server.URL, "{") {
		if u, err := url.Parse(server.URL); err == nil {
			return strings.TrimSuffix(u.Path, "/")
		}
	}
	return ""
}

// mergeParameters returns the operation's parameters plus the path item's
// ones that the operation does not override (same name and location).
func mergeParameters(fromPath, fromOp openapi3.Parameters) openapi3.Parameters {
	if len(fromPath) == 0 {
		return fromOp
	}
	out := slices.Clone(fromOp)
	for _, p := range fromPath {
		if p == nil || p.Value == nil {
			continue
		}
		if fromOp.GetByInAndName(p.Value.In, p.Value.Name) == nil {
			out = append(out, p)
		}
	}
	return out
}

// inlineRefs replaces references to non-schema components in op by their
// values, so that the merged document needs no components but schemas and
// security schemes.
func inlineRefs(op *openapi3.Operation) {
	for _, p := range op.Parameters {
		p.Ref = ""
		if p.Value != nil {
			inlineExamples(p.Value.Examples)
		}
	}
	if op.RequestBody != nil {
		op.RequestBody.Ref = ""
		if op.RequestBody.Value != nil {
			inlineContent(op.RequestBody.Value.Content)
		}
	}
	if op.Responses == nil {
		return
	}
	for _, r := range op.Responses.Map() {
		r.Ref = ""
		if r.Value == nil {
			continue
		}
		inlineContent(r.Value.Content)
		for _, h := range r.Value.Headers {
			h.Ref = ""
		}
		for _, l := range r.Value.Links {
			l.Ref = ""
		}
	}
}

func inlineContent(c openapi3.Content) {
	for _, mt := range c {
		if mt != nil {
			inlineExamples(mt.Examples)
		}
	}
}

func inlineExamples(examples openapi3.Examples) {
	for _, e := range examples {
		if e != nil {
			e.Ref = ""
		}
	}
}

// sameScheme compares the fields of two security schemes that matter to
// code: descriptions may differ.
func sameScheme(a, b *openapi3.SecurityScheme) bool {
	return a.Type == b.Type && a.Scheme == b.Scheme && a.In == b.In && a.Name == b.Name &&
		a.BearerFormat == b.BearerFormat && reflect.DeepEqual(a.Flows, b.Flows)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
