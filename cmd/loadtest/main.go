// Command loadtest measures the mock homeserver over real HTTP against a
// baseline: a bare net/http server that gives the same answers with the
// least work (package internal/baseline). Both run in this process on 127.0.0.1, and
// requests go nowhere else.
//
// Usage:
//
//	go run ./cmd/loadtest [flags]
//
// Flags:
//
//	-duration D      how long each server is measured in each cell (default 3s)
//	-warmup D        how long each server runs in each cell before it is
//	                 measured (default 500ms)
//	-rounds N        slices each cell's duration is cut into (default 5)
//	-conns LIST      concurrency levels, comma-separated (default 1,2,16)
//	-endpoints LIST  endpoints, comma-separated, from versions, whoami,
//	                 login, refresh, oauth-refresh (default all five; sync
//	                 and send are measured by bench/outside only)
//	-sessions N      live sessions created in each server before measuring,
//	                 besides the workers' own (default 10000)
//	-json            print JSON instead of a Markdown table
//
// For each endpoint and concurrency level (a cell), it runs a closed loop:
// each of the N connections is a worker with its own http.Client and
// Transport (keep-alive) that sends its next request as soon as the answer
// to the previous one is read. Each server gets its own workers, warms up,
// and then the two take turns: the duration is cut into -rounds slices,
// and mock and baseline alternate slice by slice (ABBA…, and the server
// that starts alternates from cell to cell), so that a burst of noise on a
// shared machine falls on both alike. It prints, per cell, the requests per
// second and the exact p50 and p99 latencies of both, their ratios, and
// the error counts, which should be zero. The endpoints are GET
// /_matrix/client/versions, an authenticated GET
// /_matrix/client/v3/account/whoami, a password POST /_matrix/client/v3/login
// with refresh_token true on a fixed device per worker, and POST
// /_matrix/client/v3/refresh, where each worker follows its own rotation,
// sending the refresh token the previous answer gave it; oauth-refresh is
// the same rotation at the OAuth 2.0 token endpoint, POST /oauth2/token
// with a form-encoded refresh_token grant, each worker with a client and a
// session of its own. On the mock, a worker gets them at setup through the
// mock's own endpoints (client registration, authorization, approved at
// once, and code exchange); the baseline, which has no such endpoints,
// gives them through its Go API.
//
// It is a regression guard, not the figure a user sees: the generator's
// own work runs on the same cores as both servers and is the same for
// both, which pulls every ratio towards 1; the in-process benchmarks of
// package mock (mock/bench_test.go) give the ratios of the handlers alone.
// For figures as a user would measure them (the mockserver binary in its
// own process, wrk in another, against a ceiling and this baseline) run
// bench/outside.sh. What this command keeps: one process, no wrk, exact
// p50 and p99 from every latency, and mock and baseline in alternating
// slices of the same run.
//
// Exit codes: 0 every request answered as expected; 1 some did not (the
// report is still printed) or a server failed; 2 bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/internal/baseline"
	"github.com/mxauth/mxauth/mock"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// The measured user and its password, in both servers.
const (
	benchUser     = "loadtest"
	benchPassword = "correct horse"
	serverName    = "localhost"
)

// maxConns bounds -conns, so that a typo cannot open thousands of sockets.
const maxConns = 256

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	duration, warmup time.Duration
	conns            []int
	endpoints        []string
	rounds           int
	sessions         int
	json             bool
}

// parseFlags reads the flags, reporting problems on stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	flags := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.DurationVar(&o.duration, "duration", 3*time.Second, "how long each server is measured in each cell")
	flags.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "how long each server runs in each cell before it is measured")
	flags.IntVar(&o.rounds, "rounds", 5, "slices each cell's duration is cut into, alternating the servers")
	conns := flags.String("conns", "1,2,16", "concurrency levels, comma-separated")
	eps := flags.String("endpoints", strings.Join(baseline.Endpoints, ","), "endpoints, comma-separated")
	flags.IntVar(&o.sessions, "sessions", 10000, "live sessions created in each server before measuring")
	flags.BoolVar(&o.json, "json", false, "print JSON instead of a Markdown table")
	if err := flags.Parse(args); err != nil {
		return o, err
	}
	if flags.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	if o.duration <= 0 || o.warmup < 0 {
		return o, errors.New("-duration must be positive and -warmup not negative")
	}
	if o.rounds < 1 || o.duration/time.Duration(o.rounds) < time.Millisecond {
		return o, errors.New("-rounds must be at least 1, with slices of at least 1ms")
	}
	if o.sessions < 0 {
		return o, errors.New("-sessions must not be negative")
	}
	for _, f := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxConns {
			return o, fmt.Errorf("-conns: %q is not a number from 1 to %d", f, maxConns)
		}
		o.conns = append(o.conns, n)
	}
	var err error
	if o.endpoints, err = baseline.ParseEndpoints(*eps, baseline.Endpoints); err != nil {
		return o, fmt.Errorf("-endpoints: %w", err)
	}
	return o, nil
}

// run measures what args ask for and returns the exit code. Progress goes
// to stderr, the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "loadtest:", err)
		}
		return exitUsage
	}
	mockTarget, baseTarget, stop, err := startTargets(opts.sessions)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return exitFailed
	}
	defer stop()

	rep := report{
		Go:         runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUs:       runtime.NumCPU(),
		Duration:   opts.duration.String(),
		Warmup:     opts.warmup.String(),
		Rounds:     opts.rounds,
		Sessions:   opts.sessions,
	}
	cell := 0
	for _, ep := range opts.endpoints {
		for _, conns := range opts.conns {
			first, second := mockTarget, baseTarget
			if cell%2 == 1 {
				first, second = second, first
			}
			cell++
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "loadtest: interrupted")
				return exitFailed
			}
			results, err := measureCell(ctx, first, second, ep, conns, opts.rounds, opts.warmup, opts.duration)
			if err != nil {
				fmt.Fprintf(stderr, "loadtest: %s conns=%d: %v\n", ep, conns, err)
				return exitFailed
			}
			for _, t := range []*target{first, second} {
				res := results[t]
				fmt.Fprintf(stderr, "%-13s %-8s conns=%-3d %9.0f req/s  p50 %-9s p99 %-9s errors %d\n",
					ep, t.name, conns, res.ReqPerSec, formatLatency(res.P50), formatLatency(res.P99), res.Errors)
			}
			rep.Rows = append(rep.Rows, newRow(ep, conns, results[mockTarget], results[baseTarget]))
		}
	}
	if opts.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return exitFailed
	}
	if n := rep.errors(); n > 0 {
		fmt.Fprintf(stderr, "loadtest: %d requests failed\n", n)
		return exitFailed
	}
	return exitOK
}

// target is a server under test, running in this process.
type target struct {
	name string // "mock" or "baseline"
	url  string // base URL, on 127.0.0.1
	// login gives the measured user a session on device through the
	// server's Go API, bypassing HTTP.
	login func(device string, withRefresh bool) (access, refresh string, err error)
	// oauthLogin gives the measured user an OAuth 2.0 session on the
	// worker's device: a registered client, and the refresh token to send
	// to the token endpoint.
	oauthLogin func(w *worker) (clientID, refresh string, err error)
}

// startTargets starts the mock and the baseline on loopback ports, each
// with the measured user and sessions other live sessions, and returns a
// function that stops both.
func startTargets(sessions int) (mockTarget, baseTarget *target, stop func(), err error) {
	hs, err := mock.New(mock.WithServerName(serverName), mock.WithUser(benchUser, benchPassword), mock.WithOAuthAutoApprove(benchUser))
	if err != nil {
		return nil, nil, nil, err
	}
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ml.Close()
		return nil, nil, nil, err
	}
	mockTarget = &target{
		name: "mock",
		url:  "http://" + ml.Addr().String(),
		login: func(device string, withRefresh bool) (string, string, error) {
			s, err := hs.Login(benchUser, device, withRefresh)
			return s.AccessToken, s.RefreshToken, err
		},
		oauthLogin: (*worker).mockOAuthSession,
	}
	base := baseline.New(serverName, "http://"+bl.Addr().String(), mock.DefaultVersions())
	baseUser := base.AddUser(benchUser, benchPassword)
	baseTarget = &target{
		name: "baseline",
		url:  "http://" + bl.Addr().String(),
		login: func(device string, withRefresh bool) (string, string, error) {
			access, refresh := base.Login(baseUser, device, withRefresh)
			return access, refresh, nil
		},
		oauthLogin: func(w *worker) (string, string, error) {
			_, refresh := base.Login(baseUser, w.device, true)
			return base.AddClient(), refresh, nil
		},
	}

	// Other users' live sessions, ten devices each, so that token lookups
	// do not run in a nearly empty map.
	const perUser = 10
	var other string // the baseline's user ID of the current other user
	for i := range sessions {
		localpart := "other" + strconv.Itoa(i/perUser)
		if i%perUser == 0 {
			if _, err := hs.AddUser(localpart, "pw"); err != nil {
				ml.Close()
				bl.Close()
				return nil, nil, nil, err
			}
			other = base.AddUser(localpart, "pw")
		}
		if _, err := hs.Login(localpart, "", true); err != nil {
			ml.Close()
			bl.Close()
			return nil, nil, nil, err
		}
		base.Login(other, "DEV"+strconv.Itoa(i%perUser), true)
	}

	baseServer := &http.Server{Handler: base.Handler(), ReadHeaderTimeout: 10 * time.Second}
	mockDone, baseDone := make(chan error, 1), make(chan error, 1)
	go func() { mockDone <- hs.Serve(ml) }()
	go func() { baseDone <- baseServer.Serve(bl) }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			_ = hs.Close()
		}
		if baseServer.Shutdown(ctx) != nil {
			_ = baseServer.Close()
		}
		<-mockDone
		<-baseDone
	}
	return mockTarget, baseTarget, stop, nil
}
