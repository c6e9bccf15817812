// Package control is the mock's control API over HTTP: the routes under
// /_mock/ (and under each world's control URL), the decoding of their
// query strings and bodies, their JSON answers and errors, and the check
// of the control token. It owns no state: it acts on the mock's worlds
// only through World and Server, the Go API that package mock passes in,
// and it may touch package api's answers and errors, package ui's control
// page (which it routes to), the clock and the journal a World hands it.
package control

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/rooms"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/ui"
	"github.com/mxauth/mxauth/mock/journal"
)

// World is what the control API needs of one world: its Go API. Each
// call applies the time rules due at the clock's reading first.
type World interface {
	// ui.Backend: the control page's view of the world, whose Act does
	// the device actions and whose AdvanceClock and SetClock move the
	// clock and apply the rules due then.
	ui.Backend
	// Info names the world.
	Info() Info
	// Scenario describes the world's scenario and its rules' firings.
	Scenario() Scenario
	Reset() error
	LoadScenario(name string, data []byte) error
	Drop() error
	Clock() *clock.Clock
	Journal() *journal.Journal

	// The users, devices and rooms methods are mock.World's, as its
	// documentation describes them (Devices and Sessions with the state's
	// own types).
	Users() []string
	UserID(localpartOrID string) string
	Devices(user string) []state.Device
	Sessions(user string) []state.SessionInfo
	ChangePassword(user, password, onDevice string, logoutDevices bool) error
	Deactivate(user string) error
	ResetCrossSigning(user string) error

	CreateRoom(user string, req rooms.CreateRoomRequest) (string, error)
	JoinRoom(user, roomIDOrAlias string) (string, error)
	Invite(inviter, roomID, user string) error
	Kick(kicker, roomID, user, reason string) error
	Ban(banner, roomID, user, reason string) error
	Leave(user, roomID string) error
	SendMessage(user, roomID, body string) (string, error)
	SendEvent(user, roomID, eventType string, content any) (string, error)
	SendStateEvent(user, roomID, eventType, stateKey string, content any) (string, error)
}

// Info names a world: its ID and label ("" for a server's default world)
// and the path its URLs sit under ("" at the root).
type Info struct {
	ID, Name, Prefix string
}

// Server is what the control API needs of the server holding the worlds.
type Server interface {
	// Default returns the world at the server's root.
	Default() World
	// World returns the world with that ID (finding it counts as using
	// it), or an error when there is none.
	World(id string) (World, error)
	// Worlds returns the worlds besides the default one, by ID.
	Worlds() []World
	// NewWorld makes a world labelled name, set up by the scenario (YAML,
	// named scenarioName in errors), or as the server was started when
	// scenario is nil. ErrTooManyWorlds at the limit.
	NewWorld(name, scenarioName string, scenario []byte) (World, error)
}

// ErrTooManyWorlds is Server.NewWorld's error when the server holds as
// many worlds as it may.
var ErrTooManyWorlds = errors.New("mock: the server holds as many worlds as it may (WithMaxWorlds)")

// Config is what New serves.
type Config struct {
	Server   Server
	ServerID string
	// Token is the control token every request must carry (but the
	// control page's, which asks for it itself).
	Token     string
	PublicURL string // the base URL to announce; from the request when ""
	// MaxWorlds and IdleLifetime are the server's world limits, as
	// GET /_mock/worlds reports them.
	MaxWorlds    int
	IdleLifetime time.Duration
	// DeviceActions names the actions World.Act does, each served at
	// users/{user}/devices/{device}/ACTION.
	DeviceActions []string
	// Page is the control page, served at /_mock/ui and {control_url}/ui.
	Page *ui.Handler
}

// maxWait bounds the timeout of GET /_mock/journal/wait.
const maxWait = 5 * time.Minute

// op is one operation on a world: its answer, or an error.
type op func(w World, r *http.Request) (any, *api.Error)

// controlAPI serves the control API.
type controlAPI struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the handler of the control API: the Go API's operations
// over HTTP, for tests written in any language. Requests must carry the
// control token; they are not journaled and no rule sees them. Each
// operation on a world is served by the same code for the default world
// under /_mock/, and for the world with ID under /_mock/worlds/ID/ and
// under its own base URL, /_worlds/SERVER/LOCAL/_mock/ (its control_url),
// so that a load balancer routing /_worlds/SERVER by prefix routes it too.
func New(cfg Config) http.Handler {
	c := &controlAPI{cfg: cfg, mux: http.NewServeMux()}
	c.worldOps()
	c.roomOps()
	c.worldsOps()
	return c
}

// reply writes out with status, or e.
func reply(w http.ResponseWriter, status int, out any, e *api.Error) {
	if e != nil {
		api.WriteJSON(w, e.Status, e)
		return
	}
	api.WriteJSON(w, status, out)
}

// inWorld serves h on the world the request names (worldID).
func (c *controlAPI) inWorld(h op) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		w, err := c.cfg.Server.World(worldID(r))
		if err != nil {
			reply(rw, 0, nil, errNoSuchWorld)
			return
		}
		out, e := h(w, r)
		reply(rw, http.StatusOK, out, e)
	}
}

// handle serves h at path for every world: the default one under
// /_mock/, the others under /_mock/worlds/ID/ and their control URL.
func (c *controlAPI) handle(method, path string, h op) {
	c.mux.HandleFunc(method+" "+api.ControlPrefix+path, func(rw http.ResponseWriter, r *http.Request) {
		out, e := h(c.cfg.Server.Default(), r)
		reply(rw, http.StatusOK, out, e)
	})
	c.mux.HandleFunc(method+" "+api.ControlPrefix+"worlds/{world}/"+path, c.inWorld(h))
	c.mux.HandleFunc(method+" "+api.WorldsPrefix+"{server}/{local}"+api.ControlPrefix+path, c.inWorld(h))
}

// ServeHTTP checks the control token, then routes; the control page
// checks its own sign-in.
func (c *controlAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page := c.cfg.Page
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// A browser signed in to the control page may read, as the page's
	// links do; its forms go through the page, with CSRF.
	browser := r.Method == http.MethodGet && page.Authorized(r)
	id, within, worldPath := api.SplitWorldPath(r.URL.Path)
	switch {
	case ui.Serves(r.URL.Path):
		page.ServeHTTP(w, r) // the page asks for the token itself
	case worldPath && ui.Serves(within):
		wd, err := c.cfg.Server.World(id)
		if err != nil {
			api.WriteJSON(w, errNoSuchWorld.Status, errNoSuchWorld)
			return
		}
		page.ServeWorld(w, r, wd, wd.Info().Prefix) // {control_url}/ui
	case !browser && (!ok || got == ""):
		api.WriteJSON(w, http.StatusUnauthorized, api.ErrMissingToken)
	case !browser && subtle.ConstantTimeCompare([]byte(got), []byte(c.cfg.Token)) != 1:
		api.WriteJSON(w, http.StatusForbidden, api.Errorf(http.StatusForbidden, "M_FORBIDDEN", "Wrong control token"))
	default:
		h, pattern := c.mux.Handler(r)
		if pattern != "" {
			c.mux.ServeHTTP(w, r) // sets the path values
			return
		}
		// No endpoint: ServeMux knows whether it is 404 or 405.
		var status statusOnly
		h.ServeHTTP(&status, r)
		api.WriteJSON(w, status.code, api.Errorf(status.code, "M_UNRECOGNIZED", "No such control endpoint"))
	}
}

// statusOnly is a ResponseWriter that keeps only the status.
type statusOnly struct{ code int }

func (s *statusOnly) Header() http.Header         { return http.Header{} }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }
