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
//	hs.Clock().Advance(6 * time.Minute) // the access token has now expired
//	if n := hs.Journal().Count(journal.Filter{Operation: "refresh"}); n != 1 { ... }
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
// NewWorld (over HTTP, POST /_mock/worlds) adds isolated worlds to one
// server, each at a base URL of its own, for test suites that share a
// server.
//
// Every operation of mxauth's specs/client-server and specs/oauth2 is
// served through the generated strict server interfaces (gen/clientserver,
// gen/oauth2), so a change to the spec that the mock does not follow breaks
// the build.
//
// This package is the public API only: it owns the Server, its options and
// the Go API, and reaches the state only through mock/internal/world. The
// request path and the handlers are in mock/internal/api, the control
// API's HTTP layer in mock/internal/control (handed the Go API through
// controlapi.go), the authorization server in mock/internal/oauth, the
// control page and the timeline file in mock/internal/ui (fed by ui.go,
// which also hooks each world's state, rules and clock into its journal). Behaviour follows the Matrix spec and the RFCs; where the spec
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

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/journal"
)

// Server is a mock homeserver. Create it with New or Start. Its methods are
// safe for concurrent use, also while it serves requests.
//
// It embeds its default World, at the root of its URL: the Go API
// (AddUser, Login, Clock, Journal, Reset, …) acts on that world. NewWorld
// adds isolated worlds beside it, each at a base URL of its own.
type Server struct {
	// URL is the base URL of a server run by Start, such as
	// "http://127.0.0.1:39421"; empty otherwise.
	URL string
	*World

	cfg     config
	worlds  worlds
	handler http.Handler

	mu     sync.Mutex
	http   *http.Server // set by Serve
	closed bool         // set by Shutdown and Close
}

// New returns a server configured by opts, with its users and devices
// created. It serves nothing until Handler, Serve or ListenAndServe is
// used. It fails on a bad scenario file or a bad WithUser.
func New(opts ...Option) (*Server, error) {
	cfg := config{world: defaultSettings(), maxWorlds: DefaultMaxWorlds, worldIdleLifetime: DefaultWorldIdleLifetime}
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
	s := &Server{cfg: cfg}
	if err := s.worlds.init(cfg); err != nil {
		return nil, err
	}
	s.World = &World{clock: cfg.clock, journal: journal.New(cfg.journalCapacity), server: s}
	if err := s.World.start(cfg.world); err != nil {
		return nil, err
	}
	if cfg.stateFile != "" {
		if err := s.loadStateFile(cfg.stateFile); err != nil {
			return nil, err
		}
	}
	pipeline := api.Config{Route: s.route, Logger: cfg.logger, PublicURL: cfg.publicURL}
	if cfg.controlToken != "" {
		pipeline.Control = s.controlAPI()
	}
	s.handler = api.NewHandler(pipeline)
	return s, nil
}

// Handler returns the server's HTTP handler, for use in a server of your own.
func (s *Server) Handler() http.Handler { return s.handler }

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
	stop := s.startJanitor()
	defer stop()
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
