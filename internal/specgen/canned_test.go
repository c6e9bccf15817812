package specgen

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/operation"
	"github.com/mxauth/mxauth/specs"
)

// TestCannedSample checks what sample builds for each kind of schema.
func TestCannedSample(t *testing.T) {
	str := func(format string) *openapi3.SchemaRef {
		s := openapi3.NewStringSchema()
		s.Format = format
		return s.NewRef()
	}
	obj := openapi3.NewObjectSchema().
		WithProperty("user_id", str("mx-user-id").Value).
		WithProperty("note", openapi3.NewStringSchema()).
		WithProperty("count", openapi3.NewIntegerSchema().WithMin(3)).
		WithProperty("tags", openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema()))
	obj.Required = []string{"user_id", "count", "tags"}
	recursive := openapi3.NewObjectSchema()
	recursive.Properties = openapi3.Schemas{"next": recursive.NewRef()}
	recursive.Required = []string{"next"}
	cases := []struct {
		name   string
		schema *openapi3.SchemaRef
		want   string
	}{
		{"required fields only", obj.NewRef(), `{"count":3,"tags":[],"user_id":"@user:example.org"}`},
		{"example wins", (&openapi3.Schema{Type: &openapi3.Types{"string"}, Example: "hello"}).NewRef(), `"hello"`},
		{"first enum value", openapi3.NewStringSchema().WithEnum("join", "leave").NewRef(), `"join"`},
		{"boolean", openapi3.NewBoolSchema().NewRef(), `false`},
		{"one item when one is required", (&openapi3.Schema{Type: &openapi3.Types{"array"}, MinItems: 1, Items: str("mx-room-id")}).NewRef(), `["!room:example.org"]`},
		{"allOf merges", (&openapi3.Schema{AllOf: openapi3.SchemaRefs{obj.NewRef(), (&openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{"b": openapi3.NewBoolSchema().NewRef()}, Required: []string{"b"}}).NewRef()}}).NewRef(), `{"b":false,"count":3,"tags":[],"user_id":"@user:example.org"}`},
		{"oneOf takes the first", (&openapi3.Schema{OneOf: openapi3.SchemaRefs{openapi3.NewIntegerSchema().NewRef(), openapi3.NewStringSchema().NewRef()}}).NewRef(), `0`},
	}
	for _, c := range cases {
		if got := string(mustJSON(sample(c.schema, 0))); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	// A recursive schema ends at the depth bound instead of looping.
	if got := string(mustJSON(sample(recursive.NewRef(), 0))); len(got) == 0 {
		t.Error("recursive schema: empty sample")
	}
}

// TestCannedBodiesMatchTheirSchemas checks, for every operation of the
// bundled specs, that the canned answer's body is accepted by the schema of
// the answer it stands for.
func TestCannedBodiesMatchTheirSchemas(t *testing.T) {
	var sources []Source
	for _, folder := range specs.Folders {
		sources = append(sources, Source{FS: specs.FS, Path: folder})
	}
	doc, _, err := Document(context.Background(), Options{Sources: sources, Package: "matrix", Parts: allParts})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			status, contentType, body := cannedAnswer(op.Responses)
			if contentType != "application/json" {
				continue
			}
			resp := op.Responses.Status(status)
			if resp == nil || resp.Value == nil || resp.Value.Content.Get("application/json") == nil {
				continue // no success answer in the spec: the empty object stands in
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("%s %s: canned body is not JSON: %v", method, path, err)
			}
			if err := resp.Value.Content.Get("application/json").Schema.Value.VisitJSON(v); err != nil {
				t.Errorf("%s %s: canned %d body %s does not match its schema: %v", method, path, status, body, err)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d answers checked", checked)
	}
}

// TestCannedServerOverHTTP serves gen/clientserver's CannedServer and calls
// it with the typed API: the answer decodes into the operation's type and
// carries operation.CannedHeader.
func TestCannedServerOverHTTP(t *testing.T) {
	srv := httptest.NewServer(clientserver.Handler(clientserver.NewStrictHandler(clientserver.CannedServer{}, nil)))
	defer srv.Close()
	api, err := clientserver.NewAPI(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	who, err := api.GetTokenOwner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if who.UserID != "@user:example.org" {
		t.Errorf("user_id %q", who.UserID)
	}
	resp, err := api.Raw.GetCapabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(operation.CannedHeader) != "true" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	// CannedServer implements the whole interface: embedding it makes any
	// server complete.
	var _ clientserver.StrictServerInterface = struct{ clientserver.CannedServer }{}
	if reflect.TypeOf(clientserver.CannedServer{}).NumMethod() == 0 {
		t.Fatal("CannedServer has no methods")
	}
}
