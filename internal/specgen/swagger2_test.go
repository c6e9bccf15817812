package specgen

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/getkin/kin-openapi/openapi3"
)

// withoutHeader drops the generated header, which names the input files.
func withoutHeader(code []byte) []byte {
	if i := bytes.Index(code, []byte("\npackage ")); i >= 0 {
		return code[i:]
	}
	return code
}

// TestSwaggerMatchesOpenAPI3 generates the same small API written as
// Swagger 2.0 (testdata/swagger2, as the Matrix spec was up to v1.7) and as
// OpenAPI 3.1 (testdata/openapi31): the code must be the same, byte for byte,
// and build.
func TestSwaggerMatchesOpenAPI3(t *testing.T) {
	old := fixture(t, "swagger2")
	old.Package = "account"
	oldCode, err := Generate(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	current := fixture(t, "openapi31")
	current.Package = "account"
	newCode, err := Generate(context.Background(), current)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withoutHeader(oldCode), withoutHeader(newCode)) {
		t.Errorf("Swagger 2.0 and OpenAPI 3.1 give different code; %s", firstDifference(withoutHeader(oldCode), withoutHeader(newCode)))
	}
	vetPackage(t, "account", oldCode)
}

// firstDifference names the first line where a and b differ.
func firstDifference(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  swagger: %s\n  openapi: %s", i+1, al[i], bl[i])
		}
	}
	return "one is a prefix of the other"
}

func TestSwaggerVersionFilter(t *testing.T) {
	opts := fixture(t, "swagger2")
	opts.MatrixVersion = "1.2"
	doc, _, err := Document(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Paths.Value("/_matrix/client/v3/login").Post.RequestBody.Value.Content["application/json"].Schema.Value
	if _, ok := body.Properties["refresh_token"]; ok {
		t.Error("login body keeps refresh_token (added in 1.3) for 1.2")
	}
	if _, ok := doc.Components.Schemas["Session"].Value.Properties["refresh_token"]; ok {
		t.Error("Session keeps refresh_token (added in 1.3) for 1.2")
	}
	if _, ok := body.Properties["type"]; !ok {
		t.Error("login body lost type, which has no version mark")
	}
}

func TestSwaggerErrorPositions(t *testing.T) {
	_, err := Generate(context.Background(), fixture(t, "dupid2"))
	want := `dupid2/b.yaml:6:5: operationId "getThing" is used again (first at dupid2/a.yaml:6:5)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestInlineSecurityDefinitions(t *testing.T) {
	fsys := fstest.MapFS{
		"api/a.yaml":             {Data: []byte("swagger: '2.0'\nsecurityDefinitions:\n  # a comment\n  $ref: defs/security.yaml\npaths: {}\n")},
		"api/b.yaml":             {Data: []byte("swagger: '2.0'\nsecurityDefinitions:\n  $ref: defs/security.yaml#/schemes\n")},
		"api/c.yaml":             {Data: []byte("swagger: '2.0'\nsecurityDefinitions:\n  $ref: defs/security.yaml#/accessToken/type\n")},
		"api/d.yaml":             {Data: []byte("swagger: '2.0'\nsecurityDefinitions:\n  token: {type: apiKey, in: header, name: X}\n")},
		"api/defs/security.yaml": {Data: []byte("accessToken:\n  type: apiKey\n  in: query\n  name: access_token\nschemes:\n  bearer: {type: apiKey, in: header, name: Authorization}\n")},
	}
	for _, tc := range []struct {
		file, want, wantErr string
	}{
		{"api/a.yaml", "securityDefinitions:\n    accessToken:\n        type: apiKey", ""},
		{"api/b.yaml", "securityDefinitions:\n    bearer:", ""},
		{"api/c.yaml", "", `api/c.yaml:3:9: securityDefinitions $ref "defs/security.yaml#/accessToken/type": want a mapping of security schemes there`},
		{"api/d.yaml", "  token: {type: apiKey, in: header, name: X}\n", ""}, // unchanged
	} {
		out, err := inlineSecurityDefinitions(fsys, tc.file, fsys[tc.file].Data, func(p string) string { return p })
		switch {
		case tc.wantErr != "":
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: error = %v, want %s", tc.file, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case !strings.Contains(string(out), tc.want):
			t.Errorf("%s: got\n%s\nwant it to contain\n%s", tc.file, out, tc.want)
		}
	}
}

// converted loads a Swagger 2.0 document from memory the way load does.
func converted(t *testing.T, files fstest.MapFS) *openapi3.T {
	t.Helper()
	doc, err := loadSwagger2(context.Background(), files, "api.yaml", files["api.yaml"].Data, func(p string) string { return p })
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

const swaggerHead = "swagger: '2.0'\ninfo: {title: T, version: '1'}\nproduces: [application/json]\npaths:\n"

func TestDropEmptyAllOf(t *testing.T) {
	doc := converted(t, fstest.MapFS{"api.yaml": {Data: []byte(swaggerHead + `
  /x:
    get:
      operationId: x
      responses:
        200:
          description: ok
          schema: {type: object, properties: {a: {type: string}}}
`)}})
	s := doc.Paths.Value("/x").Get.Responses.Value("200").Value.Content["application/json"].Schema.Value
	if s.AllOf != nil || s.Properties["a"].Value.AllOf != nil {
		t.Errorf("allOf left as %#v / %#v; want nil", s.AllOf, s.Properties["a"].Value.AllOf)
	}
}

func TestDropExampleOnlyBodies(t *testing.T) {
	doc := converted(t, fstest.MapFS{"api.yaml": {Data: []byte(swaggerHead + `
  /x:
    get:
      operationId: x
      responses:
        200:
          description: ok
          schema: {type: object}
        403:
          description: no
          examples:
            application/json: {errcode: M_FORBIDDEN}
`)}})
	responses := doc.Paths.Value("/x").Get.Responses
	if c := responses.Value("403").Value.Content; c != nil {
		t.Errorf("403 without a schema has content %v; want none", sortedKeys(c))
	}
	if c := responses.Value("200").Value.Content; c["application/json"] == nil {
		t.Error("200 lost its body")
	}
}

func TestNormaliseMediaTypes(t *testing.T) {
	str := func(format string) *openapi3.SchemaRef {
		return openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Format: format})
	}
	object := openapi3.NewSchemaRef("", openapi3.NewObjectSchema())
	content := func(schema *openapi3.SchemaRef, types ...string) openapi3.Content {
		c := openapi3.Content{}
		for _, ct := range types {
			c[ct] = openapi3.NewMediaType().WithSchemaRef(schema)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		in   openapi3.Content
		want string
	}{
		{"download bytes", content(str("binary"), "*/*"), "application/octet-stream"},
		{"upload bytes", content(str("byte"), "application/json", "*/*"), "application/octet-stream"},
		{"thumbnail bytes", content(str("binary"), "image/jpeg", "image/png"), "image/jpeg image/png"},
		{"error under */*", content(object, "*/*"), "application/json"},
		{"error under images", content(object, "image/jpeg", "image/png"), "application/json"},
		{"json and more", content(object, "application/json", "*/*"), "application/json"},
		{"json", content(object, "application/json"), "application/json"},
		{"text", content(str(""), "text/html"), "text/html"},
	} {
		got := normaliseMediaTypes(tc.in)
		if keys := strings.Join(sortedKeys(got), " "); keys != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, keys, tc.want)
		}
		if mt := got[octetStream]; mt != nil && mt.Schema.Value.Format != "binary" {
			t.Errorf("%s: bytes of format %q, want binary", tc.name, mt.Schema.Value.Format)
		}
	}
}
