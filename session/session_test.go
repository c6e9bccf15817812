package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/session"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// events records what OnChange hears.
type events struct {
	mu  sync.Mutex
	all []session.Event
}

func (e *events) record(ev session.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []session.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]session.Event(nil), e.all...)
}

func (e *events) kinds() string {
	var k []string
	for _, ev := range e.list() {
		k = append(k, ev.Kind.String())
	}
	return strings.Join(k, ",")
}

// fixture is a mock homeserver with alice, a session for her on PHONE and
// a generated client that goes through it.
type fixture struct {
	hs       *mock.Server
	cfg      session.Config
	s        *session.Session
	api      *clientserver.API
	events   *events
	relogins []string // device IDs the re-login callback was called with
	mu       sync.Mutex
}

// newFixture starts the mock with opts (alice/pw and a virtual clock
// first), logs alice in on PHONE and builds the session; edit adjusts the
// config before New.
func newFixture(t *testing.T, edit func(*session.Config), opts ...mock.Option) *fixture {
	t.Helper()
	hs := mock.Start(t, append([]mock.Option{mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch)}, opts...)...)
	f := &fixture{hs: hs, events: &events{}}
	f.cfg = session.Config{HomeserverURL: hs.URL, Now: hs.Clock().Now, OnChange: f.events.record}
	f.cfg.Relogin = func(ctx context.Context, deviceID string) (session.Credentials, error) {
		f.mu.Lock()
		f.relogins = append(f.relogins, deviceID)
		f.mu.Unlock()
		return session.PasswordLogin(ctx, f.cfg, "alice", "pw", deviceID)
	}
	creds, err := session.PasswordLogin(t.Context(), f.cfg, "alice", "pw", "PHONE")
	if err != nil {
		t.Fatalf("PasswordLogin: %v", err)
	}
	if creds.DeviceID != "PHONE" || creds.RefreshToken == "" || !creds.ExpiresAt.After(epoch) {
		t.Fatalf("credentials %+v", creds)
	}
	f.cfg.Credentials = creds
	if edit != nil {
		edit(&f.cfg)
	}
	if f.s, err = session.New(f.cfg); err != nil {
		t.Fatal(err)
	}
	if f.api, err = clientserver.NewAPI(hs.URL, clientserver.WithHTTPClient(f.s.HTTPClient())); err != nil {
		t.Fatal(err)
	}
	return f
}

// whoami calls whoami through the session and returns the device, or the
// error.
func (f *fixture) whoami(ctx context.Context) (string, error) {
	who, err := f.api.GetTokenOwner(ctx)
	if err != nil {
		return "", err
	}
	return *who.DeviceID, nil
}

func (f *fixture) mustWhoami(t *testing.T) {
	t.Helper()
	if device, err := f.whoami(t.Context()); err != nil || device != "PHONE" {
		t.Fatalf("whoami: %q, %v", device, err)
	}
}

func (f *fixture) count(flt journal.Filter) int { return f.hs.Journal().Count(flt) }

// TestConcurrentExpiry: 50 goroutines call whoami across an expiry; one
// refresh serves them all, whether the session refreshes when the server
// refuses the token or ahead of the expiry.
func TestConcurrentExpiry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		skew    time.Duration
		refused int // requests the server refuses with M_UNKNOWN_TOKEN
	}{
		{"on refusal", -1, 50},
		{"ahead of expiry", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *session.Config) { c.RefreshSkew = tt.skew })
			f.mustWhoami(t)
			f.hs.Clock().Advance(5 * time.Minute)
			const n = 50
			errs := make(chan error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					<-start
					_, err := f.whoami(context.Background())
					errs <- err
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if got := f.count(journal.Filter{Operation: "refresh"}); got != 1 {
				t.Errorf("%d refreshes in the journal, want 1", got)
			}
			if got := f.count(journal.Filter{Operation: "getTokenOwner", Status: 200}); got != n+1 {
				t.Errorf("%d successful whoami, want %d", got, n+1)
			}
			// With the refresh on refusal, requests sent before it finished were refused.
			if got := f.count(journal.Filter{Errcode: "M_UNKNOWN_TOKEN"}); tt.refused == 0 && got != 0 || tt.refused > 0 && (got < 1 || got > tt.refused) {
				t.Errorf("%d requests refused, want %d", got, tt.refused)
			}
			if got := f.events.kinds(); got != "refreshed" {
				t.Errorf("events %s, want one refresh", got)
			}
		})
	}
}

func TestRateLimitedRefresh(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.RefreshSkew = -1 }, mock.WithScenarioData("limited.yaml", []byte(`
clock: {mode: virtual, start: 2026-01-01T00:00:00Z}
users: [{id: alice, password: pw}]
rules:
  - when: {request: {operation: refresh}, nth: 1}
    then: {respond: {status: 429, body: {errcode: M_LIMIT_EXCEEDED, error: slow down, retry_after_ms: 20}}}
`)))
	f.hs.Clock().Advance(5 * time.Minute)
	f.mustWhoami(t)
	var statuses []int
	for _, e := range f.hs.Journal().Entries(journal.Filter{Operation: "refresh"}) {
		statuses = append(statuses, e.Status)
	}
	if fmt.Sprint(statuses) != "[429 200]" {
		t.Fatalf("refresh statuses %v, want [429 200]", statuses)
	}
	if got := f.events.kinds(); got != "refreshed" {
		t.Fatalf("events %s", got)
	}
}

func TestRateLimitBounds(t *testing.T) {
	limited := func(ms int, header string) mock.Option {
		return mock.WithScenarioData("limited.yaml", []byte(fmt.Sprintf(`
clock: {mode: virtual}
users: [{id: alice, password: pw}]
rules:
  - when: {request: {operation: getTokenOwner}}
    then: {respond: {status: 429, headers: {Retry-After: "%s"}, body: {errcode: M_LIMIT_EXCEEDED, error: slow down, retry_after_ms: %d}}}
    times: 2
`, header, ms)))
	}
	t.Run("honoured", func(t *testing.T) {
		f := newFixture(t, nil, limited(10, "0"))
		f.mustWhoami(t)
		if got := f.count(journal.Filter{Operation: "getTokenOwner"}); got != 3 {
			t.Fatalf("%d whoami sent, want 3", got)
		}
	})
	t.Run("over the cap", func(t *testing.T) {
		f := newFixture(t, func(c *session.Config) { c.MaxRetryAfter = time.Second }, limited(60000, "60"))
		_, err := f.whoami(t.Context())
		var e *session.Error
		if !errors.Is(err, session.ErrLimitExceeded) || !errors.As(err, &e) || e.StatusCode != 429 || e.RetryAfter != time.Minute {
			t.Fatalf("whoami: %v, want the 429 with its minute", err)
		}
		if got := f.count(journal.Filter{Operation: "getTokenOwner"}); got != 1 {
			t.Fatalf("%d whoami sent, want 1", got)
		}
	})
	t.Run("context", func(t *testing.T) {
		f := newFixture(t, func(c *session.Config) { c.MaxRetryAfter = time.Hour }, limited(3600000, "3600"))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := f.whoami(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("whoami: %v, want the context's deadline", err)
		}
	})
}

// TestStaleRefreshToken: an app that restarts from credentials older than
// its last refresh has a refresh token that was rotated away; the session
// falls back to the re-login on the same device.
func TestStaleRefreshToken(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.RefreshSkew = -1 })
	stale := f.cfg
	f.hs.Clock().Advance(5 * time.Minute)
	f.mustWhoami(t) // refreshes, and uses the new pair
	evs := f.events.list()
	if len(evs) != 1 || evs[0].Kind != session.Refreshed || evs[0].Credentials != f.s.Credentials() {
		t.Fatalf("events %+v", evs)
	}

	// A session from the persisted credentials works without a re-login.
	fresh := f.cfg
	fresh.Credentials = evs[0].Credentials
	s, err := session.New(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, s, f.hs.URL); err != nil {
		t.Fatalf("whoami from persisted credentials: %v", err)
	}

	// One from the stale credentials must log in again.
	f.hs.Clock().Advance(5 * time.Minute) // the stale access token has long expired
	s, err = session.New(stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, s, f.hs.URL); err != nil {
		t.Fatalf("whoami from stale credentials: %v", err)
	}
	if fmt.Sprint(f.relogins) != "[PHONE]" {
		t.Fatalf("re-logins %v, want one on PHONE", f.relogins)
	}
	if got := f.events.kinds(); got != "refreshed,relogged" {
		t.Fatalf("events %s", got)
	}
}

// get calls whoami with s's client directly.
func get(t *testing.T, s *session.Session, base string) error {
	t.Helper()
	resp, err := s.HTTPClient().Get(base + "/_matrix/client/v3/account/whoami")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return session.ParseError(resp)
	}
	return nil
}

func TestSoftLogoutChain(t *testing.T) {
	f := newFixture(t, nil)
	f.mustWhoami(t)
	if err := f.hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	f.mustWhoami(t)
	if fmt.Sprint(f.relogins) != "[PHONE]" {
		t.Fatalf("re-logins %v", f.relogins)
	}
	// The refresh was tried first, and refused as soft-logged-out.
	if got := f.count(journal.Filter{Operation: "refresh", Errcode: "M_UNKNOWN_TOKEN"}); got != 1 {
		t.Fatalf("%d refused refreshes, want 1", got)
	}
	if d := f.hs.Devices("alice"); len(d) != 1 || d[0].ID != "PHONE" {
		t.Fatalf("devices %+v, want PHONE kept", d)
	}
	evs := f.events.list()
	if len(evs) != 1 || evs[0].Kind != session.Relogged || evs[0].Credentials.DeviceID != "PHONE" || evs[0].Credentials != f.s.Credentials() {
		t.Fatalf("events %+v", evs)
	}
}

func TestSoftLogoutWithoutRecovery(t *testing.T) {
	failing := errors.New("the user cancelled the password prompt")
	for _, tt := range []struct {
		name    string
		relogin func(context.Context, string) (session.Credentials, error)
		cause   error
	}{
		{"re-login fails", func(context.Context, string) (session.Credentials, error) { return session.Credentials{}, failing }, failing},
		{"no re-login", nil, session.ErrUnknownToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *session.Config) { c.Relogin = tt.relogin })
			if err := f.hs.SoftLogout("alice", "PHONE"); err != nil {
				t.Fatal(err)
			}
			_, err := f.whoami(t.Context())
			var out *session.LoggedOutError
			if !errors.Is(err, session.ErrLoggedOut) || !errors.As(err, &out) || !out.Soft || !errors.Is(err, tt.cause) {
				t.Fatalf("whoami: %v, want a soft logout caused by %v", err, tt.cause)
			}
			sent := f.count(journal.Filter{})
			if _, err := f.whoami(t.Context()); !errors.Is(err, session.ErrLoggedOut) {
				t.Fatalf("second whoami: %v", err)
			}
			if f.count(journal.Filter{}) != sent {
				t.Fatal("a logged-out session still sends requests")
			}
			if got := f.events.kinds(); got != "logged out" {
				t.Fatalf("events %s", got)
			}
		})
	}
}

func TestHardLogout(t *testing.T) {
	f := newFixture(t, nil)
	f.mustWhoami(t)
	if err := f.hs.HardLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	_, err := f.whoami(t.Context())
	var out *session.LoggedOutError
	var merr *session.Error
	if !errors.As(err, &out) || out.Soft || !errors.As(err, &merr) || merr.StatusCode != 401 || merr.SoftLogout || !errors.Is(err, session.ErrUnknownToken) {
		t.Fatalf("whoami: %v, want a hard logout with the server's M_UNKNOWN_TOKEN", err)
	}
	if got := f.count(journal.Filter{Operation: "refresh"}); got != 0 {
		t.Fatalf("%d refreshes after a hard logout, want 0", got)
	}
	if len(f.relogins) != 0 {
		t.Fatalf("re-login called after a hard logout: %v", f.relogins)
	}
	evs := f.events.list()
	if len(evs) != 1 || evs[0].Kind != session.LoggedOut || !errors.As(evs[0].Err, &out) || out.Soft {
		t.Fatalf("events %+v", evs)
	}
}

// TestEventsInOrder: every change is reported, in order, with the tokens
// the session then uses.
func TestEventsInOrder(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.RefreshSkew = -1 })
	var used []string
	for range 2 {
		f.hs.Clock().Advance(5 * time.Minute)
		f.mustWhoami(t)
		used = append(used, f.s.Credentials().AccessToken)
	}
	if err := f.hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	f.mustWhoami(t)
	used = append(used, f.s.Credentials().AccessToken)
	if err := f.s.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs := f.events.list()
	if got := f.events.kinds(); got != "refreshed,refreshed,relogged,logged out" {
		t.Fatalf("events %s", got)
	}
	seen := map[string]bool{f.cfg.Credentials.RefreshToken: true}
	for i, ev := range evs[:3] {
		if ev.Credentials.AccessToken != used[i] {
			t.Errorf("event %d has access token %q, the session used %q", i, ev.Credentials.AccessToken, used[i])
		}
		if seen[ev.Credentials.RefreshToken] {
			t.Errorf("event %d repeats a refresh token", i)
		}
		seen[ev.Credentials.RefreshToken] = true
	}
	if _, err := f.whoami(t.Context()); !errors.Is(err, session.ErrLoggedOut) {
		t.Fatalf("whoami after Logout: %v", err)
	}
	if d := f.hs.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices after Logout %+v", d)
	}
}

// TestBodyReplayedAfterRefresh: a request with a body, refused for an
// expired token, is sent again with the same body.
func TestBodyReplayedAfterRefresh(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.RefreshSkew = -1 })
	f.hs.Clock().Advance(5 * time.Minute)
	name := "Alice's phone"
	if err := f.api.UpdateDevice(t.Context(), "PHONE", clientserver.UpdateDeviceRequest{DisplayName: &name}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if d := f.hs.Devices("alice"); d[0].DisplayName != name {
		t.Fatalf("device %+v", d[0])
	}
	if got := f.count(journal.Filter{Operation: "updateDevice"}); got != 2 {
		t.Fatalf("%d renames sent, want 2 (refused, then replayed)", got)
	}
}

func TestLoginErrors(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	_, err := session.PasswordLogin(t.Context(), session.Config{HomeserverURL: hs.URL}, "alice", "wrong", "")
	var e *session.Error
	if !errors.Is(err, session.ErrForbidden) || !errors.As(err, &e) || e.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := session.New(session.Config{HomeserverURL: "not a url"}); err == nil {
		t.Fatal("New accepted a bad URL")
	}
	if _, err := session.New(session.Config{HomeserverURL: hs.URL}); err == nil {
		t.Fatal("New accepted no access token")
	}
}
