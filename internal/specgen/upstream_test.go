package specgen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mxauth/mxauth/specs"
)

// authFiles are the upstream client-server files that cover authentication.
var authFiles = []string{
	"capabilities", "device_management", "login", "login_token", "logout",
	"oauth_server_metadata", "refresh", "registration", "versions", "wellknown", "whoami",
}

// upstreamDir returns the Matrix spec's client-server folder of a release in
// ../shared/upstream-spec (or $MXAUTH_UPSTREAM_SPEC), skipping the test when
// it is absent, as it is in a user's fresh clone.
func upstreamDir(t testing.TB, release string) string {
	t.Helper()
	dir := filepath.Join(upstreamRoot(), release, "api", "client-server")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("upstream spec %s not found (%v); set MXAUTH_UPSTREAM_SPEC to its folder", release, err)
	}
	return dir
}

// upstreamAuthSources returns one Source per upstream auth file.
func upstreamAuthSources(t testing.TB) []Source {
	t.Helper()
	dir := upstreamDir(t, "v1.18")
	var sources []Source
	for _, name := range authFiles {
		src, err := DirSource(filepath.Join(dir, name+".yaml"), dir)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, src)
	}
	return sources
}

// TestUpstreamAuthFilesCompile generates from the eleven unmodified upstream
// auth files, merged, and builds and vets the result.
func TestUpstreamAuthFilesCompile(t *testing.T) {
	code, err := Generate(context.Background(), Options{
		Sources: upstreamAuthSources(t), Package: "cs",
		Parts: Parts{Types: true, Client: true, Server: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	noAnonymousErrors(t, code)
	vetPackage(t, "cs", code)
}

// TestSpecsConformToUpstream checks that every operation in specs/client-server
// has the same method, path, operationId, parameters, request and response
// properties (names, types, required lists) and x-addedInMatrixVersion marks
// as the upstream v1.18 files. Properties marked x-mxauth-extension (the
// unstable MSC4191 names) are ours alone and are skipped.
func TestSpecsConformToUpstream(t *testing.T) {
	upstream, _, err := Document(context.Background(), Options{Sources: upstreamAuthSources(t)})
	if err != nil {
		t.Fatal(err)
	}
	ours, _, err := Document(context.Background(), Options{Sources: []Source{{FS: specs.FS, Path: "client-server"}}})
	if err != nil {
		t.Fatal(err)
	}
	upstreamOps := operationsByID(upstream)
	ourOps := operationsByID(ours)
	if got, want := sortedKeys(ourOps), sortedKeys(upstreamOps); !slices.Equal(got, want) {
		t.Errorf("operationIds differ:\n ours:     %v\n upstream: %v", got, want)
	}
	for _, id := range sortedKeys(ourOps) {
		up, ok := upstreamOps[id]
		if !ok {
			continue
		}
		a, b := operationShape(ourOps[id]), operationShape(up)
		for _, line := range diffShapes(a, b) {
			t.Errorf("%s: %s", id, line)
		}
	}
}

type locatedOp struct {
	method, path string
	op           *openapi3.Operation
}

func operationsByID(doc *openapi3.T) map[string]locatedOp {
	out := map[string]locatedOp{}
	for _, p := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(p).Operations() {
			out[op.OperationID] = locatedOp{method, p, op}
		}
	}
	return out
}

// operationShape flattens what the conformance test compares into lines
// "where: fact", so two operations can be compared as sets.
func operationShape(l locatedOp) map[string]string {
	s := map[string]string{"route": l.method + " " + l.path}
	op := l.op
	if v, ok := addedIn(op.Extensions); ok {
		s["addedIn"] = v
	}
	s["security"] = fmt.Sprint(securityNames(op.Security))
	for _, p := range op.Parameters {
		v := p.Value
		key := "param " + v.In + " " + v.Name
		added, _ := addedIn(v.Extensions)
		s[key] = fmt.Sprintf("required=%v added=%s", v.Required, added)
		if v.Schema != nil {
			schemaShape(s, key, v.Schema, 0)
		}
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		s["body required"] = fmt.Sprint(op.RequestBody.Value.Required)
		for ct, mt := range op.RequestBody.Value.Content {
			schemaShape(s, "body "+ct, mt.Schema, 0)
		}
	}
	for status, r := range op.Responses.Map() {
		s["response "+status] = "present"
		for ct, mt := range r.Value.Content {
			schemaShape(s, "response "+status+" "+ct, mt.Schema, 0)
		}
	}
	return s
}

func securityNames(sec *openapi3.SecurityRequirements) []string {
	if sec == nil {
		return nil
	}
	var out []string
	for _, req := range *sec {
		out = append(out, "{"+strings.Join(sortedKeys(req), ",")+"}")
	}
	sort.Strings(out)
	return out
}

// schemaShape records a schema's types, properties, required list and
// version marks under prefix; allOf branches are merged into their parent.
func schemaShape(s map[string]string, prefix string, ref *openapi3.SchemaRef, depth int) {
	if ref == nil || ref.Value == nil || depth > 8 {
		return
	}
	sch := ref.Value
	if sch.Extensions["x-mxauth-extension"] == true {
		return
	}
	if sch.Type != nil && len(*sch.Type) > 0 {
		types := slices.Clone([]string(*sch.Type))
		sort.Strings(types)
		s[prefix+" type"] = strings.Join(types, "|")
	}
	if v, ok := addedIn(sch.Extensions); ok {
		s[prefix+" addedIn"] = v
	}
	if len(sch.Enum) > 0 {
		s[prefix+" enum"] = fmt.Sprint(sch.Enum)
	}
	required := slices.Clone(sch.Required)
	for _, branch := range sch.AllOf {
		if branch.Value != nil {
			required = append(required, branch.Value.Required...)
		}
		schemaShape(s, prefix, branch, depth+1)
	}
	required = slices.DeleteFunc(required, func(name string) bool {
		p := sch.Properties[name]
		return p != nil && p.Value != nil && p.Value.Extensions["x-mxauth-extension"] == true
	})
	if len(required) > 0 {
		sort.Strings(required)
		s[prefix+" required"] = strings.Join(slices.Compact(required), ",")
	}
	for name, prop := range sch.Properties {
		schemaShape(s, prefix+"."+name, prop, depth+1)
	}
	schemaShape(s, prefix+"[]", sch.Items, depth+1)
	for i, branch := range sch.OneOf {
		schemaShape(s, fmt.Sprintf("%s|oneOf%d", prefix, i), branch, depth+1)
	}
	for i, branch := range sch.AnyOf {
		schemaShape(s, fmt.Sprintf("%s|anyOf%d", prefix, i), branch, depth+1)
	}
	if ap := sch.AdditionalProperties.Schema; ap != nil {
		schemaShape(s, prefix+"{}", ap, depth+1)
	}
}

func diffShapes(ours, upstream map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(upstream) {
		if v, ok := ours[k]; !ok {
			out = append(out, fmt.Sprintf("missing %s (upstream: %s)", k, upstream[k]))
		} else if v != upstream[k] {
			out = append(out, fmt.Sprintf("%s = %s, upstream %s", k, v, upstream[k]))
		}
	}
	for _, k := range sortedKeys(ours) {
		if _, ok := upstream[k]; !ok {
			out = append(out, fmt.Sprintf("extra %s = %s", k, ours[k]))
		}
	}
	return out
}

// TestGenNoAnonymousErrors checks the committed gen/ packages: every error
// answer uses the one Error type (or RateLimitedError), never an anonymous copy.
func TestGenNoAnonymousErrors(t *testing.T) {
	for _, name := range []string{"clientserver/clientserver.gen.go", "oauth2/oauth2.gen.go"} {
		code, err := os.ReadFile(filepath.Join("..", "..", "gen", name))
		if err != nil {
			t.Fatal(err)
		}
		noAnonymousErrors(t, code)
	}
}
