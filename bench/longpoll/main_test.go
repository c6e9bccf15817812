package main

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "-mockserver is required"},
		{[]string{"-mockserver", "m", "-polls", "0"}, "-polls must be from 1 to 100000"},
	} {
		var stderr bytes.Buffer
		if code := run(tt.args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tt.args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: stderr %q, want it to say %q", tt.args, stderr.String(), tt.want)
		}
	}
}

// TestSmoke holds 50 polls on a built mockserver: they are all still
// waiting when measured (run fails otherwise), and the report names the
// cost a poll. The figure itself is not checked here: 50 polls are too
// few to weigh against the runtime's own growth (the measurement is
// -polls 10000, in BENCHMARKS.md).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the mockserver")
	}
	bin := filepath.Join(t.TempDir(), "mockserver")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mockserver")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-mockserver", bin, "-polls", "50", "-max-bytes", "1073741824"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "50 idle /sync long-polls held") || !strings.Contains(stdout.String(), "KiB a poll") {
		t.Errorf("report %q", stdout.String())
	}
}
