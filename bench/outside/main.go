// Command outside measures the mock homeserver as a user would: the
// mockserver binary in a process of its own, the load from another
// process (wrk), on loopback, and two yardsticks measured in the same run,
// each in a process of its own too:
//
//   - ceiling: fixed answers of the right shape after the least look at the
//     request (internal/baseline.Ceiling), the limit of net/http and the
//     loopback on this machine, which no server can beat;
//   - baseline: the least-work server with real token state
//     (internal/baseline.Server), the same yardstick as cmd/loadtest's and
//     the in-process benchmarks'.
//
// bench/outside.sh installs wrk when it is missing, builds this command
// and cmd/mockserver, and runs it; run it that way.
//
// Usage:
//
//	outside -mockserver BIN [flags]     measure, print a Markdown report
//	outside -serve ceiling|baseline      serve a yardstick (it runs itself so)
//
// Flags:
//
//	-mockserver BIN   the mockserver binary to measure (required)
//	-wrk BIN          the wrk binary (default: wrk on $PATH)
//	-duration D       how long one wrk run lasts (default 2s; whole seconds, as wrk takes them)
//	-warmup D         an unmeasured run of each server before each cell (default 1s; 0: none)
//	-rounds N         measured runs of each server in each cell (default 3)
//	-conns LIST       connection counts (default 1,2,16,64)
//	-endpoints LIST   from versions, whoami, login, refresh, oauth-refresh, sync,
//	                  send (default all)
//	-log-cost LIST    endpoints whose cost of the request log is measured too: the
//	                  mock with -log-level info (to a file) against -log-level warn,
//	                  at 2 and 16 connections (default whoami,login; "none": skip)
//	-compare BIN      another mockserver binary (another commit's build, say),
//	                  run as the mock is and measured in turns with it at 2 and
//	                  16 connections on -compare-endpoints
//	-compare-endpoints LIST  the endpoints of that comparison (default whoami)
//	-o FILE           write the report here too (default: standard output only)
//
// -endpoints none skips the table against the yardsticks, to run only the
// side tables (the log's cost, the comparison).
//
// In each cell (an endpoint at a connection count), each server first gets
// a warm-up run; then the servers take turns, run by run, for -rounds
// rounds, in an order that reverses every round (ceiling, baseline, mock,
// then mock, baseline, ceiling, ...), so that a burst of noise on a shared
// machine falls on all of them. Each ratio is taken within a round and the
// report gives the median of the rounds with their range: the range is the
// noise. Every run uses wrk with one thread (-t1), so the load generator
// takes the same share of the CPU whatever the server.
//
// The mock runs as `mockserver -addr 127.0.0.1:0 -oauth-auto-approve alice
// -log-level warn` (the default scenario: users alice and bob), with its
// standard error kept in a file. Sessions for whoami, refresh and the OAuth
// refresh grant are made before each run over HTTP, as a client would: a
// password login (package session) on every server; for OAuth, on the mock,
// a client registration and an authorization with PKCE, approved at once,
// and the code exchange; the yardsticks, which have no such endpoints,
// give OAuth sessions at /_yardstick/oauth-session. How the rotating
// refresh tokens are followed is described in lua/requests.lua.
//
// sync is GET /_matrix/client/v3/sync?since=TOKEN&timeout=0, TOKEN the
// next_batch of a sync sent just before the run: an empty answer at once.
// send is PUT /_matrix/client/v3/rooms/ROOM/send/m.room.message/TXN with
// a fresh transaction ID a request (lua/requests.lua); on the mock ROOM is
// a room the bench user creates over HTTP when the mock starts, and every
// message sent stays in it for the rest of the measurement; the
// yardsticks keep no rooms and take any room ID.
//
// Exit codes: 0 every run answered as expected; 1 some run had errors (the
// report is still written) or a server failed; 2 bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/internal/baseline"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// The user every server knows: the mock's default scenario's.
const (
	benchUser     = "alice"
	benchPassword = "wonderland"
	serverName    = "localhost"
)

// The servers, by name.
const (
	ceiling = "ceiling"
	base    = "baseline"
	mockSrv = "mock"
	mockLog = "mock+log" // the mock with its request log on
	mockCmp = "compared" // the -compare binary
)

// allEndpoints are the endpoints measured: the sign-in ones, then those
// of a signed-in client.
var allEndpoints = slices.Concat(baseline.Endpoints, baseline.RoomEndpoints)

// sideConns are the connection counts of the side tables' cells: the
// log's cost and the comparison with another binary.
var sideConns = []int{2, 16}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags of a measurement.
type options struct {
	mockserver, wrk  string // binaries
	duration, warmup time.Duration
	rounds           int
	conns            []int
	endpoints        []string
	logCost          []string
	compare          string   // another mockserver binary; "" for none
	compareEndpoints []string // its endpoints
	out              string
	args             []string // the measurement's flags as given, for the report
}

// parseFlags reads the flags; serveKind is set when the command is to
// serve a yardstick instead.
func parseFlags(args []string, stderr io.Writer) (o options, serveKind string, err error) {
	flags := flag.NewFlagSet("outside", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&serveKind, "serve", "", "serve this yardstick (ceiling or baseline) instead of measuring")
	flags.StringVar(&o.mockserver, "mockserver", "", "the mockserver `binary` to measure")
	flags.StringVar(&o.wrk, "wrk", "wrk", "the wrk `binary`")
	flags.DurationVar(&o.duration, "duration", 2*time.Second, "how long one wrk run lasts")
	flags.DurationVar(&o.warmup, "warmup", time.Second, "an unmeasured run of each server before each cell (0: none)")
	flags.IntVar(&o.rounds, "rounds", 3, "measured runs of each server in each cell")
	conns := flags.String("conns", "1,2,16,64", "connection counts, comma-separated")
	eps := flags.String("endpoints", strings.Join(allEndpoints, ","), "endpoints, comma-separated")
	logCost := flags.String("log-cost", "whoami,login", `endpoints whose request log cost is measured, comma-separated ("none": skip)`)
	flags.StringVar(&o.compare, "compare", "", "measure this other mockserver `binary` in turns with the mock")
	compareEps := flags.String("compare-endpoints", "whoami", "endpoints of the -compare cells, comma-separated")
	flags.StringVar(&o.out, "o", "", "also write the report to this `file`")
	if err := flags.Parse(args); err != nil {
		return o, "", err
	}
	flags.Visit(func(f *flag.Flag) {
		if f.Name != "mockserver" && f.Name != "o" && f.Name != "compare" {
			o.args = append(o.args, "-"+f.Name+"="+f.Value.String())
		}
	})
	switch {
	case flags.NArg() > 0:
		return o, "", fmt.Errorf("unexpected argument %q", flags.Arg(0))
	case serveKind != "":
		return o, serveKind, nil
	case o.mockserver == "":
		return o, "", errors.New("-mockserver is required (bench/outside.sh builds it)")
	case o.duration < time.Second || o.warmup < 0 || o.duration%time.Second != 0 || o.warmup%time.Second != 0:
		return o, "", errors.New("-duration must be at least 1s, and -warmup not negative, both in whole seconds (as wrk takes them)")
	case o.rounds < 1 || o.rounds > 20:
		return o, "", errors.New("-rounds must be from 1 to 20")
	}
	// wrk opens the connections at once: a bound keeps a typo from
	// opening thousands of sockets.
	const maxConns = 256
	for _, f := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxConns {
			return o, "", fmt.Errorf("-conns: %q is not a number from 1 to %d", f, maxConns)
		}
		o.conns = append(o.conns, n)
	}
	for _, list := range []struct {
		flag, value string
		into        *[]string
	}{{"endpoints", *eps, &o.endpoints}, {"log-cost", *logCost, &o.logCost}, {"compare-endpoints", *compareEps, &o.compareEndpoints}} {
		if list.value == "none" {
			continue
		}
		if *list.into, err = baseline.ParseEndpoints(list.value, allEndpoints); err != nil {
			return o, "", fmt.Errorf("-%s: %w", list.flag, err)
		}
	}
	if o.compare == "" {
		o.compareEndpoints = nil
	}
	return o, "", nil
}

// run measures what args ask for, or serves a yardstick, and returns the
// exit code. Progress goes to stderr, the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, serveKind, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "outside:", err)
		}
		return exitUsage
	}
	if serveKind != "" {
		return serve(ctx, serveKind, stdout, stderr)
	}
	rep, err := measure(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "outside:", err)
		return exitFailed
	}
	var text strings.Builder
	rep.writeMarkdown(&text)
	fmt.Fprint(stdout, text.String())
	if opts.out != "" {
		err = os.WriteFile(opts.out, []byte(text.String()), 0o644)
	}
	switch failed := rep.failedCells(); {
	case err != nil:
		fmt.Fprintln(stderr, "outside:", err)
		return exitFailed
	case failed > 0:
		fmt.Fprintf(stderr, "outside: errors in %d cells (marked in the report)\n", failed)
		return exitFailed
	}
	return exitOK
}
