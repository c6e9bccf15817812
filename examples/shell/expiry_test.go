// Package shell holds examples of driving the mock homeserver from outside
// Go; this test keeps them working.
package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExpiryScript runs expiry.sh against a freshly built mockserver.
func TestExpiryScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the shell example needs it", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "mockserver")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mockserver").CombinedOutput(); err != nil {
		t.Fatalf("building mockserver: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "expiry.sh")
	cmd.Env = append(os.Environ(), "MOCKSERVER="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "all checks passed") {
		t.Fatalf("expiry.sh: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "ok: "); n != 7 {
		t.Fatalf("expiry.sh passed %d checks, want 7:\n%s", n, out)
	}
}
