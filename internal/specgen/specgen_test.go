package specgen

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixture returns options for a folder under testdata, shown relative to it.
func fixture(t testing.TB, name string) Options {
	t.Helper()
	src, err := DirSource(filepath.Join("testdata", name), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	return Options{Sources: []Source{src}, Package: name, Parts: Parts{Types: true, Client: true, Server: true}}
}

func TestGoldenBasic(t *testing.T) {
	got, err := Generate(context.Background(), fixture(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "basic.go.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/specgen -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; run go test ./internal/specgen -update and review the diff", golden)
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	first, err := Generate(context.Background(), fixture(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := Generate(context.Background(), fixture(t, "basic"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two generations from the same input differ")
		}
	}
}

func TestMergeAndHoist(t *testing.T) {
	doc, inputs, err := Document(context.Background(), fixture(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"basic/things.yaml", "basic/versions.yaml"}; strings.Join(inputs, " ") != strings.Join(want, " ") {
		t.Errorf("inputs = %q, want %q", inputs, want)
	}
	for _, p := range []string{"/_matrix/client/v3/things/{thingId}", "/_matrix/client/versions"} {
		if doc.Paths.Value(p) == nil {
			t.Errorf("path %s missing; have %v", p, doc.Paths.InMatchingOrder())
		}
	}
	// The error schema is used by two files and becomes one component; the two
	// schemas titled Thing get names from their paths; getVersions' inline
	// answer is named after it.
	var names []string
	for name, s := range doc.Components.Schemas {
		names = append(names, name)
		if s.Ref != "" {
			t.Errorf("component %s is itself a reference (%s)", name, s.Ref)
		}
	}
	if got := strings.Join(sortedKeys(doc.Components.Schemas), " "); got != "DefinitionsThing Error GetVersionsResponse OtherThing" {
		t.Errorf("component schemas = %s, want DefinitionsThing Error GetVersionsResponse OtherThing", got)
	}
	get := doc.Paths.Value("/_matrix/client/v3/things/{thingId}").Get
	if len(get.Parameters) != 1 || get.Parameters[0].Value.Name != "thingId" {
		t.Errorf("path-level parameter not moved into the operation: %+v", get.Parameters)
	}
	if ref := get.Responses.Value("401").Value.Content["application/json"].Schema.Ref; ref != "#/components/schemas/Error" {
		t.Errorf("401 schema ref = %q, want #/components/schemas/Error", ref)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s == nil || s.Ref != "" || s.Value.Scheme != "bearer" {
		t.Errorf("security scheme bearer not resolved: %+v", s)
	}
}

func TestOperationTable(t *testing.T) {
	doc, _, err := Document(context.Background(), fixture(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	got := describeOperations(doc)
	want := []operationData{
		{ID: "getThing", Method: "GET", Path: "/_matrix/client/v3/things/{thingId}", Auth: "AuthRequired", QueryToken: true},
		{ID: "getVersions", Method: "GET", Path: "/_matrix/client/versions", Auth: "AuthOptional"},
		{ID: "putThing", Method: "PUT", Path: "/_matrix/client/v3/things/{thingId}", Auth: "AuthRequired", AddedIn: "1.9"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d operations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("operation %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMatrixVersionFilter(t *testing.T) {
	for _, tc := range []struct {
		version      string
		wantPut      bool
		wantColour   bool
		wantRequired string
	}{
		{"1.4", false, false, "id"},
		{"1.5", false, true, "id colour"},
		{"1.9", true, true, "id colour"},
		{"", true, true, "id colour"},
	} {
		t.Run("v"+tc.version, func(t *testing.T) {
			opts := fixture(t, "basic")
			opts.MatrixVersion = tc.version
			doc, _, err := Document(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			item := doc.Paths.Value("/_matrix/client/v3/things/{thingId}")
			if hasPut := item.Put != nil; hasPut != tc.wantPut {
				t.Errorf("putThing present = %v, want %v", hasPut, tc.wantPut)
			}
			thing := doc.Components.Schemas["DefinitionsThing"]
			if thing == nil {
				thing = doc.Components.Schemas["Thing"]
			}
			_, hasColour := thing.Value.Properties["colour"]
			if hasColour != tc.wantColour {
				t.Errorf("colour present = %v, want %v", hasColour, tc.wantColour)
			}
			if got := strings.Join(thing.Value.Required, " "); got != tc.wantRequired {
				t.Errorf("required = %q, want %q", got, tc.wantRequired)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	opts := fixture(t, "basic")
	opts.Selection = Selection{IncludeOperations: []string{"getThing", "putThing"}, ExcludeOperations: []string{"putThing"}}
	doc, _, err := Document(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if ops := describeOperations(doc); len(ops) != 1 || ops[0].ID != "getThing" {
		t.Errorf("operations = %+v, want only getThing", ops)
	}

	opts.Selection = Selection{IncludeOperations: []string{"getThings"}}
	_, _, err = Document(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), `unknown operationId "getThings" (did you mean getThing`) {
		t.Errorf("error = %v, want an unknown operationId with a suggestion", err)
	}
}

// TestBadInput checks that each broken fixture fails with a message that
// names the file, line and column, and what is wrong.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    []string
	}{
		{"badref", []string{
			`badref/api.yaml:13:23: $ref "definitions/missing.yaml": no such file badref/definitions/missing.yaml`,
			`badref/api.yaml:19:23: $ref "api.yaml#/components/schemas/Nope": badref/api.yaml has nothing at #/components/schemas/Nope`,
		}},
		{"badyaml", []string{`badyaml/api.yaml:5:5: did not find expected`}}, // the sequence left open on line 5
		{"dupid", []string{`dupid/b.yaml:5:5: operationId "getThing" is used again (first at dupid/a.yaml:5:5)`}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			_, err := Generate(context.Background(), fixture(t, tc.fixture))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
		})
	}
}

func TestCandidateNames(t *testing.T) {
	for _, tc := range []struct {
		key, title string
		level      int
		want       string
	}{
		{"/a/definitions/errors/error.yaml#", "Error", 0, "Error"},
		{"/a/definitions/errors/rate_limited.yaml#", "", 0, "RateLimited"},
		{"/a/definitions/wellknown/full.yaml#", "Discovery Information", 0, "DiscoveryInformation"},
		{"/a/definitions/m.login.terms_params.yaml#", "m.login.terms params", 0, "MLoginTermsParams"},
		{"/a/capabilities.yaml#/components/schemas/booleanCapability", "", 0, "BooleanCapability"},
		{"/a/definitions/key_backup_auth_data.yaml#", "AuthData", 1, "KeyBackupAuthData"},
		{"/a/definitions/key_backup_auth_data.yaml#", "AuthData", 2, "DefinitionsKeyBackupAuthData"},
	} {
		got, ok := candidateName(tc.key, &openapi3.Schema{Title: tc.title}, tc.level)
		if !ok || got != tc.want {
			t.Errorf("candidateName(%s, %q, %d) = %q, %v; want %q", tc.key, tc.title, tc.level, got, ok, tc.want)
		}
	}
}

// TestGeneratedCodeCompiles builds and vets the golden fixture's output as a
// package of this module.
func TestGeneratedCodeCompiles(t *testing.T) {
	code, err := Generate(context.Background(), fixture(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	vetPackage(t, "basic", code)
}

// vetPackage writes code as a throwaway package inside this module (so that
// it can import mxauth's runtime) and runs go vet on it.
func vetPackage(t *testing.T, name string, code []byte) {
	t.Helper()
	checkPackages(t, []scratchPackage{{name: name, code: code}})
}

// scratchPackage is generated code to build: a package name, its source and,
// optionally, the source of a test file to run against it.
type scratchPackage struct {
	name string
	code []byte
	test string
}

// checkPackages writes each package into its own folder under testdata (so
// that, inside this module, it can import mxauth's runtime with the
// module's own go.mod and go.sum), runs one go vet over all of them, which
// type-checks them in full, and then go test on those that have a test.
func checkPackages(t *testing.T, pkgs []scratchPackage) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds packages; skipped with -short")
	}
	root, err := os.MkdirTemp("testdata", "vet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	var all, tested []string
	for _, p := range pkgs {
		dir := filepath.Join(root, p.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.name+".go"), p.code, 0o644); err != nil {
			t.Fatal(err)
		}
		rel := "./" + filepath.ToSlash(dir)
		all = append(all, rel)
		if p.test != "" {
			if err := os.WriteFile(filepath.Join(dir, p.name+"_test.go"), []byte(p.test), 0o644); err != nil {
				t.Fatal(err)
			}
			tested = append(tested, rel)
		}
	}
	if out, err := exec.Command("go", append([]string{"vet"}, all...)...).CombinedOutput(); err != nil {
		t.Fatalf("go vet on the generated code: %v\n%s", err, out)
	}
	if len(tested) > 0 {
		if out, err := exec.Command("go", append([]string{"test", "-count=1"}, tested...)...).CombinedOutput(); err != nil {
			t.Fatalf("go test on the generated code: %v\n%s", err, out)
		}
	}
}

// anonymousError matches a struct literal type whose fields include
// Errcode, with or without doc comments before it.
var anonymousError = regexp.MustCompile(`struct \{(\s*(//[^\n]*|\w+\s+\*?\w+( ` + "`[^`]*`" + `)?))*\s*Errcode `)

// anonymousErrors counts the matches of anonymousError that are not named
// type declarations.
func anonymousErrors(code []byte) int {
	n := 0
	for _, m := range anonymousError.FindAllIndex(code, -1) {
		lineStart := bytes.LastIndexByte(code[:m[0]], '\n') + 1
		if !bytes.HasPrefix(bytes.TrimSpace(code[lineStart:m[0]]), []byte("type ")) {
			n++
		}
	}
	return n
}

func TestAnonymousErrorDetector(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"JSON401 *struct {\n\t// Errcode the code\n\tErrcode string `json:\"errcode\"`\n}", true},
		{"x struct {\n\tError *string `json:\"error\"`\n\tErrcode string\n}", true},
		{"type Error struct {\n\tErrcode string\n}", false},
		{"JSON401 *Error", false},
	} {
		if got := anonymousErrors([]byte(tc.code)) > 0; got != tc.want {
			t.Errorf("%q: matched %v, want %v", tc.code, got, tc.want)
		}
	}
}

// noAnonymousErrors fails when an error shape (errcode + error fields) is
// declared anywhere but in the one Error type.
func noAnonymousErrors(t *testing.T, code []byte) {
	t.Helper()
	if n := anonymousErrors(code); n > 0 {
		t.Errorf("%d anonymous structs with an Errcode field; want every error to use the Error type", n)
	}
}
