package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cannedOperations returns the operationIds that Handlers leaves to the
// embedded CannedServer: those of the generated CannedServer's methods
// (whose doc comments name them) that no file of this package defines
// again on Handlers.
func cannedOperations(t *testing.T) []string {
	gen, err := os.ReadFile("../../../gen/clientserver/clientserver.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	byGoName := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^// (\w+) answers (\w+) with`).FindAllSubmatch(gen, -1) {
		byGoName[string(m[1])] = string(m[2])
	}
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if ok && fn.Recv != nil && len(fn.Recv.List) == 1 {
					if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok && id.Name == "Handlers" {
						delete(byGoName, fn.Name.Name)
					}
				}
			}
		}
	}
	var canned []string
	for _, id := range byGoName {
		canned = append(canned, id)
	}
	slices.Sort(canned)
	return canned
}

// TestREADMEListsTheCannedOperations: the README's list of the operations
// answered from the spec alone is the list Handlers leaves to CannedServer.
func TestREADMEListsTheCannedOperations(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- canned operations -->(.*?)<!-- end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- canned operations --> ... <!-- end --> list")
	}
	var listed []string
	for _, id := range regexp.MustCompile("`([A-Za-z0-9_]+)`").FindAllSubmatch(m[1], -1) {
		listed = append(listed, string(id[1]))
	}
	canned := cannedOperations(t)
	if !slices.Equal(listed, canned) {
		t.Errorf("README lists %d canned operations, Handlers leaves %d to CannedServer; the list should read:\n%s",
			len(listed), len(canned), "`"+strings.Join(canned, "`, `")+"`")
	}
	if len(canned) == 0 {
		t.Error("no operation found canned: the generated CannedServer's doc comments changed?")
	}
}
