package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/session"
)

func TestParseResult(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 2 connections\n" +
		"wrk-result requests=30000 duration_us=1500000 p50_us=52 p99_us=2400 connect=0 read=1 write=0 status=3 timeout=2\n"
	r, err := parseResult(out)
	if err != nil {
		t.Fatal(err)
	}
	want := runResult{ReqPerSec: 20000, P50: 52 * time.Microsecond, P99: 2400 * time.Microsecond, Requests: 30000, Errors: 6}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	for _, bad := range []string{"no result here", "wrk-result requests=1 duration_us=0", "wrk-result requests=x duration_us=1"} {
		if _, err := parseResult(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "-mockserver is required"},
		{[]string{"-mockserver", "m", "-conns", "0"}, `-conns: "0" is not a number from 1 to 256`},
		{[]string{"-mockserver", "m", "-endpoints", "sync,keys"}, `-endpoints: unknown endpoint "keys"`},
		{[]string{"-mockserver", "m", "-log-cost", "whoami,x"}, `-log-cost: unknown endpoint "x"`},
		{[]string{"-mockserver", "m", "-compare", "m2", "-compare-endpoints", "y"}, `-compare-endpoints: unknown endpoint "y"`},
		{[]string{"-mockserver", "m", "-duration", "100ms"}, "-duration must be at least 1s"},
		{[]string{"-mockserver", "m", "-warmup", "500ms"}, "in whole seconds"},
		{[]string{"-mockserver", "m", "-rounds", "0"}, "-rounds must be from 1 to 20"},
		{[]string{"-serve", "nginx"}, `-serve "nginx": want ceiling or baseline`},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tt.args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tt.args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%q: stderr %q, want it to say %q", tt.args, stderr.String(), tt.want)
		}
	}
}

// startYardstick serves kind in this process on a loopback port, as
// -serve does, and returns its URL and a stop function that returns the
// exit code.
func startYardstick(t *testing.T, kind string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, outW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-serve", kind}, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no URL printed: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	stop := func() int { cancel(); return <-code }
	t.Cleanup(func() { cancel() })
	return strings.TrimSpace(line), stop
}

// TestBaselineYardstick runs the setup the measurement does on the
// baseline yardstick: a password login, and an OAuth session from the setup
// endpoint whose refresh token the token endpoint takes once.
func TestBaselineYardstick(t *testing.T) {
	u, stop := startYardstick(t, base)
	if err := checkLoopback(u); err != nil {
		t.Fatal(err)
	}
	s := &server{name: base, url: u, room: yardstickRoom}
	ctx := context.Background()
	if _, err := session.PasswordLogin(ctx, s.sessionConfig(), benchUser, benchPassword, "TESTDEVICE"); err != nil {
		t.Fatalf("login: %v", err)
	}
	clientID, refresh, err := s.oauthSession(ctx, "TESTOAUTHDEVICE")
	if err != nil {
		t.Fatalf("OAuth session: %v", err)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {refresh}}
	for i, want := range []int{http.StatusOK, http.StatusBadRequest} { // the second time, the token is spent
		resp, err := http.PostForm(u+endpointPaths["oauth-refresh"], form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("refresh grant %d: %s, want %d", i+1, resp.Status, want)
		}
	}
	for _, ep := range []string{"sync", "send"} {
		checkPrepared(t, s, ep)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit %d after cancel, want 0", code)
	}
}

// checkPrepared prepares a run of endpoint on s, as the measurement does,
// and sends the run's request once, as wrk would: it must be answered 200.
func checkPrepared(t *testing.T, s *server, endpoint string) {
	t.Helper()
	spec, err := s.prepare(context.Background(), endpoint, 1, t.TempDir())
	if err != nil {
		t.Fatalf("prepare %s: %v", endpoint, err)
	}
	method, path, header := http.MethodGet, spec.path, http.Header{}
	switch endpoint {
	case "sync":
		if !strings.Contains(path, "since=") || !strings.Contains(path, "timeout=0") || len(spec.wrkArgs) != 2 {
			t.Fatalf("sync run: path %q, wrk flags %q", path, spec.wrkArgs)
		}
		name, value, _ := strings.Cut(spec.wrkArgs[1], ": ")
		header.Set(name, value)
	case "send":
		if len(spec.scriptArgs) != 4 || spec.scriptArgs[0] != "send" || spec.scriptArgs[2] != path {
			t.Fatalf("send run: path %q, script arguments %q", path, spec.scriptArgs)
		}
		method, path = http.MethodPut, path+"txn1"
		header.Set("Authorization", "Bearer "+spec.scriptArgs[1])
	}
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(`{"msgtype":"m.text","body":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s %s: %s %s", method, path, resp.Status, body)
	}
}

// TestCeilingYardstick checks that the ceiling answers its setup endpoint
// and its token endpoint whatever the token.
func TestCeilingYardstick(t *testing.T) {
	u, stop := startYardstick(t, ceiling)
	s := &server{name: ceiling, url: u}
	clientID, refresh, err := s.oauthSession(context.Background(), "TESTOAUTHDEVICE")
	if err != nil || clientID == "" || refresh == "" {
		t.Fatalf("OAuth session: %q, %q, %v", clientID, refresh, err)
	}
	resp, err := http.PostForm(u+endpointPaths["oauth-refresh"], url.Values{"refresh_token": {"anything"}})
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 || answer["refresh_token"] == nil {
		t.Errorf("token endpoint: %s, %v, %v", resp.Status, answer, err)
	}
	resp.Body.Close()
	if code := stop(); code != exitOK {
		t.Errorf("exit %d after cancel, want 0", code)
	}
}

// TestSmoke measures the OAuth refresh grant, /sync with nothing new and
// the message send at two connections for a second a server, as
// bench/outside.sh does, and the OAuth refresh grant against a second mock
// binary (-compare, the same build here) at 2 and 16, with the binaries
// built and run as processes of their own: the setup of every server (for
// send, the mock's room), and the token rotation and the transaction IDs of
// lua/requests.lua (plain refresh shares the rotation). No errors means
// that every request carried a refresh token the server took: each was
// valid, and none was sent twice; and that every sync and send was
// answered 200. It needs wrk (skipped without it, and
// with -short) and takes a few seconds.
func TestSmoke(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil || testing.Short() {
		t.Skip("needs wrk on $PATH (bench/outside.sh installs it), and not -short")
	}
	dir := t.TempDir()
	for _, pkg := range []string{"cmd/mockserver", "bench/outside"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), "./"+pkg)
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	report := filepath.Join(dir, "report.md")
	cmd := exec.Command(filepath.Join(dir, "outside"), "-mockserver", filepath.Join(dir, "mockserver"), "-wrk", wrk,
		"-duration", "1s", "-warmup", "0", "-rounds", "1", "-conns", "2", "-endpoints", "oauth-refresh,sync,send", "-log-cost", "none",
		"-compare", filepath.Join(dir, "mockserver"), "-compare-endpoints", "oauth-refresh", "-o", report)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("outside: %v\n%s", err, stderr.String())
	}
	text, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"oauth-refresh", "sync", "send"} {
		if row := rowOf(string(text), ep); row == nil || row[len(row)-1] != "0" {
			t.Errorf("%s: row %q, want one ending in 0 errors; report:\n%s", ep, row, text)
		}
	}
	// The comparison's table: the only cell at 16 connections, clean.
	if !strings.Contains(string(text), "| oauth-refresh | 16 |") || !strings.Contains(string(text), "compared / mock CPU | errors |") {
		t.Errorf("no comparison table for -compare; report:\n%s", text)
	}

	// And a run that sends spent tokens is counted as failing.
	_, dynamic, err := writeScripts(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := startYardstick(t, base)
	spent := filepath.Join(dir, "spent.tokens")
	if err := os.WriteFile(spent, []byte("mrt_spent1\nmrt_spent2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := runWrk(context.Background(), wrk, u+endpointPaths["refresh"], 1, time.Second, nil, dynamic, []string{"refresh", spent})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors != r.Requests {
		t.Errorf("spent tokens: %d errors in %d requests, want every request an error", r.Errors, r.Requests)
	}
}

// rowOf returns the cells of the Markdown table row of endpoint.
func rowOf(table, endpoint string) []string {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| "+endpoint+" |") {
			var cells []string
			for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			return cells
		}
	}
	return nil
}
