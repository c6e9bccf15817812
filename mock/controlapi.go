package mock

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/ui"
	"github.com/mxauth/mxauth/mock/journal"
)

// ControlPrefix, "/_mock/", is where the control API lives when WithControl
// turns it on.
const ControlPrefix = api.ControlPrefix

// maxWait bounds the timeout of GET /_mock/journal/wait.
const maxWait = 5 * time.Minute

// controlAPI returns the handler of the control API: the Go API's
// operations over HTTP, for tests written in any language. Requests must
// carry the control token; they are not journaled and no rule sees them.
// Each operation on a world is served by the same code for the default
// world under /_mock/, and for the world with ID under /_mock/worlds/ID/
// and under its own base URL, /_worlds/SERVER/LOCAL/_mock/ (its
// control_url), so that a load balancer routing /_worlds/SERVER by prefix
// routes it too.
func (s *Server) controlAPI() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, out any, e *api.Error) {
		if e != nil {
			api.WriteJSON(w, e.Status, e)
			return
		}
		api.WriteJSON(w, status, out)
	}
	// inWorld serves h on the world the request names (worldID).
	inWorld := func(h func(w *World, r *http.Request) (any, *api.Error)) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			w, err := s.WorldByID(worldID(r))
			if err != nil {
				reply(rw, 0, nil, errNoSuchWorld)
				return
			}
			out, e := h(w, r)
			reply(rw, http.StatusOK, out, e)
		}
	}
	handle := func(method, path string, h func(w *World, r *http.Request) (any, *api.Error)) {
		mux.HandleFunc(method+" "+ControlPrefix+path, func(rw http.ResponseWriter, r *http.Request) {
			out, e := h(s.World, r)
			reply(rw, http.StatusOK, out, e)
		})
		mux.HandleFunc(method+" "+ControlPrefix+"worlds/{world}/"+path, inWorld(h))
		mux.HandleFunc(method+" "+WorldsPrefix+"{server}/{local}"+ControlPrefix+path, inWorld(h))
	}
	handle("GET", "scenario", (*World).controlScenario)
	handle("PUT", "scenario", (*World).controlLoad)
	handle("POST", "reset", func(w *World, _ *http.Request) (any, *api.Error) {
		if err := w.Reset(); err != nil {
			return nil, api.Errorf(http.StatusInternalServerError, "M_UNKNOWN", err.Error())
		}
		return struct{}{}, nil
	})
	handle("GET", "clock", func(w *World, _ *http.Request) (any, *api.Error) { return w.clockReading(), nil })
	handle("POST", "clock/advance", (*World).controlAdvance)
	handle("POST", "clock/set", (*World).controlSet)
	handle("GET", "users", func(w *World, _ *http.Request) (any, *api.Error) {
		return map[string][]string{"users": w.Users()}, nil
	})
	handle("GET", "users/{user}/devices", (*World).controlDevices)
	for action, do := range deviceActions {
		handle("POST", "users/{user}/devices/{device}/"+action, func(w *World, r *http.Request) (any, *api.Error) {
			if err := do(w, r.PathValue("user"), r.PathValue("device")); err != nil {
				return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user or device")
			}
			return struct{}{}, nil
		})
	}
	handle("POST", "users/{user}/password", (*World).controlPassword)
	for action, do := range map[string]func(w *World, user string) error{
		"deactivate":          (*World).Deactivate,
		"reset_cross_signing": (*World).ResetCrossSigning,
	} {
		handle("POST", "users/{user}/"+action, func(w *World, r *http.Request) (any, *api.Error) {
			if err := do(w, r.PathValue("user")); err != nil {
				return nil, api.ErrorOf(err)
			}
			return struct{}{}, nil
		})
	}
	controlRooms(handle)
	handle("GET", "journal", (*World).controlJournal)
	handle("GET", "journal/wait", (*World).controlWait)
	mux.HandleFunc("POST "+ControlPrefix+"worlds", func(rw http.ResponseWriter, r *http.Request) {
		out, e := s.controlNewWorld(r)
		reply(rw, http.StatusCreated, out, e)
	})
	mux.HandleFunc("GET "+ControlPrefix+"worlds", func(rw http.ResponseWriter, r *http.Request) {
		list := []worldState{}
		for _, w := range s.Worlds() {
			list = append(list, s.worldState(w, r))
		}
		reply(rw, http.StatusOK, map[string]any{
			"server_id": s.ServerID(), "max_worlds": s.worlds.max,
			"idle_lifetime_ms": s.worlds.idle.Milliseconds(), "worlds": list,
		}, nil)
	})
	mux.HandleFunc("GET "+ControlPrefix+"worlds/{world}", inWorld(func(w *World, r *http.Request) (any, *api.Error) {
		return s.worldState(w, r), nil
	}))
	drop := func(w *World, _ *http.Request) (any, *api.Error) {
		if w.prefix == "" {
			return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "The default world cannot be dropped; reset it instead")
		}
		if w.Drop() != nil {
			return nil, errNoSuchWorld
		}
		return struct{}{}, nil
	}
	handle("DELETE", "world", drop) // {control_url}/world
	mux.HandleFunc("DELETE "+ControlPrefix+"worlds/{world}", inWorld(drop))
	page := s.newControlPage()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// A browser signed in to the control page may read, as the page's
		// links do; its forms go through the page, with CSRF.
		browser := r.Method == http.MethodGet && page.Authorized(r)
		id, within, worldPath := api.SplitWorldPath(r.URL.Path)
		switch {
		case ui.Serves(r.URL.Path):
			page.ServeHTTP(w, r) // the page asks for the token itself
		case worldPath && ui.Serves(within):
			wd, err := s.WorldByID(id)
			if err != nil {
				api.WriteJSON(w, errNoSuchWorld.Status, errNoSuchWorld)
				return
			}
			page.ServeWorld(w, r, uiBackend{wd}, wd.prefix) // {control_url}/ui
		case !browser && (!ok || got == ""):
			api.WriteJSON(w, http.StatusUnauthorized, api.ErrMissingToken)
		case !browser && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.controlToken)) != 1:
			api.WriteJSON(w, http.StatusForbidden, api.Errorf(http.StatusForbidden, "M_FORBIDDEN", "Wrong control token"))
		default:
			h, pattern := mux.Handler(r)
			if pattern != "" {
				mux.ServeHTTP(w, r) // sets the path values
				return
			}
			// No endpoint: ServeMux knows whether it is 404 or 405.
			var status statusOnly
			h.ServeHTTP(&status, r)
			api.WriteJSON(w, status.code, api.Errorf(status.code, "M_UNRECOGNIZED", "No such control endpoint"))
		}
	})
}

// scenarioState describes the loaded scenario and its rules.
type scenarioState struct {
	Description string      `json:"description,omitempty"`
	Source      string      `json:"source,omitempty"`
	Rules       []ruleState `json:"rules"`
}

// ruleState is a rule as GET /_mock/scenario lists it: enough to tell
// rules apart (index, name, line, summary) and how often it fired.
type ruleState struct {
	Index   int    `json:"index"`
	Name    string `json:"name,omitempty"`
	Line    int    `json:"line,omitempty"`
	Summary string `json:"summary"`
	Fired   int    `json:"fired"`
}

// deviceActions are the control API's actions on a world's device, by
// name (the control page's buttons too).
var deviceActions = map[string]func(w *World, user, device string) error{
	"expire":               (*World).ExpireAccessToken,
	"soft_logout":          (*World).SoftLogout,
	"hard_logout":          (*World).HardLogout,
	"revoke_refresh_token": (*World).RevokeRefreshToken,
}

func (w *World) controlScenario(*http.Request) (any, *api.Error) { return w.scenarioState(), nil }

// scenarioState describes the world's scenario and how often each rule
// fired.
func (w *World) scenarioState() scenarioState {
	cur := w.current.Load()
	out := scenarioState{Description: cur.Description, Source: cur.Source, Rules: []ruleState{}}
	if cur.Engine != nil {
		for i, n := range cur.Engine.Fired() {
			rule := &cur.Rules[i]
			out.Rules = append(out.Rules, ruleState{Index: i, Name: rule.Name, Line: rule.Line, Summary: rule.Summary(), Fired: n})
		}
	}
	return out
}

// controlLoad loads the scenario in the body (YAML); ?name= names it in
// error messages (default "scenario.yaml").
func (w *World) controlLoad(r *http.Request) (any, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, api.ErrTooLarge
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "scenario.yaml"
	}
	if err := w.LoadScenario(name, body); err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
	}
	return w.controlScenario(r)
}

type clockReading struct {
	Now     time.Time `json:"now"`
	NowMs   int64     `json:"now_ms"`
	Virtual bool      `json:"virtual"`
}

func (w *World) clockReading() clockReading {
	now := w.Clock.Now()
	return clockReading{Now: now, NowMs: now.UnixMilli(), Virtual: w.Clock.IsVirtual()}
}

// decodeControl reads a small JSON body into v.
func decodeControl(r *http.Request, v any) *api.Error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.Errorf(http.StatusBadRequest, "M_BAD_JSON", "Bad control request: "+err.Error())
	}
	return nil
}

func (w *World) controlAdvance(r *http.Request) (any, *api.Error) {
	var req struct {
		By json.RawMessage `json:"by"` // read as a string below, for a clear error
	}
	if e := decodeControl(r, &req); e != nil {
		return nil, e
	}
	d, e := advanceBy(req.By)
	if e != nil {
		return nil, e
	}
	w.Clock.Advance(d)
	w.state() // the rules due now apply at once
	return w.clockReading(), nil
}

// advanceBy reads the "by" of clock/advance: a Go duration string, not
// negative (the clock moves forward only; clock/set goes anywhere).
func advanceBy(raw json.RawMessage) (time.Duration, *api.Error) {
	var by string
	if len(raw) == 0 {
		return 0, api.MissingParam("by")
	}
	if json.Unmarshal(raw, &by) != nil {
		return 0, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", `"by" must be a duration string such as "6m" or "90s", got `+string(raw))
	}
	d, err := time.ParseDuration(by)
	switch {
	case err != nil:
		return 0, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", `"by" must be a duration such as "6m" or "90s": `+err.Error())
	case d < 0:
		return 0, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", `"by" must not be negative: advance moves the clock forward only; POST /_mock/clock/set sets any time`)
	}
	return d, nil
}

func (w *World) controlSet(r *http.Request) (any, *api.Error) {
	var req struct {
		Time time.Time `json:"time"`
	}
	if e := decodeControl(r, &req); e != nil {
		return nil, e
	}
	if req.Time.IsZero() {
		return nil, api.MissingParam("time")
	}
	w.Clock.Set(req.Time)
	w.state() // the rules due now apply at once
	return w.clockReading(), nil
}

// controlPassword changes a user's password as ChangePassword does; the
// body has password (required), device (the device the change is made
// on, kept logged in) and logout_devices (default true).
func (w *World) controlPassword(r *http.Request) (any, *api.Error) {
	var req struct {
		Password      string `json:"password"`
		Device        string `json:"device"`
		LogoutDevices *bool  `json:"logout_devices"`
	}
	if e := decodeControl(r, &req); e != nil {
		return nil, e
	}
	if req.Password == "" {
		return nil, api.MissingParam("password")
	}
	logout := req.LogoutDevices == nil || *req.LogoutDevices
	if err := w.ChangePassword(r.PathValue("user"), req.Password, req.Device, logout); err != nil {
		return nil, api.ErrorOf(err)
	}
	return struct{}{}, nil
}

// deviceState is a device and its session, as the control API lists them.
type deviceState struct {
	DeviceID        string `json:"device_id"`
	DisplayName     string `json:"display_name,omitempty"`
	LastSeenTS      int64  `json:"last_seen_ts,omitempty"`
	LastSeenIP      string `json:"last_seen_ip,omitempty"`
	AccessExpiresTS int64  `json:"access_expires_ts,omitempty"`
	AccessExpired   bool   `json:"access_expired"`
	HasRefreshToken bool   `json:"has_refresh_token"`
	SoftLoggedOut   bool   `json:"soft_logged_out"`
}

func (w *World) controlDevices(r *http.Request) (any, *api.Error) {
	user := w.UserID(r.PathValue("user"))
	if !slices.Contains(w.Users(), user) {
		return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user")
	}
	sessions := map[string]SessionInfo{}
	for _, si := range w.Sessions(user) {
		sessions[si.DeviceID] = si
	}
	out := []deviceState{}
	for _, d := range w.Devices(user) {
		si := sessions[d.ID]
		ds := deviceState{
			DeviceID: d.ID, DisplayName: d.DisplayName, LastSeenIP: d.LastSeenIP,
			AccessExpired: si.AccessExpired, HasRefreshToken: si.HasRefreshToken, SoftLoggedOut: si.SoftLoggedOut,
		}
		if !d.LastSeenTS.IsZero() {
			ds.LastSeenTS = d.LastSeenTS.UnixMilli()
		}
		if !si.AccessExpires.IsZero() {
			ds.AccessExpiresTS = si.AccessExpires.UnixMilli()
		}
		out = append(out, ds)
	}
	return map[string]any{"user_id": user, "devices": out}, nil
}

// journalFilter reads a journal filter from the query: operation, method,
// path, user (localpart or ID), device, status, errcode, since (RFC 3339).
func (w *World) journalFilter(r *http.Request) (journal.Filter, *api.Error) {
	q := r.URL.Query()
	f := journal.Filter{
		Operation: q.Get("operation"), Method: q.Get("method"), Path: q.Get("path"),
		DeviceID: q.Get("device"), Errcode: q.Get("errcode"),
	}
	if u := q.Get("user"); u != "" {
		f.UserID = w.UserID(u)
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "status must be a number")
		}
		f.Status = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "since must be an RFC 3339 time")
		}
		f.Since = t
	}
	return f, nil
}

type journalPage struct {
	Entries []journal.Entry `json:"entries"`
	Dropped int             `json:"dropped"`
}

func (w *World) controlJournal(r *http.Request) (any, *api.Error) {
	f, e := w.journalFilter(r)
	if e != nil {
		return nil, e
	}
	return journalPage{Entries: orEmpty(w.Journal.Entries(f)), Dropped: w.Journal.Dropped()}, nil
}

// controlWait answers once count requests (default 1) match the filter, or
// 408 after timeout (default 10s, at most 5m).
func (w *World) controlWait(r *http.Request) (any, *api.Error) {
	f, e := w.journalFilter(r)
	if e != nil {
		return nil, e
	}
	q := r.URL.Query()
	count, timeout := 1, 10*time.Second
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "count must be a positive number")
		}
		count = n
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxWait {
			return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "timeout must be a duration up to 5m, such as 10s")
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	entries, err := w.Journal.Wait(ctx, f, count)
	if err != nil {
		got := w.Journal.Count(f)
		return nil, api.Errorf(http.StatusRequestTimeout, "M_UNKNOWN", fmt.Sprintf("Timed out after %v with %d of %d matching requests", timeout, got, count))
	}
	return journalPage{Entries: entries, Dropped: w.Journal.Dropped()}, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// statusOnly is a ResponseWriter that keeps only the status.
type statusOnly struct{ code int }

func (s *statusOnly) Header() http.Header         { return http.Header{} }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }

// worldID returns the ID of the world a control request names: by its ID
// (/_mock/worlds/ID/…) or by its path (/_worlds/SERVER/LOCAL/_mock/…).
func worldID(r *http.Request) string {
	if id := r.PathValue("world"); id != "" {
		return id
	}
	return r.PathValue("server") + "-" + r.PathValue("local")
}

// errNoSuchWorld answers a control request for a world that does not exist.
var errNoSuchWorld = api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such world: it was dropped, expired when idle, or never existed")

// maxWorldName bounds the label given with ?name=.
const maxWorldName = 100

// worldState describes a world for the control API: where its clients and
// its control API reach it (the control URL followed by /clock/advance and
// so on; /_mock/worlds/ID works as well).
type worldState struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	BaseURL    string `json:"base_url"`
	ControlURL string `json:"control_url"`
}

func (s *Server) worldState(w *World, r *http.Request) worldState {
	base := api.BaseURL(r, s.cfg.publicURL)
	return worldState{
		ID: w.ID, Name: w.Name, BaseURL: api.WorldURL(base, w.prefix),
		ControlURL: api.WorldURL(base, w.prefix) + strings.TrimSuffix(ControlPrefix, "/"),
	}
}

// controlNewWorld makes a world set up by the scenario in the body (YAML),
// or as the server was started when the body is empty; ?name= labels it
// and names the scenario in error messages.
func (s *Server) controlNewWorld(r *http.Request) (any, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, api.ErrTooLarge
	}
	name := r.URL.Query().Get("name")
	if len(name) > maxWorldName {
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", fmt.Sprintf("name must be at most %d bytes", maxWorldName))
	}
	var opts []Option
	if len(bytes.TrimSpace(body)) > 0 {
		opts = append(opts, WithScenarioData(cmp.Or(name, "scenario.yaml"), body))
	}
	w, err := s.newWorldNamed(name, opts...)
	switch {
	case errors.Is(err, ErrTooManyWorlds):
		return nil, api.Errorf(http.StatusServiceUnavailable, "M_RESOURCE_LIMIT_EXCEEDED",
			fmt.Sprintf("This server holds %d worlds, its limit (-max-worlds): drop one with DELETE /_mock/worlds/{id}, or wait for idle ones to be dropped (-world-idle-lifetime %v)", s.worlds.max, s.worlds.idle))
	case err != nil:
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
	}
	return s.worldState(w, r), nil
}
