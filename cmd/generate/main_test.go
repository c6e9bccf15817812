package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestGenerateCheckAndDrift(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "cs", "cs.go")
	spec := filepath.Join("..", "..", "specs", "client-server")

	if code, _, stderr := runCLI(t, "-spec", spec, "-o", out, "-check"); code != exitOutdated || !strings.Contains(stderr, "missing") {
		t.Fatalf("-check on a missing file: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "-spec", spec, "-o", out, "-include-operations", "login,refresh"); code != exitOK {
		t.Fatalf("generate: exit %d, %s", code, stderr)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(written, []byte("package cs\n")) || !bytes.Contains(written, []byte(`ID: "refresh"`)) || bytes.Contains(written, []byte(`ID: "getDevices"`)) {
		t.Errorf("output has the wrong package or operations:\n%.600s", written)
	}
	if code, stdout, _ := runCLI(t, "-spec", spec, "-o", out, "-include-operations", "login,refresh", "-check"); code != exitOK || !strings.Contains(stdout, "up to date") {
		t.Errorf("-check on a fresh file: exit %d, %s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "-spec", spec, "-o", out, "-include-operations", "login", "-check"); code != exitOutdated || !strings.Contains(stderr, "first difference at line") {
		t.Errorf("-check on a stale file: exit %d, %s", code, stderr)
	}
	after, _ := os.ReadFile(out)
	if !bytes.Equal(after, written) {
		t.Error("-check changed the file")
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	spec, err := filepath.Abs(filepath.Join("..", "..", "specs", "client-server"))
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "mxauth.yaml")
	os.WriteFile(config, []byte("spec: ["+spec+"]\no: out/matrix.go\npackage: matrix\ninclude-operations: [getTokenOwner]\n"), 0o644)
	if code, _, stderr := runCLI(t, "-config", config); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, err := os.ReadFile(filepath.Join(dir, "out", "matrix.go"))
	if err != nil {
		t.Fatal("output not written beside the config file:", err)
	}
	if !bytes.Contains(code, []byte("package matrix")) || !bytes.Contains(code, []byte(`ID: "getTokenOwner"`)) {
		t.Error("config settings not applied")
	}

	// A flag on the command line wins over the file.
	if code, stdout, stderr := runCLI(t, "-config", config, "-o", "", "-package", "other"); code != exitOK || !strings.Contains(stdout, "package other") {
		t.Errorf("flag over config: exit %d, %s %.200s", code, stderr, stdout)
	}

	// Mistakes in the file: each at its line and column, an unknown key with
	// the allowed ones.
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", "spec: [x]\n  # comment\noutput: y.go\n",
			`:3:1: unknown key "output"; allowed: spec, o, package, generate, include-operations, exclude-operations, include-tags, matrix-version, check`},
		{"wrong type", "spec: [x]\ncheck: {a: 1}\n", `:2:8: check: cannot unmarshal !!map into bool`},
		{"syntax error on line 5", "spec: [x]\no: y.go\npackage: p\ngenerate: [types]\ninclude-operations: [login\n", `:5:1: did not find expected ',' or ']'`},
		{"not a mapping", "- spec\n", `:1:1: want settings as key: value; allowed keys: spec, o,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.yaml")
			os.WriteFile(bad, []byte(tc.text), 0o644)
			if code, _, stderr := runCLI(t, "-config", bad); code != exitUsage || !strings.Contains(stderr, "bad.yaml"+tc.want) {
				t.Errorf("exit %d, %s; want exit 2 and %s", code, stderr, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	spec := filepath.Join("..", "..", "specs", "client-server")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown operation", []string{"-spec", spec, "-include-operations", "refrsh"}, exitUsage, `unknown operationId "refrsh" (did you mean refresh`},
		{"bad part", []string{"-generate", "types,docs"}, exitUsage, `unknown part "docs"`},
		{"bad package", []string{"-package", "my-pkg"}, exitUsage, `not a Go identifier`},
		{"bad version", []string{"-matrix-version", "one"}, exitUsage, `want MAJOR.MINOR`},
		{"missing spec", []string{"-spec", "does/not/exist"}, exitUsage, "does/not/exist"},
		{"check without output", []string{"-check"}, exitUsage, "-check needs -o"},
		{"stray argument", []string{"specs"}, exitUsage, "unexpected argument"},
		{"bad spec file", []string{"-spec", filepath.Join("..", "..", "internal", "specgen", "testdata", "badref")}, exitSpec, "api.yaml:13:23"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestDefaultIsBundledSpecs(t *testing.T) {
	code, stdout, stderr := runCLI(t, "-generate", "types")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"package matrix", "mxauth/specs/client-server/login.yaml", "mxauth/specs/oauth2/token.yaml", "type TokenResponse struct", "type Device struct"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// upstreamClientServer returns the client-server folder of an upstream
// release in ../shared/upstream-spec (or $MXAUTH_UPSTREAM_SPEC), skipping
// the test when it is absent.
func upstreamClientServer(t *testing.T, release string) string {
	t.Helper()
	root := os.Getenv("MXAUTH_UPSTREAM_SPEC")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "upstream-spec")
	}
	dir := filepath.Join(root, release, "api", "client-server")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("upstream spec %s not found (%v); set MXAUTH_UPSTREAM_SPEC to its folder", release, err)
	}
	return dir
}

// TestMatrixVersionOnSwaggerRelease runs -matrix-version on the unmodified
// files of a Swagger 2.0 release: /refresh and the refresh_token fields
// arrived in Matrix 1.3.
func TestMatrixVersionOnSwaggerRelease(t *testing.T) {
	dir := upstreamClientServer(t, "v1.7")
	args := []string{"-spec", filepath.Join(dir, "login.yaml"), "-spec", filepath.Join(dir, "refresh.yaml"), "-generate", "types,client"}
	for _, tc := range []struct {
		version string
		refresh bool
	}{{"1.2", false}, {"1.3", true}} {
		code, stdout, stderr := runCLI(t, append(args, "-matrix-version", tc.version)...)
		if code != exitOK {
			t.Fatalf("-matrix-version %s: exit %d: %s", tc.version, code, stderr)
		}
		for _, marker := range []string{`ID: "refresh"`, "json:\"refresh_token"} {
			if got := strings.Contains(stdout, marker); got != tc.refresh {
				t.Errorf("-matrix-version %s: output has %s = %v, want %v", tc.version, marker, got, tc.refresh)
			}
		}
		if !strings.Contains(stdout, `ID: "login"`) {
			t.Errorf("-matrix-version %s: login (no version mark) is missing", tc.version)
		}
	}
}

// TestOutputIndependentOfCheckout generates from two copies of one project
// at different depths, once with the spec folder inside the project
// (a relative path in the config file) and once outside it (an absolute
// path): the outputs must be the same bytes, and the header must name only
// the files that gave the operations asked for.
func TestOutputIndependentOfCheckout(t *testing.T) {
	specFolder := filepath.Join("..", "..", "specs", "client-server")
	outside := filepath.Join(t.TempDir(), "third_party", "client-server")
	copyDir(t, specFolder, outside)
	for _, tc := range []struct{ name, spec string }{
		{"relative spec", "../matrix-spec/client-server"},
		{"absolute spec", outside},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outputs [][]byte
			for _, depth := range []string{"a", filepath.Join("b", "c", "d")} {
				project := filepath.Join(t.TempDir(), depth, "project")
				copyDir(t, specFolder, filepath.Join(project, "matrix-spec", "client-server"))
				config := filepath.Join(project, "pkg", "mxauth.yaml")
				os.MkdirAll(filepath.Dir(config), 0o755)
				os.WriteFile(config, []byte("spec: ["+tc.spec+"]\no: out/matrix.gen.go\ninclude-operations: [login, getTokenOwner]\ngenerate: [types, client]\n"), 0o644)
				if code, _, stderr := runCLI(t, "-config", config); code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				out, err := os.ReadFile(filepath.Join(project, "pkg", "out", "matrix.gen.go"))
				if err != nil {
					t.Fatal(err)
				}
				outputs = append(outputs, out)
			}
			if !bytes.Equal(outputs[0], outputs[1]) {
				t.Errorf("the output depends on where the project is: %s", diffSummary(outputs[0], outputs[1]))
			}
			shown := filepath.ToSlash(tc.spec)
			header, _, _ := strings.Cut(string(outputs[0]), "package ")
			want := "// Sources:\n//   - " + shown + "/login.yaml\n//   - " + shown + "/whoami.yaml"
			if !strings.HasSuffix(strings.TrimSpace(header), want) {
				t.Errorf("header:\n%s\nwant it to end with:\n%s", header, want)
			}
		})
	}
}

// copyDir copies the folder from (files and subfolders) to to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
