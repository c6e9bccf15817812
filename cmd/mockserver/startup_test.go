package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStartupLineNamesTheClock checks that the start-up line says which
// clock runs, and that a virtual clock nobody can move gets a warning
// saying how to get one that moves.
func TestStartupLineNamesTheClock(t *testing.T) {
	virtual := filepath.Join("..", "..", "scenarios", "short-expiry.yaml")
	const warning = "the clock is virtual and nothing can move it"
	tests := []struct {
		name      string
		args      []string
		clock     string
		wantAlarm bool
	}{
		{"default scenario", nil, `clock=real`, false},
		{"virtual without control", []string{"-scenario", virtual}, `clock="virtual at 2026-01-01T00:00:00Z"`, true},
		{"virtual with control", []string{"-scenario", virtual, "-control"}, `clock="virtual at 2026-01-01T00:00:00Z"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, log, stop := startServer(t, tt.args...)
			stop()
			out := log.String()
			if !strings.Contains(out, `msg="mock homeserver ready"`) || !strings.Contains(out, tt.clock) {
				t.Errorf("start-up line without %s:\n%s", tt.clock, out)
			}
			if got := strings.Contains(out, warning); got != tt.wantAlarm {
				t.Errorf("warning %v, want %v:\n%s", got, tt.wantAlarm, out)
			}
			if tt.wantAlarm && (!strings.Contains(out, "clock: {mode: real}") || !strings.Contains(out, "-control")) {
				t.Errorf("the warning does not say how to get a clock that moves:\n%s", out)
			}
		})
	}
}

// TestStartupLineNamesStateAndOAuth checks that the start-up line says
// whether the state was loaded and whether OAuth 2.0 (and auto-approve) is
// on.
func TestStartupLineNamesStateAndOAuth(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	_, log, stop := startServer(t, "-state", state, "-oauth")
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d; log: %s", code, log)
	}
	if out := log.String(); !strings.Contains(out, `state="new, saved to `+state+`"`) || !strings.Contains(out, "oauth=on ") {
		t.Errorf("first start:\n%s", out)
	}
	_, log, stop = startServer(t, "-state", state, "-oauth-auto-approve", "alice")
	stop()
	if out := log.String(); !strings.Contains(out, `state="loaded from `+state+`"`) ||
		!strings.Contains(out, `oauth="on, every authorization approved as alice"`) {
		t.Errorf("second start:\n%s", out)
	}
}

// TestUnwritableStateRefusedAtStart checks that a -state the server could
// not save to stops it at start, not at shutdown when the state is lost.
func TestUnwritableStateRefusedAtStart(t *testing.T) {
	for name, path := range map[string]string{
		"missing folder": filepath.Join(t.TempDir(), "nonexistent", "x.json"),
		"a folder":       t.TempDir(),
	} {
		var stderr lockedBuffer
		// A server that starts anyway is stopped after a while, and fails
		// the test by its exit code.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if code := run(ctx, []string{"-addr", "127.0.0.1:0", "-state", path}, new(bytes.Buffer), &stderr); code != exitUsage {
			t.Fatalf("%s: exit %d, want %d; stderr: %s", name, code, exitUsage, stderr.String())
		}
		if want := "mockserver: -state " + path + ": the state could not be saved there: "; !strings.HasPrefix(stderr.String(), want) {
			t.Errorf("%s: stderr %q, want it to start with %q", name, stderr.String(), want)
		}
	}
}

// TestSaveErrorHasOnePrefix checks the message of a save that fails at
// shutdown (the folder went away): one "mockserver:" prefix, no "mock:".
func TestSaveErrorHasOnePrefix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	_, log, stop := startServer(t, "-state", state, "-state-interval", "0")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	line := regexp.MustCompile(`(?m)^mockserver: .*$`).FindString(log.String())
	if !strings.HasPrefix(line, "mockserver: -state "+state+": saving the state: ") || strings.Contains(line, "mock:") {
		t.Errorf("error line %q; log:\n%s", line, log)
	}
}

// TestHelpShowsOneDefault checks that -h gives each flag one default: the
// scenario-backed flags say the scenario's, and nothing else.
func TestHelpShowsOneDefault(t *testing.T) {
	var stderr lockedBuffer
	if code := run(t.Context(), []string{"-h"}, new(bytes.Buffer), &stderr); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Count(line, "(default") > 1 {
			t.Errorf("two defaults: %s", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(stderr.String(), "refresh tokens (default: the scenario's)\n") {
		t.Errorf("-refresh-token-lifetime does not name the scenario's default:\n%s", stderr.String())
	}
}
