package specgen

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

var swaggerKey = regexp.MustCompile(`(?m)^("?)swagger("?)\s*:`)

// isSwagger2 reports whether data is a Swagger 2.0 document (the Matrix spec
// up to v1.7) rather than OpenAPI 3.
func isSwagger2(data []byte) bool { return swaggerKey.Match(data) }

// loadSwagger2 loads a Swagger 2.0 document and converts it to OpenAPI 3 with
// kin-openapi, resolving its relative $refs from fsys. Its securityDefinitions
// are inlined first (see inlineSecurityDefinitions); after that the Matrix
// files convert as they are, and the rest of the pipeline treats the result
// like any OpenAPI 3 file.
func loadSwagger2(ctx context.Context, fsys fs.FS, p string, data []byte, display func(string) string) (*openapi3.T, error) {
	data, err := inlineSecurityDefinitions(fsys, p, data, display)
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := openapi2.UnmarshalFromData(data, &doc2); err != nil {
		return nil, fmt.Errorf("%s: reading Swagger 2.0: %w", display(p), err)
	}
	doc, err := openapi2conv.ToV3WithLoader(&doc2, newLoader(ctx, fsys), &url.URL{Path: p})
	if err != nil {
		return nil, fmt.Errorf("%s: converting Swagger 2.0 to OpenAPI 3: %w", display(p), err)
	}
	dropEmptyAllOf(doc)
	forEachBody(doc, dropExampleOnlyBodies)
	forEachBody(doc, normaliseMediaTypes)
	return doc, nil
}

// forEachBody calls fix with the content of every request body and response
// of doc's operations.
func forEachBody(doc *openapi3.T, fix func(openapi3.Content) openapi3.Content) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				op.RequestBody.Value.Content = fix(op.RequestBody.Value.Content)
			}
			if op.Responses == nil {
				continue
			}
			for _, r := range op.Responses.Map() {
				if r != nil && r.Value != nil {
					r.Value.Content = fix(r.Value.Content)
				}
			}
		}
	}
}

// octetStream is the media type of raw bytes.
const octetStream = "application/octet-stream"

// normaliseMediaTypes gives a converted Swagger 2.0 body the media types the
// OpenAPI 3 releases of the Matrix spec give it. Swagger 2.0 has one
// consumes and one produces list per operation, so a download's error
// answers were listed under */* or image/png like its bytes, and an upload's
// bytes under application/json like its answer:
//
//   - a body of bytes (a string of format binary or byte) listed under */*
//     or application/json is application/octet-stream;
//   - a body with any other schema but a string is application/json only.
//
// Bodies of bytes under a specific media type (image/png) keep it.
func normaliseMediaTypes(content openapi3.Content) openapi3.Content {
	if len(content) == 0 {
		return content
	}
	keys := sortedKeys(content)
	first := content[keys[0]]
	switch {
	case first == nil || first.Schema == nil || first.Schema.Value == nil:
		return content
	case !isBytes(first.Schema):
		if first.Schema.Value.Type.Is("string") {
			return content // text, such as text/html
		}
		if mt := content["application/json"]; mt != nil {
			first = mt
		}
		return openapi3.Content{"application/json": first}
	}
	out := openapi3.Content{}
	for ct, mt := range content {
		if ct == "*/*" || ct == "application/json" {
			bytes := *mt.Schema.Value
			bytes.Format = "binary"
			ct, mt = octetStream, openapi3.NewMediaType().WithSchema(&bytes)
		}
		out[ct] = mt
	}
	return out
}

// isBytes reports whether a body schema stands for raw bytes: a string of
// format binary (which the converter makes of Swagger's type file) or byte.
func isBytes(sr *openapi3.SchemaRef) bool {
	if sr == nil || sr.Value == nil || !sr.Value.Type.Is("string") {
		return false
	}
	return sr.Value.Format == "binary" || sr.Value.Format == "byte"
}

// dropExampleOnlyBodies removes the media types without a schema. A Swagger
// 2.0 response without a schema has no body, but when it gives examples the
// converter makes a media type for them, which oapi-codegen would turn into
// an interface type that cannot have methods.
func dropExampleOnlyBodies(content openapi3.Content) openapi3.Content {
	for ct, mt := range content {
		if mt == nil || mt.Schema == nil {
			delete(content, ct)
		}
	}
	if len(content) == 0 {
		return nil
	}
	return content
}

// dropEmptyAllOf turns the empty allOf lists that kin-openapi's converter
// gives every inline schema back into absent ones: oapi-codegen takes a
// present allOf, even an empty one, for a composition and fails on it.
func dropEmptyAllOf(doc *openapi3.T) {
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		if sr.Value != nil && sr.Value.AllOf != nil && len(sr.Value.AllOf) == 0 {
			sr.Value.AllOf = nil
		}
	})
}

// inlineSecurityDefinitions replaces a securityDefinitions that is a $ref
// (the Matrix files up to v1.7 say `securityDefinitions: {$ref:
// definitions/security.yaml}`) by the mapping it points to. kin-openapi's
// Swagger 2.0 reader wants the schemes themselves there. Documents without
// such a $ref are returned unchanged. Errors name files as display does.
func inlineSecurityDefinitions(fsys fs.FS, p string, data []byte, display func(string) string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(display(p), data, err)
	}
	defs := mappingValue(documentMapping(&root), "securityDefinitions")
	ref := mappingValue(defs, "$ref")
	if ref == nil || ref.Kind != yaml.ScalarNode {
		return data, nil
	}
	target, fragment, _ := strings.Cut(ref.Value, "#")
	targetPath := p
	if target != "" {
		targetPath = path.Join(path.Dir(p), target)
	}
	where := fmt.Sprintf("%s:%d:%d", display(p), ref.Line, ref.Column)
	targetData, err := fs.ReadFile(fsys, targetPath)
	if err != nil {
		return nil, fmt.Errorf("%s: securityDefinitions $ref %q: %w", where, ref.Value, err)
	}
	var targetRoot yaml.Node
	if err := yaml.Unmarshal(targetData, &targetRoot); err != nil {
		return nil, yamlError(display(targetPath), targetData, err)
	}
	schemes := pointerNode(&targetRoot, fragment)
	if schemes == nil || schemes.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: securityDefinitions $ref %q: want a mapping of security schemes there", where, ref.Value)
	}
	*defs = *schemes
	return yaml.Marshal(&root)
}

// documentMapping returns the top-level mapping of a parsed YAML document, or nil.
func documentMapping(root *yaml.Node) *yaml.Node {
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	return root
}

// mappingValue returns the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
