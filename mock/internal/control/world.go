package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/mock/internal/api"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/journal"
)

// worldOps adds the operations on one world: scenario, reset, clock,
// users and devices, journal.
func (c *controlAPI) worldOps() {
	c.handle("GET", "scenario", func(w World, _ *http.Request) (any, *api.Error) { return w.Scenario(), nil })
	c.handle("PUT", "scenario", loadScenario)
	c.handle("POST", "reset", func(w World, _ *http.Request) (any, *api.Error) {
		if err := w.Reset(); err != nil {
			return nil, api.Errorf(http.StatusInternalServerError, "M_UNKNOWN", err.Error())
		}
		return struct{}{}, nil
	})
	c.handle("GET", "clock", func(w World, _ *http.Request) (any, *api.Error) { return readClock(w), nil })
	c.handle("POST", "clock/advance", advanceClock)
	c.handle("POST", "clock/set", setClock)
	c.handle("GET", "users", func(w World, _ *http.Request) (any, *api.Error) {
		return map[string][]string{"users": w.Users()}, nil
	})
	c.handle("GET", "users/{user}/devices", devices)
	for _, action := range c.cfg.DeviceActions {
		c.handle("POST", "users/{user}/devices/{device}/"+action, func(w World, r *http.Request) (any, *api.Error) {
			if err := w.Act(action, r.PathValue("user"), r.PathValue("device")); err != nil {
				return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user or device")
			}
			return struct{}{}, nil
		})
	}
	c.handle("POST", "users/{user}/password", changePassword)
	for action, do := range map[string]func(w World, user string) error{
		"deactivate":          World.Deactivate,
		"reset_cross_signing": World.ResetCrossSigning,
	} {
		c.handle("POST", "users/{user}/"+action, func(w World, r *http.Request) (any, *api.Error) {
			if err := do(w, r.PathValue("user")); err != nil {
				return nil, api.ErrorOf(err)
			}
			return struct{}{}, nil
		})
	}
	c.handle("GET", "journal", readJournal)
	c.handle("GET", "journal/wait", waitJournal)
}

// Scenario describes a world's scenario and its rules, as GET
// /_mock/scenario answers.
type Scenario struct {
	Description string `json:"description,omitempty"`
	Source      string `json:"source,omitempty"`
	Rules       []Rule `json:"rules"`
}

// Rule is a rule as GET /_mock/scenario lists it: enough to tell rules
// apart (index, name, line, summary) and how often it fired.
type Rule struct {
	Index   int    `json:"index"`
	Name    string `json:"name,omitempty"`
	Line    int    `json:"line,omitempty"`
	Summary string `json:"summary"`
	Fired   int    `json:"fired"`
}

// loadScenario loads the scenario in the body (YAML); ?name= names it in
// error messages (default "scenario.yaml").
func loadScenario(w World, r *http.Request) (any, *api.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, api.MaxBodyBytes))
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
	return w.Scenario(), nil
}

// clockReading is the answer of the clock operations.
type clockReading struct {
	Now     time.Time `json:"now"`
	NowMs   int64     `json:"now_ms"`
	Virtual bool      `json:"virtual"`
}

func readClock(w World) clockReading {
	now := w.Clock().Now()
	return clockReading{Now: now, NowMs: now.UnixMilli(), Virtual: w.Clock().IsVirtual()}
}

// decode reads a small JSON body into v.
func decode(r *http.Request, v any) *api.Error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, api.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.Errorf(http.StatusBadRequest, "M_BAD_JSON", "Bad control request: "+err.Error())
	}
	return nil
}

func advanceClock(w World, r *http.Request) (any, *api.Error) {
	var req struct {
		By json.RawMessage `json:"by"` // read as a string below, for a clear error
	}
	if e := decode(r, &req); e != nil {
		return nil, e
	}
	d, e := advanceBy(req.By)
	if e != nil {
		return nil, e
	}
	w.AdvanceClock(d)
	return readClock(w), nil
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

func setClock(w World, r *http.Request) (any, *api.Error) {
	var req struct {
		Time time.Time `json:"time"`
	}
	if e := decode(r, &req); e != nil {
		return nil, e
	}
	if req.Time.IsZero() {
		return nil, api.MissingParam("time")
	}
	w.SetClock(req.Time)
	return readClock(w), nil
}

// changePassword changes a user's password as World.ChangePassword does;
// the body has password (required), device (the device the change is
// made on, kept logged in) and logout_devices (default true).
func changePassword(w World, r *http.Request) (any, *api.Error) {
	var req struct {
		Password      string `json:"password"`
		Device        string `json:"device"`
		LogoutDevices *bool  `json:"logout_devices"`
	}
	if e := decode(r, &req); e != nil {
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

func devices(w World, r *http.Request) (any, *api.Error) {
	user := w.UserID(r.PathValue("user"))
	if !slices.Contains(w.Users(), user) {
		return nil, api.Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such user")
	}
	sessions := map[string]state.SessionInfo{}
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
func journalFilter(w World, r *http.Request) (journal.Filter, *api.Error) {
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

// journalPage is the answer of the journal operations.
type journalPage struct {
	Entries []journal.Entry `json:"entries"`
	Dropped int             `json:"dropped"`
}

func readJournal(w World, r *http.Request) (any, *api.Error) {
	f, e := journalFilter(w, r)
	if e != nil {
		return nil, e
	}
	entries := w.Journal().Entries(f)
	if entries == nil {
		entries = []journal.Entry{}
	}
	return journalPage{Entries: entries, Dropped: w.Journal().Dropped()}, nil
}

// waitJournal answers once count requests (default 1) match the filter,
// or 408 after timeout (default 10s, at most 5m).
func waitJournal(w World, r *http.Request) (any, *api.Error) {
	f, e := journalFilter(w, r)
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
	entries, err := w.Journal().Wait(ctx, f, count)
	if err != nil {
		got := w.Journal().Count(f)
		return nil, api.Errorf(http.StatusRequestTimeout, "M_UNKNOWN", fmt.Sprintf("Timed out after %v with %d of %d matching requests", timeout, got, count))
	}
	return journalPage{Entries: entries, Dropped: w.Journal().Dropped()}, nil
}
