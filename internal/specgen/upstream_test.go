package specgen

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

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

// leftOutOfSpecs are the upstream v1.18 client-server files that
// specs/client-server leaves out, with the reason. Each holds one operation
// whose path only differs from another operation's path by a trailing space,
// a trick that keeps the two apart in the upstream YAML but not on the wire:
// a router sees one method and path for both.
var leftOutOfSpecs = map[string]string{
	"peeking_events.yaml":         "peekEvents is GET \"/events \", the same route as getEvents (old_sync.yaml)",
	"third_party_membership.yaml": "inviteBy3PID is POST /rooms/{roomId}/invite, the same route as inviteUser (inviting.yaml)",
}

// TestSpecsConformToUpstream checks specs/client-server against the upstream
// v1.18 folder: the same top-level file names (but leftOutOfSpecs) with the
// same operationIds in each, and for every operation the same method, path
// (upstream's trailing spaces trimmed), security, parameters, request and
// response bodies and headers per status code (property names, types,
// enums, required lists) and x-addedInMatrixVersion marks. Properties marked
// x-mxauth-extension (the unstable MSC4191 names, soft_logout) are ours alone
// and are skipped.
func TestSpecsConformToUpstream(t *testing.T) {
	dir := upstreamDir(t, "v1.18")
	upstreamFiles := operationIDsPerFile(t, os.DirFS(dir))
	ourFiles := operationIDsPerFile(t, mustSub(t, specs.FS, "client-server"))
	for name := range leftOutOfSpecs {
		if _, ok := upstreamFiles[name]; !ok {
			t.Errorf("%s is listed as left out but upstream has no such file", name)
		}
		delete(upstreamFiles, name)
	}
	if got, want := sortedKeys(ourFiles), sortedKeys(upstreamFiles); !slices.Equal(got, want) {
		t.Errorf("top-level files differ:\n ours:     %v\n upstream: %v", got, want)
	}
	for name, ids := range upstreamFiles {
		if got, ok := ourFiles[name]; ok && !slices.Equal(got, ids) {
			t.Errorf("%s: operationIds %v, upstream %v", name, got, ids)
		}
	}

	var sources []Source
	for _, name := range sortedKeys(upstreamFiles) {
		src, err := DirSource(filepath.Join(dir, name), dir)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, src)
	}
	upstream, _, err := Document(context.Background(), Options{Sources: sources})
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
		up.path = strings.TrimSpace(up.path)
		a, b := operationShape(ourOps[id]), operationShape(up)
		for _, line := range diffShapes(a, b) {
			t.Errorf("%s: %s", id, line)
		}
	}
}

// operationIDsPerFile reads the top-level YAML files of fsys and returns,
// per file name, the sorted operationIds of its operations.
func operationIDsPerFile(t *testing.T, fsys fs.FS) map[string][]string {
	t.Helper()
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Paths map[string]map[string]struct {
				OperationID string `yaml:"operationId"`
			} `yaml:"paths"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids := []string{}
		for _, item := range file.Paths {
			for _, op := range item {
				if op.OperationID != "" {
					ids = append(ids, op.OperationID)
				}
			}
		}
		sort.Strings(ids)
		out[name] = ids
	}
	return out
}

func mustSub(t *testing.T, fsys fs.FS, dir string) fs.FS {
	t.Helper()
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	return sub
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
		for name, h := range r.Value.Headers {
			key := "response " + status + " header " + strings.ToLower(name)
			s[key] = fmt.Sprintf("required=%v", h.Value.Required)
			schemaShape(s, key, h.Value.Schema, 0)
		}
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
	if ref == nil || ref.Value == nil || depth > 20 {
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
