package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/baseline"
)

// runLoadtest runs the command with args and returns its exit code, its
// standard output and its standard error.
func runLoadtest(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMarkdownReport(t *testing.T) {
	code, out, stderr := runLoadtest(t, "-duration", "100ms", "-warmup", "20ms", "-conns", "1", "-sessions", "100")
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr:\n%s\nstdout:\n%s", code, exitOK, stderr, out)
	}
	if !strings.Contains(out, "| endpoint | conns | mock req/s | mock p50 | mock p99 | baseline req/s | baseline p50 | baseline p99 | ratio req/s | ratio p99 | errors (mock/baseline) |") {
		t.Errorf("no table header in:\n%s", out)
	}
	for _, ep := range baseline.Endpoints {
		// Every cell answered something, and nothing failed.
		re := regexp.MustCompile(`(?m)^\| ` + ep + ` \| 1 \| [1-9][0-9]* \| [0-9.]+ [µm]s \| [0-9.]+ [µm]s \| [1-9][0-9]* \| [0-9.]+ [µm]s \| [0-9.]+ [µm]s \| [0-9.]+× \| [0-9.]+× \| 0/0 \|$`)
		if !re.MatchString(out) {
			t.Errorf("no complete, error-free row for %s in:\n%s", ep, out)
		}
	}
	if strings.Contains(out, "errors, first:") {
		t.Errorf("errors reported:\n%s", out)
	}
}

func TestJSONReport(t *testing.T) {
	code, out, stderr := runLoadtest(t, "-json", "-duration", "100ms", "-warmup", "0s", "-conns", "1,2", "-endpoints", "whoami,refresh,oauth-refresh", "-sessions", "0")
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr:\n%s\nstdout:\n%s", code, exitOK, stderr, out)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out)
	}
	var cells []string
	for _, r := range rep.Rows {
		cells = append(cells, fmt.Sprint(r.Endpoint, "/", r.Conns))
		for name, res := range map[string]result{"mock": r.Mock, "baseline": r.Baseline} {
			if res.Errors != 0 || res.Requests == 0 || res.ReqPerSec <= 0 || res.P50 <= 0 || res.P99 < res.P50 {
				t.Errorf("%s %s conns=%d: implausible result %+v", name, r.Endpoint, r.Conns, res)
			}
		}
		if r.RatioReqPerSec <= 0 || r.RatioP99 <= 0 {
			t.Errorf("%s conns=%d: ratios %v and %v", r.Endpoint, r.Conns, r.RatioReqPerSec, r.RatioP99)
		}
	}
	if got, want := strings.Join(cells, " "), "whoami/1 whoami/2 refresh/1 refresh/2 oauth-refresh/1 oauth-refresh/2"; got != want {
		t.Errorf("cells %s, want %s", got, want)
	}
}

// TestWorkers runs a worker of every endpoint on each server for a few
// requests: every answer is 200 with the mock's headers on both servers,
// the same JSON fields, and refresh workers get a new refresh token each
// time, which the next request uses.
func TestWorkers(t *testing.T) {
	mockTarget, baseTarget, stop, err := startTargets(0)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(baseline.Endpoints) != 5 {
		t.Fatalf("endpoints %v: this test knows five", baseline.Endpoints)
	}
	for _, ep := range baseline.Endpoints {
		t.Run(ep, func(t *testing.T) {
			var headers [2]http.Header
			var fields [2][]string
			for i, target := range []*target{mockTarget, baseTarget} {
				w, err := newWorker(target, ep, 0)
				if err != nil {
					t.Fatalf("%s: %v", target.name, err)
				}
				defer w.transport.CloseIdleConnections()
				seen := map[string]bool{w.refresh: true}
				for range 3 {
					resp, body, err := w.roundTrip(t.Context())
					if err != nil || resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: %v %v %s", target.name, err, resp, body)
					}
					headers[i] = resp.Header
					var answer map[string]any
					if err := json.Unmarshal(body, &answer); err != nil {
						t.Fatalf("%s: %s: %v", target.name, body, err)
					}
					fields[i] = slices.Sorted(maps.Keys(answer))
					if ep != "refresh" && ep != "oauth-refresh" {
						continue
					}
					rt, _ := answer["refresh_token"].(string)
					if rt == "" || seen[rt] {
						t.Fatalf("%s: refresh token %q, not a new one", target.name, rt)
					}
					seen[rt] = true
					w.refresh = rt
				}
			}
			// Date and Content-Length are net/http's, and the mock's
			// generated answers end with a newline.
			for _, h := range headers {
				h.Del("Date")
				h.Del("Content-Length")
			}
			if !maps.EqualFunc(headers[0], headers[1], slices.Equal) {
				t.Errorf("headers differ:\nmock     %v\nbaseline %v", headers[0], headers[1])
			}
			if !slices.Equal(fields[0], fields[1]) {
				t.Errorf("fields differ: mock %v, baseline %v", fields[0], fields[1])
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-conns", "0"},
		{"-conns", "1,x"},
		{"-endpoints", "sync"},
		{"-duration", "0s"},
		{"-rounds", "0"},
		{"extra"},
	} {
		if code, out, _ := runLoadtest(t, args...); code != exitUsage || out != "" {
			t.Errorf("%q: exit code %d and output %q, want %d and none", args, code, out, exitUsage)
		}
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 200; i++ {
		lat = append(lat, time.Duration(i))
	}
	if p := percentile(lat, 0.5); p != 100 {
		t.Errorf("p50 of 1..200 = %d, want 100", p)
	}
	if p := percentile(lat, 0.99); p != 198 {
		t.Errorf("p99 of 1..200 = %d, want 198", p)
	}
	if p := percentile(lat[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d, want 1", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of none = %d, want 0", p)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8008":  true,
		"[::1]:8008":      true,
		"192.0.2.1:80":    false,
		"example.org:443": false,
	} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("loopbackOnly(%s) = %v", addr, err)
		}
	}
}
