package specgen

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// genPackages are the committed generated packages, by folder under gen/,
// with their generated file.
var genPackages = map[string]string{"clientserver": "clientserver.gen.go", "oauth2": "oauth2.gen.go"}

// anonymousStruct finds a struct type spelled out where a field, element or
// result type is expected.
var anonymousStruct = regexp.MustCompile(`(?m)^\t+[A-Za-z0-9_]+ +(?:\*|\[\]|map\[string\])*struct \{|\*?struct \{\n[^}]*\}\)?,? error\)|\[\]struct \{`)

// TestGenNoAnonymousStructs checks the committed gen/ packages: every type a
// caller meets in a request or an answer has a name.
func TestGenNoAnonymousStructs(t *testing.T) {
	for dir, file := range genPackages {
		name := filepath.Join(dir, file)
		code, err := os.ReadFile(filepath.Join("..", "..", "gen", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range anonymousStruct.FindAll(code, 5) {
			t.Errorf("%s: anonymous struct: %s", name, firstLine(m))
		}
	}
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// TestGenPackageDocs checks that each gen/ package's doc says how to use
// it (the typed API, the errors, the server side), and that the generated
// file's header, a list of sources, is not taken for it.
func TestGenPackageDocs(t *testing.T) {
	for dir := range genPackages {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, filepath.Join("..", "..", "gen", dir), func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		var doc strings.Builder
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				if f.Doc != nil {
					doc.WriteString(f.Doc.Text())
				}
			}
		}
		for _, want := range []string{"NewAPI", "matrixerr", "errors.Is", "StrictServerInterface"} {
			if !strings.Contains(doc.String(), want) {
				t.Errorf("gen/%s: package doc does not mention %s", dir, want)
			}
		}
		if strings.Contains(doc.String(), "Sources:") {
			t.Errorf("gen/%s: the generated file's list of sources is part of the package doc", dir)
		}
	}
}

// TestGenFastJSONWriters checks that the strict servers in gen/ send JSON
// answers through operation.WriteJSON, not oapi-codegen's Encoder and
// Buffer (see fastJSONWriters).
func TestGenFastJSONWriters(t *testing.T) {
	for dir, file := range genPackages {
		code, err := os.ReadFile(filepath.Join("..", "..", "gen", dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(code), "json.NewEncoder"); n != 0 {
			t.Errorf("gen/%s: %d answers still written through json.NewEncoder", dir, n)
		}
		if !strings.Contains(string(code), "return operation.WriteJSON(w, 200, response)") {
			t.Errorf("gen/%s: no answer written with operation.WriteJSON", dir)
		}
	}
}
