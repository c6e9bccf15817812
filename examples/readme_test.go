// Package examples_test checks that the README's way of using mxauth from
// a project of one's own works as written, against this checkout.
package examples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is this checkout, seen from examples/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goEnv is the environment for go commands in a module outside this one:
// no workspace, go.mod and go.sum updated as needed, and a proxy setting
// under which a module path that the proxy refuses (mxauth is not
// published, and a proxy may answer 403 rather than 404 for it) counts as
// not found, so that the replace to this checkout is used.
func goEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	proxy := strings.TrimSpace(string(out))
	if first := strings.FieldsFunc(proxy, func(r rune) bool { return r == ',' || r == '|' }); len(first) > 0 && first[0] != "off" && first[0] != "direct" {
		proxy = first[0] + "|off"
	}
	return append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=" + proxy}, extra...)...)
}

// run runs a shell script in dir and fails the test with its output when
// it fails.
func run(t *testing.T, dir string, env []string, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s\n--- script:\n%s", err, out, script)
	}
}

// TestReadmeFromAnEmptyFolder runs the commands of the README's "Use it
// from your project" in an empty folder: the generated client's test,
// against the mock, must pass.
func TestReadmeFromAnEmptyFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a new module; not in -short")
	}
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### Use it from your project\n")
	if !ok {
		t.Fatal(`README.md has no "### Use it from your project" section`)
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if block, _, ok = strings.Cut(block, "\n```\n"); !ok {
		t.Fatal(`the "Use it from your project" section has no sh block`)
	}
	for _, step := range []string{"go mod init", "go get -tool github.com/mxauth/mxauth/cmd/generate", "go generate", "go test"} {
		if !strings.Contains(block, step) {
			t.Fatalf("the README's commands lack %q", step)
		}
	}
	dir := t.TempDir()
	run(t, dir, goEnv(t, "MXAUTH="+root), block)
	gen, err := os.ReadFile(filepath.Join(dir, "myclient", "matrix", "matrix.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gen, []byte("gorilla/mux")) || !bytes.Contains(gen, []byte("func NewClientWithResponses")) {
		t.Fatal("the generated package is not a client without server stubs")
	}
}

// TestExampleCopiedOut copies examples/client out of the repository, as a
// user would, points its replace at this checkout, and checks that
// go generate changes nothing and its tests pass.
func TestExampleCopiedOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a new module; not in -short")
	}
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "client")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "examples", "client"))); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(dir, "matrix", "matrix.gen.go")
	before, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	run(t, dir, goEnv(t, "MXAUTH="+root), `go mod edit -replace github.com/mxauth/mxauth="$MXAUTH" && go generate ./... && go test ./...`)
	after, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("go generate in the copied example changed matrix.gen.go: it depends on where it is")
	}
}
