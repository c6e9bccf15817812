package mock

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/control"
	"github.com/mxauth/mxauth/mock/journal"
)

// Worlds: a server holds its default world at its root and up to
// WithMaxWorlds others. A world's ID is the server's ID, a dash and ten
// random characters ("east-k2j4h6m8q0"), and its base URL the server's
// followed by /_worlds/SERVER/LOCAL ("/_worlds/east/k2j4h6m8q0"): servers
// never hand out the same ID, and a load balancer routes each server's
// worlds by one path prefix, /_worlds/SERVER, which its clients and its
// control URL share. A world
// other than the default is dropped when it has not been used (a request,
// a control request, a Go API call) for WithWorldIdleLifetime of real
// time, whatever its own clock says.

// WorldsPrefix, "/_worlds/", is the path under which a server's worlds
// other than the default one sit: the world "SERVER-LOCAL" at
// WorldsPrefix + "SERVER/LOCAL".
const WorldsPrefix = api.WorldsPrefix

// Defaults of the world limits.
const (
	// DefaultMaxWorlds is how many worlds a server holds besides its
	// default one unless WithMaxWorlds says otherwise.
	DefaultMaxWorlds = 1000
	// DefaultWorldIdleLifetime is how long a world may go unused before it
	// is dropped unless WithWorldIdleLifetime says otherwise.
	DefaultWorldIdleLifetime = 30 * time.Minute
)

// Errors of the worlds' Go API, for errors.Is.
var (
	// ErrTooManyWorlds: the server holds WithMaxWorlds worlds already.
	ErrTooManyWorlds = control.ErrTooManyWorlds
	// ErrNoSuchWorld: no world has that ID: it was dropped, expired when
	// idle, or never existed. The default world cannot be dropped either.
	ErrNoSuchWorld = errors.New("mock: no such world")
)

// serverIDPattern is what a server ID may be: short, lowercase, safe in a
// path and in a load balancer's prefix rule.
var serverIDPattern = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// idAlphabet is what the random part of IDs is made of.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomFrom draws n characters of idAlphabet from crypto/rand, without
// bias (rand.Read never fails).
func randomFrom(n int) string {
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		_, _ = rand.Read(b[:])
		if int(b[0]) < 256/len(idAlphabet)*len(idAlphabet) {
			out = append(out, idAlphabet[int(b[0])%len(idAlphabet)])
		}
	}
	return string(out)
}

// worlds are a server's worlds besides the default one.
type worlds struct {
	serverID string
	max      int
	idle     time.Duration // <= 0: never dropped when idle

	mu   sync.Mutex
	byID map[string]*World
}

// init sets the limits and the server ID from cfg.
func (ws *worlds) init(cfg config) error {
	ws.serverID = cmp.Or(cfg.serverID, randomFrom(6))
	if !serverIDPattern.MatchString(ws.serverID) {
		return fmt.Errorf("mock: server ID %q: use 1 to 32 lowercase letters and digits", ws.serverID)
	}
	ws.max, ws.idle = cfg.maxWorlds, cfg.worldIdleLifetime
	ws.byID = map[string]*World{}
	return nil
}

// ServerID returns the server's ID, with which every world ID it hands out
// begins.
func (s *Server) ServerID() string { return s.worlds.serverID }

// NewWorld adds a world to the server, isolated from the others, set up by
// opts as New would set up a server: WithScenario or WithScenarioData,
// WithUser, WithOAuth, WithVirtualClock, WithDeterministic, and the other
// options about the homeserver. Without any, it is set up as the server
// was by the options given to New. Options about the server as a whole
// (WithControl, WithLogger, WithPublicURL, WithJournalCapacity,
// WithStateFile, the world limits) have no effect here; WithClock gives
// the world that clock, which must not be another world's.
//
// The world lives until Drop, or until it has gone unused for the idle
// lifetime (WithWorldIdleLifetime). Errors: a bad scenario or user, and
// ErrTooManyWorlds.
func (s *Server) NewWorld(opts ...Option) (*World, error) {
	return s.newWorldNamed("", opts...)
}

// newWorldNamed is NewWorld with a label.
func (s *Server) newWorldNamed(name string, opts ...Option) (*World, error) {
	cfg := config{world: s.cfg.world}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	clk := cmp.Or(cfg.clock, clock.Real())
	w := &World{Name: name, clock: clk, journal: journal.New(s.cfg.journalCapacity), server: s}
	s.worlds.sweep()
	s.worlds.mu.Lock()
	defer s.worlds.mu.Unlock()
	if len(s.worlds.byID) >= s.worlds.max {
		return nil, fmt.Errorf("%w: %d; drop one or wait for idle ones to expire (after %v unused)", ErrTooManyWorlds, s.worlds.max, s.worlds.idle)
	}
	for w.ID == "" || s.worlds.byID[w.ID] != nil {
		w.ID = s.worlds.serverID + "-" + randomFrom(10)
	}
	w.prefix = api.WorldPath(w.ID)
	if s.URL != "" {
		w.URL = api.WorldURL(s.URL, w.prefix)
	}
	if err := w.start(cfg.world); err != nil {
		return nil, err
	}
	w.touch(time.Now())
	s.worlds.byID[w.ID] = w
	return w, nil
}

// Drop removes the world from its server: its URL answers 404 M_NOT_FOUND
// from then on, and requests in flight finish on the state they started
// with. ErrNoSuchWorld when it is gone already, or for the default world.
func (w *World) Drop() error {
	ws := &w.server.worlds
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w.prefix == "" || ws.byID[w.ID] != w {
		return ErrNoSuchWorld
	}
	delete(ws.byID, w.ID)
	return nil
}

// WorldByID returns the world with the given ID, or ErrNoSuchWorld. Finding it
// counts as using it.
func (s *Server) WorldByID(id string) (*World, error) {
	if w := s.worlds.lookup(id); w != nil {
		return w, nil
	}
	return nil, ErrNoSuchWorld
}

// Worlds returns the server's worlds besides the default one, by ID.
func (s *Server) Worlds() []*World {
	s.worlds.sweep()
	s.worlds.mu.Lock()
	defer s.worlds.mu.Unlock()
	out := make([]*World, 0, len(s.worlds.byID))
	for _, w := range s.worlds.byID {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *World) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// lookup returns the world with the given ID and marks it used; nil when
// there is none or it has expired (then it is dropped).
func (ws *worlds) lookup(id string) *World {
	now := time.Now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.byID[id]
	if w == nil {
		return nil
	}
	if ws.expired(w, now) {
		delete(ws.byID, id)
		return nil
	}
	w.touch(now)
	return w
}

// expired reports whether w has gone unused for the idle lifetime.
func (ws *worlds) expired(w *World, now time.Time) bool {
	return ws.idle > 0 && now.UnixNano()-w.lastUsed.Load() >= int64(ws.idle)
}

// sweep drops the worlds that have expired.
func (ws *worlds) sweep() {
	now := time.Now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for id, w := range ws.byID {
		if ws.expired(w, now) {
			delete(ws.byID, id)
		}
	}
}

// startJanitor sweeps the expired worlds away now and then while the
// server serves, so that their memory goes even when nobody asks; the
// lookups drop an expired world at once anyway. It returns the function
// that stops it.
func (s *Server) startJanitor() (stop func()) {
	if s.worlds.idle <= 0 {
		return func() {}
	}
	every := min(max(s.worlds.idle/4, 10*time.Millisecond), time.Minute)
	ticker := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ticker.C:
				s.worlds.sweep()
			case <-done:
				return
			}
		}
	}()
	return func() { ticker.Stop(); close(done) }
}

// route finds the world a request path is for: the default world, or the
// one whose path follows WorldsPrefix.
func (s *Server) route(path string) (api.Target, bool) {
	id, _, ok := api.SplitWorldPath(path)
	if !ok {
		return s.target(), true
	}
	w := s.worlds.lookup(id)
	if w == nil {
		return api.Target{}, false
	}
	return w.target(), true
}
