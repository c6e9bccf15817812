package mock

import (
	"fmt"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/scenario"
)

// newWorld builds the world that set describes on the server's clock, which
// it resets to the start that set asks for. Its token changes and rule
// firings go to the journal: the changes made while building (the
// scenario's devices) once the caller starts the recorder it returns,
// after emptying the journal if it does.
func (s *Server) newWorld(set world.Settings) (*world.World, *changeRecorder, error) {
	changes := &changeRecorder{}
	set.Store.OnChange = changes.record
	w, err := world.New(set, s.Clock, s.cfg.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("mock: %w", err)
	}
	if w.Engine != nil {
		w.Engine.OnFire(s.recordFired)
	}
	return w, changes, nil
}

// current returns the current world with the time rules due at the clock's
// reading applied: what every read or write of the Go and control APIs
// works on.
func (s *Server) current() *world.World {
	w := s.world.Load()
	w.ApplyDue()
	return w
}

// store returns the current state, time rules applied.
func (s *Server) store() *state.Store { return s.current().Store }

// Reset puts the server back as it started, or as the scenario loaded last
// set it up: users, devices and tokens as the scenario lists them, the
// clock at its start, rule counts and the journal empty.
func (s *Server) Reset() error {
	w, changes, err := s.newWorld(s.world.Load().Settings)
	if err != nil {
		return err
	}
	s.world.Store(w)
	s.Journal.Reset()
	changes.start(s.Journal)
	return nil
}

// LoadScenario parses a scenario (name is used in error messages) and
// resets the server to it, as Reset does. On an error, which names the
// line and column of every problem, the server is left as it was.
func (s *Server) LoadScenario(name string, data []byte) error {
	sc, err := scenario.Parse(name, data, api.Operations())
	if err != nil {
		return err
	}
	w, changes, err := s.newWorld(fromScenario(sc, name))
	if err != nil {
		return err
	}
	s.world.Store(w)
	s.Journal.Reset()
	changes.start(s.Journal)
	return nil
}
