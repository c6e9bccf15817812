package mock

import (
	"maps"
	"net/http"
	"slices"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/control"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// The control API's HTTP layer is package mock/internal/control; this
// file hands it the server and its worlds.

// ControlPrefix, "/_mock/", is where the control API lives when WithControl
// turns it on.
const ControlPrefix = api.ControlPrefix

// controlAPI returns the handler of the control API (WithControl).
func (s *Server) controlAPI() http.Handler {
	return control.New(control.Config{
		Server: controlServer{s}, ServerID: s.ServerID(), Token: s.cfg.controlToken, PublicURL: s.cfg.publicURL,
		MaxWorlds: s.worlds.max, IdleLifetime: s.worlds.idle,
		DeviceActions: slices.Sorted(maps.Keys(deviceActions)), Page: s.newControlPage(),
	})
}

// deviceActions are the control API's actions on a world's device, by
// name (the control page's buttons too).
var deviceActions = map[string]func(w *World, user, device string) error{
	"expire":               (*World).ExpireAccessToken,
	"soft_logout":          (*World).SoftLogout,
	"hard_logout":          (*World).HardLogout,
	"revoke_refresh_token": (*World).RevokeRefreshToken,
}

// scenarioState describes the world's scenario and how often each rule
// fired.
func (w *World) scenarioState() control.Scenario {
	cur := w.current.Load()
	out := control.Scenario{Description: cur.Description, Source: cur.Source, Rules: []control.Rule{}}
	if cur.Engine != nil {
		for i, n := range cur.Engine.Fired() {
			rule := &cur.Rules[i]
			out.Rules = append(out.Rules, control.Rule{Index: i, Name: rule.Name, Line: rule.Line, Summary: rule.Summary(), Fired: n})
		}
	}
	return out
}

// worldBackend is a world as the control API and the control page see
// it: its Go API, with the state's own types.
type worldBackend struct{ *World }

func (b worldBackend) Info() control.Info {
	return control.Info{ID: b.ID, Name: b.Name, Prefix: b.prefix}
}

func (b worldBackend) Scenario() control.Scenario         { return b.scenarioState() }
func (b worldBackend) Devices(user string) []state.Device { return b.store().Devices(user) }
func (b worldBackend) Sessions(user string) []state.SessionInfo {
	return b.store().Sessions(user)
}

// controlServer is a server as the control API sees it.
type controlServer struct{ s *Server }

func (c controlServer) Default() control.World { return worldBackend{c.s.World} }

func (c controlServer) World(id string) (control.World, error) {
	w, err := c.s.WorldByID(id)
	if err != nil {
		return nil, err
	}
	return worldBackend{w}, nil
}

func (c controlServer) Worlds() []control.World {
	var out []control.World
	for _, w := range c.s.Worlds() {
		out = append(out, worldBackend{w})
	}
	return out
}

func (c controlServer) NewWorld(name, scenarioName string, scenario []byte) (control.World, error) {
	var opts []Option
	if scenario != nil {
		opts = append(opts, WithScenarioData(scenarioName, scenario))
	}
	w, err := c.s.newWorldNamed(name, opts...)
	if err != nil {
		return nil, err
	}
	return worldBackend{w}, nil
}
