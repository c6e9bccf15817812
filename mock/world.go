package mock

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/mock/scenario"
)

// World is one homeserver inside a Server, isolated from the others: its
// own users, devices, tokens, OAuth clients, rooms, clock, scenario and
// journal. A Server's default world is at its root and is the Server's
// embedded World; NewWorld and POST /_mock/worlds make others, each at a
// base URL of its own (the server's followed by /_worlds/SERVER/LOCAL for
// the world "SERVER-LOCAL"). Its methods
// are the Go API and are safe for concurrent use.
type World struct {
	// ID names the world in the control API and in its base URL; "" for
	// a server's default world. It starts with the ID of the server that
	// holds it (see WithServerID).
	ID string
	// Name is the label the world was created with; may be "".
	Name string
	// URL is the world's base URL, the homeserver URL its clients use,
	// such as "http://127.0.0.1:39421/_worlds/s1/k2j4h6m8q0"; set for the
	// worlds of a server run by Start (the default world's is the server's
	// URL).
	URL      string
	clock    *clock.Clock
	journal  *journal.Journal
	server   *Server
	prefix   string // the path its URLs sit under; "" at the root
	current  atomic.Pointer[world.World]
	lastUsed atomic.Int64 // Unix nanoseconds of the last use, on the real clock
}

// newWorld builds the world that set describes on the world's clock, which
// it resets to the start that set asks for. Its token changes and rule
// firings go to the world's journal: the changes made while building (the
// scenario's devices) once the caller starts the recorder it returns,
// after emptying the journal if it does.
func (w *World) newWorld(set world.Settings) (*world.World, *changeRecorder, error) {
	set.OAuthSettings.PathPrefix = w.prefix
	changes := &changeRecorder{}
	set.Store.OnChange = changes.record
	cur, err := world.New(set, w.clock, w.server.cfg.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("mock: %w", err)
	}
	if cur.Engine != nil {
		cur.Engine.OnFire(w.recordFired)
	}
	return cur, changes, nil
}

// start sets a new World up as set describes, with its clock's moves
// recorded in its journal and waking its long-polls.
func (w *World) start(set world.Settings) error {
	cur, changes, err := w.newWorld(set)
	if err != nil {
		return err
	}
	w.current.Store(cur)
	changes.start(w.journal)
	w.clock.OnMove(w.recordClockMove)
	// A long-poll's timeout runs on the clock: a move wakes the waiters of
	// the world's state then current, so that those whose time is up answer.
	w.clock.OnMove(func(_, _ time.Time) { w.current.Load().Rooms.ClockMoved() })
	return nil
}

// Clock returns the clock every expiry decision in the world reads, the
// one it was built with. Move it to make tokens expire: Advance and Set
// work on the real clock too.
func (w *World) Clock() *clock.Clock { return w.clock }

// Journal returns the world's journal: every request the world answered,
// bounded, and its state events; see package journal.
func (w *World) Journal() *journal.Journal { return w.journal }

// target is what the request pipeline needs of the world.
func (w *World) target() api.Target {
	return api.Target{World: w.current.Load(), Journal: w.journal, Prefix: w.prefix}
}

// touch records that the world is in use now, which keeps it from being
// dropped as idle.
func (w *World) touch(now time.Time) { w.lastUsed.Store(now.UnixNano()) }

// state returns the world's state with the time rules due at the clock's
// reading applied: what every read or write of the Go and control APIs
// works on.
func (w *World) state() *world.World {
	if w.prefix != "" {
		w.touch(time.Now())
	}
	cur := w.current.Load()
	cur.ApplyDue()
	return cur
}

// store returns the world's auth state, time rules applied.
func (w *World) store() *state.Store { return w.state().Store }

// ServerName returns the server name, the part of user IDs after the colon.
func (w *World) ServerName() string { return w.store().ServerName() }

// Reset puts the world back as it started, or as the scenario loaded last
// set it up: users, devices and tokens as the scenario lists them, the
// clock at its start, rule counts and the journal empty.
func (w *World) Reset() error {
	cur, changes, err := w.newWorld(w.current.Load().Settings)
	if err != nil {
		return err
	}
	w.current.Store(cur)
	w.journal.Reset()
	changes.start(w.journal)
	return nil
}

// LoadScenario parses a scenario (name is used in error messages) and
// resets the world to it, as Reset does. On an error, which names the
// line and column of every problem, the world is left as it was.
func (w *World) LoadScenario(name string, data []byte) error {
	sc, err := scenario.Parse(name, data, api.Operations())
	if err != nil {
		return err
	}
	cur, changes, err := w.newWorld(fromScenario(sc, name))
	if err != nil {
		return err
	}
	w.current.Store(cur)
	w.journal.Reset()
	changes.start(w.journal)
	return nil
}
