package mock

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock/internal/csrf"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/ui"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/mock/scenario"
)

// WriteTimeline writes the timeline of the world's sessions to an HTML
// file at path, the page GET /_mock/journal/timeline.html answers (for a
// world other than the default, {control_url}/journal/timeline.html): each
// device's tokens as bars, the requests as marks coloured by status,
// rule firings and clock moves as lines, and a table of the requests. The
// file needs nothing but itself (no script, no other file).
func (w *World) WriteTimeline(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("mock: write timeline: %w", err)
	}
	if err := ui.WriteTimeline(f, w.uiModel()); err != nil {
		_ = f.Close()
		return fmt.Errorf("mock: write timeline: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mock: write timeline: %w", err)
	}
	return nil
}

// writeTimelineOnFailure writes the world's timeline when t has failed
// and names the file in the test log (named after the test, and the world
// unless it is the default): in t's artifact directory under
// go test -artifacts, else in a new temporary directory that is kept.
func (w *World) writeTimelineOnFailure(t testing.TB) {
	if !t.Failed() {
		return
	}
	dir := ""
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		dir = t.ArtifactDir()
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "mxauth-timeline-"); err != nil {
			t.Logf("mock: no timeline: %v", err)
			return
		}
	}
	name := strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(t.Name())
	if w.ID != "" {
		name += "." + w.ID
	}
	name += ".timeline.html"
	path := filepath.Join(dir, name)
	if err := w.WriteTimeline(path); err != nil {
		t.Logf("mock: no timeline: %v", err)
		return
	}
	t.Logf("mock: what the client did, as a timeline: %s", path)
}

// uiModel takes the snapshot of the world the control page and the
// timeline show.
func (w *World) uiModel() ui.Model {
	events := w.journal.Events()
	histories := ui.Histories(events)
	m := ui.Model{
		Now: w.clock.Now(), Virtual: w.clock.IsVirtual(), Scenario: w.uiScenario(),
		Entries: w.journal.Entries(journal.Filter{}), Events: events, Dropped: w.journal.Dropped(),
	}
	for _, user := range w.Users() {
		sessions := map[string]SessionInfo{}
		for _, si := range w.Sessions(user) {
			sessions[si.DeviceID] = si
		}
		u := ui.User{ID: user}
		for _, d := range w.Devices(user) {
			si, h := sessions[d.ID], histories[[2]string{user, d.ID}]
			u.Devices = append(u.Devices, ui.Device{
				ID: d.ID, DisplayName: d.DisplayName, Auth: h.Auth, Generation: h.Generation,
				AccessExpires: si.AccessExpires, AccessExpired: si.AccessExpired,
				Refreshable: si.HasRefreshToken, SoftLoggedOut: si.SoftLoggedOut,
			})
		}
		m.Users = append(m.Users, u)
	}
	return m
}

// uiScenario describes the world's scenario for the page.
func (w *World) uiScenario() ui.Scenario {
	st := w.scenarioState()
	out := ui.Scenario{Description: st.Description, Source: st.Source}
	for _, r := range st.Rules {
		out.Rules = append(out.Rules, ui.Rule{Name: r.Name, Fired: r.Fired})
	}
	return out
}

func (b worldBackend) Model() ui.Model { return b.uiModel() }

func (b worldBackend) Act(action, user, device string) error {
	do := deviceActions[action]
	if do == nil {
		return fmt.Errorf("unknown action %q", action)
	}
	return do(b.World, user, device) // due time rules first, as every Go API call
}

func (b worldBackend) AdvanceClock(d time.Duration) {
	b.clock.Advance(d)
	b.state() // the rules due now apply at once
}

func (b worldBackend) SetClock(t time.Time) {
	b.clock.Set(t)
	b.state() // the rules due now apply at once
}

// pageCSRF is the CSRF scheme of the server's other pages (package csrf),
// under the server's own key, keeping a nonce its cookie already holds so
// that every tab and reload of the control page shares one.
type pageCSRF struct {
	s   *Server
	key *csrf.Key
}

func (c pageCSRF) Token(r *http.Request) (string, *http.Cookie) {
	if nonce := csrf.Current(r); len(nonce) >= 32 {
		return c.key.Token(nonce), nil
	}
	nonce := c.s.current.Load().Store.RandomString(32)
	return c.key.Token(nonce), csrf.Cookie(nonce, "/")
}

func (c pageCSRF) Valid(r *http.Request) bool { return c.key.Valid(r) }

// newControlPage returns the handler of the control page and the timeline
// file: of the default world at /_mock/ui, of another at {control_url}/ui
// (ServeWorld).
func (s *Server) newControlPage() *ui.Handler {
	return ui.NewHandler(ui.Config{Backend: worldBackend{s.World}, ControlToken: s.cfg.controlToken, CSRF: pageCSRF{s, csrf.NewKey()}})
}

// changeRecorder turns the state's token changes into journal events. A
// world being built holds them until start, so that a Reset that empties
// the journal after building keeps the new world's first sessions.
type changeRecorder struct {
	mu      sync.Mutex
	journal *journal.Journal // nil until start
	held    []journal.Event
}

// record is the state's OnChange.
func (c *changeRecorder) record(ch state.Change) {
	ev := tokenEvent(ch)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.journal == nil {
		c.held = append(c.held, ev)
		return
	}
	c.journal.Record(ev)
}

// start records what was held, and from now on records at once.
func (c *changeRecorder) start(j *journal.Journal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.held {
		j.Record(ev)
	}
	c.journal, c.held = j, nil
}

// tokenEvent is a token change as the journal records it.
func tokenEvent(ch state.Change) journal.Event {
	ev := journal.Event{Time: ch.Time, UserID: ch.UserID, DeviceID: ch.DeviceID}
	switch ch.Kind {
	case state.Issued, state.Refreshed:
		ev.Kind, ev.AccessExpires, ev.Refreshable = journal.TokenIssued, ch.AccessExpires, ch.Refreshable
		if ch.Kind == state.Refreshed {
			ev.Kind = journal.TokenRefreshed
		}
		ev.Auth = journal.AuthLegacy
		if ch.ViaOAuth {
			ev.Auth = journal.AuthOAuth
		}
	default:
		ev.Kind = journal.TokenEnded
		ev.Reason = map[state.ChangeKind]string{
			state.Expired: journal.ReasonExpired, state.SoftLoggedOut: journal.ReasonSoftLogout,
			state.LoggedOut: journal.ReasonLogout, state.Revoked: journal.ReasonRevoked,
			state.Deleted: journal.ReasonDeviceDeleted, state.RefreshRevoked: journal.ReasonRefreshRevoked,
		}[ch.Kind]
	}
	return ev
}

// recordFired is the rule engine's OnFire: a rule's firing goes to the
// world's journal before its effects.
func (w *World) recordFired(f scenario.Fired) {
	name := f.Name
	if name == "" {
		name = fmt.Sprintf("rule %d", f.Index+1)
	}
	w.journal.Record(journal.Event{Time: w.clock.Now(), Kind: journal.RuleFired, Rule: name})
}

// recordClockMove is the world's clock's OnMove.
func (w *World) recordClockMove(from, to time.Time) {
	w.journal.Record(journal.Event{Time: to, Kind: journal.ClockMoved, From: from})
}
