package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The wrk scripts: report.lua prints what a run measured, requests.lua
// builds the POST requests. Each run's script is report.lua alone or
// requests.lua followed by it.
var (
	//go:embed lua/report.lua
	reportLua string
	//go:embed lua/requests.lua
	requestsLua string
)

// endpointPaths are the measured endpoints' paths, but send's, which
// names its room (sendPath).
var endpointPaths = map[string]string{
	"sync":          "/_matrix/client/v3/sync",
	"versions":      "/_matrix/client/versions",
	"whoami":        "/_matrix/client/v3/account/whoami",
	"login":         "/_matrix/client/v3/login",
	"refresh":       "/_matrix/client/v3/refresh",
	"oauth-refresh": "/oauth2/token",
}

// writeScripts writes the two scripts a run can use into dir and returns
// their paths.
func writeScripts(dir string) (static, dynamic string, err error) {
	static, dynamic = filepath.Join(dir, "static.lua"), filepath.Join(dir, "requests.lua")
	if err := os.WriteFile(static, []byte(reportLua), 0o644); err != nil {
		return "", "", err
	}
	return static, dynamic, os.WriteFile(dynamic, []byte(requestsLua+"\n"+reportLua), 0o644)
}

// runResult is what one wrk run measured.
type runResult struct {
	ReqPerSec float64
	P50, P99  time.Duration
	Requests  int
	// Errors counts socket errors, timeouts and answers with a status of
	// 400 or more: a run with any is not a measurement.
	Errors int
	// CPUPerReq is the CPU time (user and system) the server's process
	// used during the run, over Requests; zero when unknown. It moves less
	// than req/s from round to round on a shared machine; at one or two
	// connections it includes going idle between requests, which costs
	// more on a quiet machine than on a busy one.
	CPUPerReq time.Duration
}

// runWrk runs wrk with one thread and conns connections for d against
// url, with script and its arguments, and reads the line report.lua
// prints.
func runWrk(ctx context.Context, wrkBin, url string, conns int, d time.Duration, wrkArgs []string, script string, scriptArgs []string) (runResult, error) {
	if err := checkLoopback(url); err != nil {
		return runResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d/time.Second)) + "s", "--timeout", "5s", "-s", script}
	args = append(args, wrkArgs...)
	args = append(args, url)
	if len(scriptArgs) > 0 {
		args = append(append(args, "--"), scriptArgs...)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, wrkBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return runResult{}, fmt.Errorf("wrk: %w: %s%s", err, stderr.Bytes(), stdout.Bytes())
	}
	return parseResult(stdout.String())
}

// parseResult reads the wrk-result line of report.lua from wrk's output.
func parseResult(out string) (runResult, error) {
	var line string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "wrk-result "); ok {
			line = rest
		}
	}
	if line == "" {
		return runResult{}, fmt.Errorf("no wrk-result line in wrk's output:\n%s", out)
	}
	fields := make(map[string]int64)
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return runResult{}, fmt.Errorf("wrk-result: %q: %v", f, err)
		}
		fields[k] = n
	}
	if fields["duration_us"] <= 0 {
		return runResult{}, fmt.Errorf("wrk-result: no duration: %s", line)
	}
	r := runResult{
		Requests: int(fields["requests"]),
		P50:      time.Duration(fields["p50_us"]) * time.Microsecond,
		P99:      time.Duration(fields["p99_us"]) * time.Microsecond,
		Errors:   int(fields["connect"] + fields["read"] + fields["write"] + fields["status"] + fields["timeout"]),
	}
	r.ReqPerSec = float64(r.Requests) / (float64(fields["duration_us"]) / 1e6)
	return r, nil
}
