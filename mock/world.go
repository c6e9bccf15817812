package mock

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/scenario"
)

// world is everything a scenario sets up: the state and the rules with
// their counts. Reset and LoadScenario replace it whole; a request uses the
// world it started in.
type world struct {
	settings
	store  *state.Store
	engine *scenario.Engine // nil without rules
	oauth  *oauthState      // nil while the OAuth 2.0 API is off

	// versionsEncoded is the answer to GET /versions, encoded once, at the
	// first request for it (see versionsAnswer).
	versionsOnce    sync.Once
	versionsEncoded clientserver.GetVersionsResponseObject
}

// newWorld builds the world that set describes on the server's clock, which
// it resets to the start that set asks for.
func (s *Server) newWorld(set settings) (*world, error) {
	s.Clock.Reset(set.virtual, set.start)
	w := &world{settings: set, store: state.New(set.store, s.Clock)}
	for _, u := range set.users {
		if _, err := w.store.AddUser(u.ID, u.Password); err != nil {
			return nil, fmt.Errorf("user %q: %w", u.ID, err)
		}
		for _, d := range u.Devices {
			if err := w.addDevice(u.ID, d); err != nil {
				return nil, fmt.Errorf("user %q, device %q: %w", u.ID, d.ID, err)
			}
		}
	}
	if len(set.rules) > 0 {
		w.engine = scenario.NewEngine(set.rules, s.Clock.Now(), w.store.UserID)
	}
	if set.oauth.enabled {
		w.oauth = newOAuthState(set.oauth)
	}
	return w, nil
}

// versionsAnswer returns the answer to GET /versions. It depends on the
// settings only, so it is encoded once, at the first request that asks.
func (w *world) versionsAnswer() clientserver.GetVersionsResponseObject {
	w.versionsOnce.Do(func() { w.versionsEncoded = newVersionsAnswer(w.versions) })
	return w.versionsEncoded
}

// addDevice logs a scenario's device in with its fixed tokens.
func (w *world) addDevice(user string, d scenario.Device) error {
	expiresIn := d.ExpiresIn
	if expiresIn == 0 && d.RefreshToken != "" {
		expiresIn = w.store.AccessTokenLifetime()
	}
	if _, err := w.store.AddSession(user, d.ID, d.AccessToken, d.RefreshToken, expiresIn); err != nil {
		return err
	}
	if d.DisplayName != "" {
		return w.store.UpdateDevice(user, d.ID, d.DisplayName)
	}
	return nil
}

// Reset puts the server back as it started, or as the scenario loaded last
// set it up: users, devices and tokens as the scenario lists them, the
// clock at its start, rule counts and the journal empty.
func (s *Server) Reset() error {
	w, err := s.newWorld(s.world.Load().settings)
	if err != nil {
		return err
	}
	s.world.Store(w)
	s.Journal.Reset()
	return nil
}

// LoadScenario parses a scenario (name is used in error messages) and
// resets the server to it, as Reset does. On an error, which names the
// line and column of every problem, the server is left as it was.
func (s *Server) LoadScenario(name string, data []byte) error {
	sc, err := scenario.Parse(name, data, operationIDs())
	if err != nil {
		return err
	}
	w, err := s.newWorld(fromScenario(sc, name))
	if err != nil {
		return err
	}
	s.world.Store(w)
	s.Journal.Reset()
	return nil
}

// applyDue applies the effects of time rules that are due. Only effects on
// devices and accounts apply: without a request there is nothing to delay
// or answer.
func (s *Server) applyDue(w *world) {
	if w.engine == nil {
		return
	}
	for _, f := range w.engine.Due(s.Clock.Now()) {
		for _, e := range f.Effects {
			s.applyToUser(w, e)
		}
	}
}

// applyToUser applies an effect on a user's account or devices; other
// effects are left to the caller.
func (s *Server) applyToUser(w *world, e scenario.Effect) {
	var err error
	switch e.Kind {
	case scenario.ChangePassword:
		err = w.store.ChangePassword(e.User, e.Password, e.Device, e.LogoutDevices)
	case scenario.Deactivate:
		err = w.deactivate(e.User)
	default:
		s.applyToDevices(w, e)
		return
	}
	if err != nil {
		s.cfg.logger.Info("scenario effect did not apply", "effect", string(e.Kind), "user", e.User, "error", err)
	}
}

// deactivate deactivates the user's account: every session ends, on the
// API and on the account management page. ErrNotFound for an unknown user.
func (w *world) deactivate(user string) error {
	if err := w.store.Deactivate(user); err != nil {
		return err
	}
	if w.oauth != nil {
		w.oauth.endAccountSessions(w.store.UserID(user))
	}
	return nil
}

// applyToDevices applies an effect on a user's devices: the one it names,
// or all of them. Devices that are gone are skipped.
func (s *Server) applyToDevices(w *world, e scenario.Effect) {
	act := map[scenario.EffectKind]func(user, device string) error{
		scenario.ExpireAccessToken:  w.store.ExpireAccessToken,
		scenario.SoftLogout:         w.store.SoftLogout,
		scenario.HardLogout:         w.store.HardLogout,
		scenario.DeleteDevice:       w.store.DeleteDevice,
		scenario.RevokeRefreshToken: w.store.RevokeRefreshToken,
	}[e.Kind]
	if act == nil {
		return
	}
	devices := []string{e.Device}
	if e.Device == "" {
		devices = devices[:0]
		for _, d := range w.store.Devices(e.User) {
			devices = append(devices, d.ID)
		}
	}
	for _, d := range devices {
		if err := act(e.User, d); err != nil {
			s.cfg.logger.Info("scenario effect found no device", "effect", string(e.Kind), "user", e.User, "device", d)
		}
	}
}

// applyRules applies the request rules that fire for r. It runs after the
// access token is checked, so requests refused for their token do not
// count. It reports whether the request is answered already.
func (s *Server) applyRules(w http.ResponseWriter, r *http.Request, ex *exchange) (answered bool) {
	wd := ex.world
	if wd.engine == nil {
		return false
	}
	fired := wd.engine.OnRequest(scenario.Request{
		Operation: ex.op, Method: r.Method, Path: ex.path,
		UserID: ex.principal.UserID, DeviceID: ex.principal.DeviceID, Now: s.Clock.Now(),
	})
	for _, f := range fired {
		for _, e := range f.Effects {
			switch e.Kind {
			case scenario.Delay:
				sleep(r.Context(), e.Delay)
			case scenario.Respond:
				ex.errcode = errcodeOf(e.Response)
				h := w.Header()
				if e.Response.ContentType != "" {
					h.Set("Content-Type", e.Response.ContentType)
				}
				for k, v := range e.Response.Headers {
					h.Set(k, v)
				}
				w.WriteHeader(e.Response.Status)
				_, _ = w.Write(e.Response.Body)
				return true
			case scenario.DropConnection:
				ex.dropped = true
				panic(http.ErrAbortHandler)
			default:
				s.applyToUser(wd, e)
			}
		}
	}
	return false
}

// errcodeOf returns the errcode of a scripted JSON answer, for the journal.
func errcodeOf(resp scenario.Response) string {
	if !strings.HasPrefix(resp.ContentType, "application/json") {
		return ""
	}
	var body struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	return body.Errcode
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
