// Command mockserver runs mxauth's mock Matrix homeserver: the
// client-server authentication API with real token state, for testing
// clients in any language.
//
// Usage:
//
//	go run github.com/mxauth/mxauth/cmd/mockserver [flags]
//
// Flags:
//
//	-scenario FILE                  set the server up as this scenario file says (default: scenarios/default.yaml)
//	-addr HOST:PORT                 listen here (default 127.0.0.1:8008; port 0 picks a free one)
//	-server-name NAME               the server name in user IDs
//	-access-token-lifetime D        lifetime of access tokens that come with a refresh token
//	-refresh-token-lifetime D       lifetime of refresh tokens
//	-user NAME:PASSWORD             create this user too; repeatable
//	-oauth                          offer the OAuth 2.0 API (Matrix v1.15) besides the legacy one
//	-oauth-auto-approve USER        offer it and approve every authorization as USER (created if missing), without a page
//	-state FILE                     keep users, devices, tokens and OAuth clients in FILE across restarts
//	                                (checked for writing at start: a bad path stops the start with exit 2)
//	-state-interval D               also save the state this often (default 10s; 0: only at shutdown)
//	-control                        serve the control API under /_mock/ (off by default)
//	-control-token TOKEN            the control API's token (default: a random one, printed at start)
//	-server-id ID                   begin the IDs of the worlds made over the control API with ID (default: random)
//	-max-worlds N                   hold at most N worlds besides the default one (default 1000)
//	-world-idle-lifetime D          drop a world unused for D (default 30m; 0: never)
//	-log-format text|json           request log format on standard error (default text)
//	-log-level LEVEL                least level logged: debug, info, warn or error (default info); each
//	                                answered request is an info line (warn when refused), so warn keeps
//	                                a load test's log to what went wrong
//
// Flags given on the command line override what the scenario file says.
// The default scenario runs on the real clock with the users alice
// (password wonderland) and bob (password builder); see package scenarios
// for the library of scenarios.
//
// The start-up log line names the clock, real or virtual, and says whether
// OAuth 2.0 (and auto-approve) is on and whether the state was loaded; a
// virtual clock without -control, which nothing can move, gets a warning.
//
// When it is ready it prints its base URL, alone on a line, to standard
// output; with -control, a second line "control-token TOKEN" follows. SIGINT
// or SIGTERM stop it gracefully. It binds to loopback by default and warns
// when told to bind elsewhere. The log never holds tokens, passwords or
// query strings.
//
// Exit codes: 0 stopped by a signal; 1 the server failed; 2 bad flags.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/scenarios"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the server until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("mockserver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	scenarioFile := flags.String("scenario", "", "set the server up as this scenario `file` says (default: the built-in scenarios/default.yaml)")
	control := flags.Bool("control", false, "serve the control API under /_mock/")
	stateFile := flags.String("state", "", "keep users, devices, tokens and OAuth clients in this `file` across restarts")
	stateInterval := flags.Duration("state-interval", 10*time.Second, "with -state, also save this often (0: only at shutdown)")
	oauth := flags.Bool("oauth", false, "offer the OAuth 2.0 API (Matrix v1.15) besides the legacy one")
	autoApprove := flags.String("oauth-auto-approve", "", "offer the OAuth 2.0 API and approve every authorization as `user` (created if missing), without a page")
	controlToken := flags.String("control-token", "", "the control API's `token` (default: a random one, printed at start)")
	addr := flags.String("addr", "127.0.0.1:8008", "listen on this `host:port` (port 0 picks a free one)")
	// The scenario gives these three their defaults: the flag package
	// shows no default of its own for a zero value, and only flags given
	// on the command line are applied (flags.Visit below).
	serverName := flags.String("server-name", "", "the server `name` in user IDs (default: the scenario's)")
	accessLifetime := flags.Duration("access-token-lifetime", 0, "lifetime of access tokens that come with a refresh token (default: the scenario's)")
	refreshLifetime := flags.Duration("refresh-token-lifetime", 0, "lifetime of refresh tokens (default: the scenario's)")
	serverID := flags.String("server-id", "", "begin world IDs with this `id` (lowercase letters and digits; default: random)")
	maxWorlds := flags.Int("max-worlds", mock.DefaultMaxWorlds, "hold at most `n` worlds besides the default one")
	worldIdle := flags.Duration("world-idle-lifetime", mock.DefaultWorldIdleLifetime, "drop a world that has gone unused this long (0: never)")
	logFormat := flags.String("log-format", "text", "request log `format` on standard error: text or json")
	publicURL := flags.String("public-url", "", "the base `URL` the server tells clients in every URL it advertises (well_known, OAuth 2.0 metadata, iss, device verification); default: http:// and the request's Host header")
	logLevel := flags.String("log-level", "info", "least `level` logged: debug, info, warn or error (requests are info, refusals warn)")
	var users []string
	flags.Func("user", "create the user `name:password` besides the scenario's; repeatable", func(s string) error {
		if name, password, ok := strings.Cut(s, ":"); !ok || name == "" || password == "" {
			return errors.New("want name:password")
		}
		users = append(users, s)
		return nil
	})
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "mockserver: unexpected argument %q\n", flags.Arg(0))
		return exitUsage
	}
	level, ok := logLevels[*logLevel]
	if !ok {
		fmt.Fprintf(stderr, "mockserver: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	handlerOpts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, handlerOpts)
	case "json":
		handler = slog.NewJSONHandler(stderr, handlerOpts)
	default:
		fmt.Fprintf(stderr, "mockserver: -log-format %q: want text or json\n", *logFormat)
		return exitUsage
	}
	logger := slog.New(handler)
	if *controlToken != "" && !*control {
		fmt.Fprintln(stderr, "mockserver: -control-token needs -control")
		return exitUsage
	}
	if *control && *controlToken == "" {
		*controlToken = randomToken()
	}
	if *publicURL != "" {
		u, err := url.Parse(*publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			fmt.Fprintf(stderr, "mockserver: -public-url %q: want an http or https URL without userinfo, query or fragment, such as https://matrix.example.org\n", *publicURL)
			return exitUsage
		}
		*publicURL = strings.TrimSuffix(*publicURL, "/")
	}

	// The scenario first, then the flags given on the command line.
	opts := []mock.Option{mock.WithScenarioData("scenarios/default.yaml", scenarios.Default)}
	if *scenarioFile != "" {
		opts[0] = mock.WithScenario(*scenarioFile)
	}
	flags.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "server-name":
			opts = append(opts, mock.WithServerName(*serverName))
		case "access-token-lifetime":
			opts = append(opts, mock.WithAccessTokenLifetime(*accessLifetime))
		case "refresh-token-lifetime":
			opts = append(opts, mock.WithRefreshTokenLifetime(*refreshLifetime))
		case "oauth":
			if *oauth {
				opts = append(opts, mock.WithOAuth())
			}
		case "oauth-auto-approve":
			opts = append(opts, mock.WithOAuthAutoApprove(*autoApprove))
		case "public-url":
			opts = append(opts, mock.WithPublicURL(*publicURL))
		}
	})
	opts = append(opts, mock.WithLogger(logger), mock.WithControl(*controlToken),
		mock.WithServerID(*serverID), mock.WithMaxWorlds(*maxWorlds), mock.WithWorldIdleLifetime(*worldIdle))
	stateLoaded := false
	if *stateFile != "" {
		// Found now rather than at shutdown, when the state would be lost.
		if err := checkWritable(*stateFile); err != nil {
			fmt.Fprintf(stderr, "mockserver: -state %s: the state could not be saved there: %v\n", *stateFile, err)
			return exitUsage
		}
		_, err := os.Stat(*stateFile)
		stateLoaded = err == nil
		opts = append(opts, mock.WithStateFile(*stateFile))
	}
	for _, u := range users {
		name, password, _ := strings.Cut(u, ":")
		opts = append(opts, mock.WithUser(name, password))
	}
	srv, err := mock.New(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "mockserver: %v\n", err)
		return exitUsage
	}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "mockserver: %v\n", err)
		return exitFailed
	}
	if !isLoopback(l.Addr()) {
		logger.Warn("listening beyond loopback: anyone who can reach this address can use the mock's accounts", "addr", l.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	logReady(logger, srv, readiness{
		url: "http://" + l.Addr().String(), scenario: cmp.Or(*scenarioFile, "default"),
		control: *control, stateFile: *stateFile, stateLoaded: stateLoaded,
	})
	fmt.Fprintln(stdout, "http://"+l.Addr().String())
	if *control {
		fmt.Fprintln(stdout, "control-token", *controlToken)
		logger.Info("control page", "url", "http://"+l.Addr().String()+"/_mock/ui")
	}

	var tick <-chan time.Time
	if *stateFile != "" && *stateInterval > 0 {
		ticker := time.NewTicker(*stateInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
wait:
	for {
		select {
		case err := <-served:
			fmt.Fprintf(stderr, "mockserver: %v\n", err)
			return exitFailed
		case <-tick:
			if err := srv.SaveState(*stateFile); err != nil {
				logger.Error("the state could not be saved", "file", *stateFile, "err", err)
			}
		case <-ctx.Done():
			break wait
		}
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "mockserver: shutdown: %v\n", err)
		return exitFailed
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "mockserver: %v\n", err)
		return exitFailed
	}
	if *stateFile != "" {
		// Every request answered is in: Shutdown waited for them.
		if err := srv.SaveState(*stateFile); err != nil {
			fmt.Fprintf(stderr, "mockserver: -state %s: %v\n", *stateFile, err)
			return exitFailed
		}
		logger.Info("state saved", "file", *stateFile)
	}
	return exitOK
}

// readiness is what the start-up line tells beyond the server itself.
type readiness struct {
	url, scenario string
	control       bool   // the control API is on
	stateFile     string // -state, "" without
	stateLoaded   bool   // the state file existed and was loaded
}

// logReady logs the start-up line: where the server listens, what it is
// (users, clock, OAuth, state), and a warning when its virtual clock
// cannot move.
func logReady(logger *slog.Logger, srv *mock.Server, r readiness) {
	clockMode := "real"
	if srv.Clock().IsVirtual() {
		clockMode = "virtual at " + srv.Clock().Now().UTC().Format(time.RFC3339)
	}
	attrs := []any{"url", r.url, "server_name", srv.ServerName(), "users", strings.Join(srv.Users(), ","),
		"scenario", r.scenario, "clock", clockMode, "server_id", srv.ServerID()}
	switch oauth, approveAs := srv.OAuth(); {
	case approveAs != "":
		attrs = append(attrs, "oauth", "on, every authorization approved as "+approveAs)
	case oauth:
		attrs = append(attrs, "oauth", "on")
	}
	switch {
	case r.stateLoaded:
		attrs = append(attrs, "state", "loaded from "+r.stateFile)
	case r.stateFile != "":
		attrs = append(attrs, "state", "new, saved to "+r.stateFile)
	}
	logger.Info("mock homeserver ready", attrs...)
	if srv.Clock().IsVirtual() && !r.control {
		logger.Warn("the clock is virtual and nothing can move it: tokens will not expire and time rules will not fire; " +
			"for the real clock give the scenario clock: {mode: real}, or run with -control and move the clock with POST /_mock/clock/advance")
	}
}

// checkWritable reports whether a state file can be written at path as
// SaveState writes it: a new file in the same folder, renamed over it.
func checkWritable(path string) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return errors.New("it is a folder")
	}
	probe, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".check-*")
	if err != nil {
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// logLevels are the values -log-level takes.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// randomToken returns 256 random bits in base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// isLoopback reports whether a is a loopback address.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
