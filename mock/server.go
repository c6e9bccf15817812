// Package mock is a Matrix homeserver for tests: the client-server
// authentication API (register, login, refresh, logout, devices, whoami,
// user-interactive auth), /sync and rooms, with real state and a clock the
// test controls.
//
// In a Go test, Start runs one on a loopback port, like net/http/httptest:
//
//	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(start))
//	client := mautrix.NewClient(hs.URL, "", "") // or any Matrix client
//	...
//	hs.Clock.Advance(6 * time.Minute) // the access token has now expired
//	if n := hs.Journal.Count(journal.Filter{Operation: "refresh"}); n != 1 { ... }
//
// Outside tests, New builds one and Handler, Serve or ListenAndServe run it;
// cmd/mockserver is the command-line program.
//
// A scenario file (WithScenario; format in package mock/scenario) sets a
// server up and scripts what happens to it: token expiry, soft and hard
// logouts, deleted devices, rate limits, server errors, dropped
// connections. WithOAuth adds the OAuth 2.0 API of Matrix v1.15 with the
// mock as its own authorization server. WithControl serves the same
// operations as the Go API over HTTP under /_mock/, for tests in any
// language; SaveState and WithStateFile keep the state across restarts.
//
// Every operation of mxauth's specs/client-server and specs/oauth2 is
// served through the generated strict server interfaces (gen/clientserver,
// gen/oauth2), so a change to the spec that the mock does not follow breaks
// the build.
//
// This package is the public API only: it owns the Server, its options and
// the Go and control APIs, and reaches the state only through
// mock/internal/world. The request path and the handlers are in
// mock/internal/api, the authorization server in mock/internal/oauth, the
// control page and the timeline file in mock/internal/ui (fed by ui.go,
// which also hooks the state's, the rules' and the clock's changes into the
// journal). Behaviour follows the Matrix spec and the RFCs; where the spec
// leaves a choice, Synapse's is the default and the others are options.
package mock

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/journal"
)

// Server is a mock homeserver. Create it with New or Start. Its methods are
// safe for concurrent use, also while it serves requests.
type Server struct {
	// URL is the base URL of a server run by Start, such as
	// "http://127.0.0.1:39421"; empty otherwise.
	URL string
	// Clock is the time every expiry decision reads. Move it to make tokens
	// expire: Advance and Set work on the real clock too. Do not replace
	// it: the state keeps reading the clock it was built with.
	Clock *clock.Clock
	// Journal records every answered request, bounded; see package journal.
	// Do not replace it either: the request path keeps the one New made.
	Journal *journal.Journal

	cfg     config
	world   atomic.Pointer[world.World]
	handler http.Handler

	mu     sync.Mutex
	http   *http.Server // set by Serve
	closed bool         // set by Shutdown and Close
}

// New returns a server configured by opts, with its users and devices
// created. It serves nothing until Handler, Serve or ListenAndServe is
// used. It fails on a bad scenario file or a bad WithUser.
func New(opts ...Option) (*Server, error) {
	cfg := config{world: defaultSettings()}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if cfg.clock == nil {
		cfg.clock = clock.Real()
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		Clock:   cfg.clock,
		Journal: journal.New(cfg.journalCapacity),
		cfg:     cfg,
	}
	w, changes, err := s.newWorld(cfg.world)
	if err != nil {
		return nil, err
	}
	s.world.Store(w)
	changes.start(s.Journal)
	s.Clock.OnMove(s.recordClockMove)
	// A long-poll's timeout runs on the clock: a move wakes the waiters of
	// the world then current, so that those whose time is up answer.
	cfg.clock.OnMove(func(_, _ time.Time) { s.world.Load().Rooms.ClockMoved() })
	if cfg.stateFile != "" {
		if err := s.loadStateFile(cfg.stateFile); err != nil {
			return nil, err
		}
	}
	pipeline := api.Config{World: s.world.Load, Journal: s.Journal, Logger: cfg.logger, PublicURL: cfg.publicURL}
	if cfg.controlToken != "" {
		pipeline.Control = s.controlAPI()
	}
	s.handler = api.NewHandler(pipeline)
	return s, nil
}

// Handler returns the server's HTTP handler, for use in a server of your own.
func (s *Server) Handler() http.Handler { return s.handler }

// ServerName returns the server name, the part of user IDs after the colon.
func (s *Server) ServerName() string { return s.store().ServerName() }

// Serve answers requests on l until Shutdown or Close. It returns
// http.ErrServerClosed after Shutdown or Close. A server serves once.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return http.ErrServerClosed
	case s.http != nil:
		s.mu.Unlock()
		return errors.New("mock: Serve called twice")
	}
	t := s.cfg.timeouts
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cmp.Or(t.ReadHeader, DefaultReadHeaderTimeout),
		ReadTimeout:       cmp.Or(t.Read, DefaultReadTimeout),
		IdleTimeout:       cmp.Or(t.Idle, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
	}
	srv := s.http
	s.mu.Unlock()
	return srv.Serve(l)
}

// ListenAndServe listens on addr (such as "127.0.0.1:8008") and serves as
// Serve does.
func (s *Server) ListenAndServe(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Shutdown stops a server started by Serve or ListenAndServe gracefully:
// it stops accepting and waits, until ctx ends, for requests in flight. A
// Serve that has not started yet returns http.ErrServerClosed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if srv := s.httpServer(); srv != nil {
		return srv.Shutdown(ctx)
	}
	return nil
}

// Close stops a server started by Serve or ListenAndServe at once.
func (s *Server) Close() error {
	if srv := s.httpServer(); srv != nil {
		return srv.Close()
	}
	return nil
}

// httpServer returns the server Serve runs, if any, and makes later calls
// of Serve return at once.
func (s *Server) httpServer() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.http
}
