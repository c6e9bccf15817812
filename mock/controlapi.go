package mock

import (
	"context"
	"crypto/subtle"
	"encoding/json"
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
func (s *Server) controlAPI() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(r *http.Request) (any, *api.Error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			out, e := h(r)
			if e != nil {
				api.WriteJSON(w, e.Status, e)
				return
			}
			api.WriteJSON(w, http.StatusOK, out)
		})
	}
	handle("GET /_mock/scenario", s.controlScenario)
	handle("PUT /_mock/scenario", s.controlLoad)
	handle("POST /_mock/reset", func(*http.Request) (any, *api.Error) {
		if err := s.Reset(); err != nil {
			return nil, api.Errorf(http.StatusInternalServerError, "M_UNKNOWN", err.Error())
		}
		return struct{}{}, nil
	})
	handle("GET /_mock/clock", func(*http.Request) (any, *api.Error) { return s.clockReading(), nil })
	handle("POST /_mock/clock/advance", s.controlAdvance)
	handle("POST /_mock/clock/set", s.controlSet)
	handle("GET /_mock/users", func(*http.Request) (any, *api.Error) {
		return map[string][]string{"users": s.Users()}, nil
	})
	handle("GET /_mock/users/{user}/devices", s.controlDevices)
	for action, do := range s.deviceActions() {
		handle("POST /_mock/users/{user}/devices/{device}/"+action, func(r *http.Request) (any, *api.Error) {
			if err := do(r.PathValue("user"), r.PathValue("device")); err != nil {
				return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user or device")
			}
			return struct{}{}, nil
		})
	}
	s.controlRooms(handle)
	handle("GET /_mock/journal", s.controlJournal)
	handle("GET /_mock/journal/wait", s.controlWait)
	page := s.newControlPage()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// A browser signed in to the control page may read, as the page's
		// links do; its forms go through the page, with CSRF.
		browser := r.Method == http.MethodGet && page.Authorized(r)
		switch {
		case ui.Serves(r.URL.Path):
			page.ServeHTTP(w, r) // the page asks for the token itself
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

// deviceActions are the control API's actions on a device, by name.
func (s *Server) deviceActions() map[string]func(user, device string) error {
	return map[string]func(user, device string) error{
		"expire":               s.ExpireAccessToken,
		"soft_logout":          s.SoftLogout,
		"hard_logout":          s.HardLogout,
		"revoke_refresh_token": s.RevokeRefreshToken,
	}
}

func (s *Server) controlScenario(*http.Request) (any, *api.Error) { return s.scenarioState(), nil }

// scenarioState describes the loaded scenario and how often each rule
// fired.
func (s *Server) scenarioState() scenarioState {
	w := s.world.Load()
	out := scenarioState{Description: w.Description, Source: w.Source, Rules: []ruleState{}}
	if w.Engine != nil {
		for i, n := range w.Engine.Fired() {
			rule := &w.Rules[i]
			out.Rules = append(out.Rules, ruleState{Index: i, Name: rule.Name, Line: rule.Line, Summary: rule.Summary(), Fired: n})
		}
	}
	return out
}

// controlLoad loads the scenario in the body (YAML); ?name= names it in
// error messages (default "scenario.yaml").
func (s *Server) controlLoad(r *http.Request) (any, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, api.ErrTooLarge
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "scenario.yaml"
	}
	if err := s.LoadScenario(name, body); err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
	}
	return s.controlScenario(r)
}

type clockReading struct {
	Now     time.Time `json:"now"`
	NowMs   int64     `json:"now_ms"`
	Virtual bool      `json:"virtual"`
}

func (s *Server) clockReading() clockReading {
	now := s.Clock.Now()
	return clockReading{Now: now, NowMs: now.UnixMilli(), Virtual: s.Clock.IsVirtual()}
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

func (s *Server) controlAdvance(r *http.Request) (any, *api.Error) {
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
	s.Clock.Advance(d)
	s.current() // the rules due now apply at once
	return s.clockReading(), nil
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

func (s *Server) controlSet(r *http.Request) (any, *api.Error) {
	var req struct {
		Time time.Time `json:"time"`
	}
	if e := decodeControl(r, &req); e != nil {
		return nil, e
	}
	if req.Time.IsZero() {
		return nil, api.MissingParam("time")
	}
	s.Clock.Set(req.Time)
	s.current() // the rules due now apply at once
	return s.clockReading(), nil
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

func (s *Server) controlDevices(r *http.Request) (any, *api.Error) {
	user := s.UserID(r.PathValue("user"))
	if !slices.Contains(s.Users(), user) {
		return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user")
	}
	sessions := map[string]SessionInfo{}
	for _, si := range s.Sessions(user) {
		sessions[si.DeviceID] = si
	}
	out := []deviceState{}
	for _, d := range s.Devices(user) {
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
func (s *Server) journalFilter(r *http.Request) (journal.Filter, *api.Error) {
	q := r.URL.Query()
	f := journal.Filter{
		Operation: q.Get("operation"), Method: q.Get("method"), Path: q.Get("path"),
		DeviceID: q.Get("device"), Errcode: q.Get("errcode"),
	}
	if u := q.Get("user"); u != "" {
		f.UserID = s.UserID(u)
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

func (s *Server) controlJournal(r *http.Request) (any, *api.Error) {
	f, e := s.journalFilter(r)
	if e != nil {
		return nil, e
	}
	return journalPage{Entries: orEmpty(s.Journal.Entries(f)), Dropped: s.Journal.Dropped()}, nil
}

// controlWait answers once count requests (default 1) match the filter, or
// 408 after timeout (default 10s, at most 5m).
func (s *Server) controlWait(r *http.Request) (any, *api.Error) {
	f, e := s.journalFilter(r)
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
	entries, err := s.Journal.Wait(ctx, f, count)
	if err != nil {
		got := s.Journal.Count(f)
		return nil, api.Errorf(http.StatusRequestTimeout, "M_UNKNOWN", fmt.Sprintf("Timed out after %v with %d of %d matching requests", timeout, got, count))
	}
	return journalPage{Entries: entries, Dropped: s.Journal.Dropped()}, nil
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
