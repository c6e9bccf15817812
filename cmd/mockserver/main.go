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
//	-addr HOST:PORT                 listen here (default 127.0.0.1:8008; port 0 picks a free one)
//	-server-name NAME               the server name in user IDs (default localhost)
//	-access-token-lifetime D        lifetime of access tokens that come with a refresh token (default 5m)
//	-refresh-token-lifetime D       lifetime of refresh tokens (default 24h)
//	-user NAME:PASSWORD             create this user; repeatable (default: alice:wonderland and bob:builder)
//	-log-format text|json           request log format on standard error (default text)
//
// When it is ready it prints its base URL, alone on a line, to standard
// output. SIGINT or SIGTERM stop it gracefully. It binds to loopback by
// default and warns when told to bind elsewhere. The log never holds
// tokens, passwords or query strings.
//
// Exit codes: 0 stopped by a signal; 1 the server failed; 2 bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// defaultUsers are created when no -user is given, so that a client can log
// in straight away.
var defaultUsers = []string{"alice:wonderland", "bob:builder"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the server until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("mockserver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:8008", "listen on this `host:port` (port 0 picks a free one)")
	serverName := flags.String("server-name", "localhost", "the server `name` in user IDs")
	accessLifetime := flags.Duration("access-token-lifetime", 5*time.Minute, "lifetime of access tokens that come with a refresh token")
	refreshLifetime := flags.Duration("refresh-token-lifetime", 24*time.Hour, "lifetime of refresh tokens")
	logFormat := flags.String("log-format", "text", "request log `format` on standard error: text or json")
	var users []string
	flags.Func("user", "create the user `name:password`; repeatable (default: "+strings.Join(defaultUsers, " and ")+")", func(s string) error {
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
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, nil)
	case "json":
		handler = slog.NewJSONHandler(stderr, nil)
	default:
		fmt.Fprintf(stderr, "mockserver: -log-format %q: want text or json\n", *logFormat)
		return exitUsage
	}
	logger := slog.New(handler)
	if len(users) == 0 {
		users = defaultUsers
	}

	opts := []mock.Option{
		mock.WithServerName(*serverName),
		mock.WithAccessTokenLifetime(*accessLifetime),
		mock.WithRefreshTokenLifetime(*refreshLifetime),
		mock.WithLogger(logger),
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
	logger.Info("mock homeserver ready", "url", "http://"+l.Addr().String(), "server_name", srv.ServerName(), "users", strings.Join(srv.Users(), ","))
	fmt.Fprintln(stdout, "http://"+l.Addr().String())

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "mockserver: %v\n", err)
		return exitFailed
	case <-ctx.Done():
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
	return exitOK
}

// isLoopback reports whether a is a loopback address.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
