package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/operation"
	"github.com/mxauth/mxauth/session"
)

// heldRefresh is a transport that lets a refresh reach the server but holds
// its answer back until a logout has been answered, or for a while when
// none comes.
type heldRefresh struct {
	sent    chan struct{} // closed when the refresh has reached the server
	release chan struct{}
	once    sync.Once
}

func (h *heldRefresh) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	switch {
	case strings.HasSuffix(req.URL.Path, "/refresh"):
		close(h.sent)
		select {
		case <-h.release:
		case <-time.After(300 * time.Millisecond): // no logout came: it waits for this refresh
		}
	case strings.HasSuffix(req.URL.Path, "/logout"):
		h.once.Do(func() { close(h.release) })
	}
	return resp, err
}

// TestLogoutDuringRefresh: a Logout while a refresh is in flight waits for
// it and then ends the new tokens; LoggedOut is the last event and the
// session keeps no tokens newer than the ones it logged out.
func TestLogoutDuringRefresh(t *testing.T) {
	held := &heldRefresh{sent: make(chan struct{}), release: make(chan struct{})}
	f := newFixture(t, func(c *session.Config) { c.HTTPClient = &http.Client{Transport: held} })
	refreshed := make(chan error, 1)
	go func() { refreshed <- f.s.Refresh(context.Background()) }()
	<-held.sent
	if err := f.s.Logout(t.Context()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if err := <-refreshed; err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := f.events.kinds(); got != "refreshed,logged out" {
		t.Fatalf("events %s, want refreshed,logged out", got)
	}
	evs := f.events.list()
	if last := evs[len(evs)-1]; f.s.Credentials() != last.Credentials || last.Credentials != evs[0].Credentials {
		t.Fatalf("after Logout the session holds %+v; it logged out %+v, the refresh gave %+v", f.s.Credentials(), last.Credentials, evs[0].Credentials)
	}
	if d := f.hs.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices after Logout %+v", d)
	}
}

// TestUnreadableBody: a request whose GetBody fails gets an error, not a
// panic, and is not sent.
func TestUnreadableBody(t *testing.T) {
	f := newFixture(t, nil)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, f.hs.URL+"/_matrix/client/v3/devices/PHONE", strings.NewReader(`{"display_name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	gone := errors.New("the body's file was deleted")
	req.GetBody = func() (io.ReadCloser, error) { return nil, gone }
	resp, err := f.s.HTTPClient().Do(req)
	if !errors.Is(err, gone) {
		t.Fatalf("Do: %v %v, want the GetBody error", resp, err)
	}
	if got := f.count(journal.Filter{Operation: "updateDevice"}); got != 0 {
		t.Fatalf("%d renames sent, want 0", got)
	}
}

// TestShortLivedTokens: tokens that live less than RefreshSkew are not
// refreshed before every request, only when they are near their end.
func TestShortLivedTokens(t *testing.T) {
	f := newFixture(t, nil, mock.WithAccessTokenLifetime(10*time.Second))
	for i := range 5 { // at 0, 3, 6, 9 and 12 s: the token of 0 s lasts until 10 s
		if i > 0 {
			f.hs.Clock().Advance(3 * time.Second)
		}
		f.mustWhoami(t)
	}
	if got := f.count(journal.Filter{Operation: "refresh"}); got != 1 {
		t.Fatalf("%d refreshes for 5 requests over 12 s of 10 s tokens, want 1", got)
	}
	if got := f.count(journal.Filter{Errcode: "M_UNKNOWN_TOKEN"}); got != 0 {
		t.Fatalf("%d requests refused, want 0", got)
	}
}

// TestRequestSentAtMostTwice: a request refused again after the renewal is
// not sent a third time; the second refusal comes back as it is.
func TestRequestSentAtMostTwice(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.RefreshSkew = -1 }, mock.WithScenarioData("refused.yaml", []byte(`
clock: {mode: virtual, start: 2026-01-01T00:00:00Z}
users: [{id: alice, password: pw}]
rules:
  - when: {request: {operation: getTokenOwner}}
    then: {respond: {status: 401, body: {errcode: M_UNKNOWN_TOKEN, error: expired, soft_logout: true}}}
    times: 2
`)))
	_, err := f.whoami(t.Context())
	var e *session.Error
	if !errors.As(err, &e) || e.StatusCode != 401 || !errors.Is(err, session.ErrUnknownToken) || errors.Is(err, session.ErrLoggedOut) {
		t.Fatalf("whoami: %v, want the second 401", err)
	}
	if got := f.count(journal.Filter{Operation: "getTokenOwner"}); got != 2 {
		t.Fatalf("whoami sent %d times, want 2", got)
	}
	if got := f.count(journal.Filter{Operation: "refresh"}); got != 1 {
		t.Fatalf("%d refreshes, want 1", got)
	}
}

// TestCloseEndsABlockedRelogin: a re-login that waits for the user does
// not hold requests beyond their own context, Close ends it and the
// requests waiting for it, and the closed session sends nothing more.
func TestCloseEndsABlockedRelogin(t *testing.T) {
	entered, returned := make(chan struct{}), make(chan error, 1)
	f := newFixture(t, func(c *session.Config) {
		c.Relogin = func(ctx context.Context, _ string) (session.Credentials, error) {
			close(entered)
			<-ctx.Done() // the user never types the password
			returned <- ctx.Err()
			return session.Credentials{}, ctx.Err()
		}
	})
	if err := f.hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { _, err := f.whoami(context.Background()); waiting <- err }()
	<-entered

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.whoami(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("whoami with a deadline during the re-login: %v, want its deadline", err)
	}

	f.s.Close()
	if err := <-waiting; !errors.Is(err, session.ErrClosed) {
		t.Fatalf("whoami waiting for the re-login: %v, want ErrClosed", err)
	}
	if err := <-returned; !errors.Is(err, context.Canceled) {
		t.Fatalf("the re-login's context ended with %v, want Canceled", err)
	}
	sent := f.count(journal.Filter{})
	if _, err := f.whoami(t.Context()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("whoami after Close: %v", err)
	}
	if err := f.s.Refresh(t.Context()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	if err := f.s.Logout(t.Context()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("Logout after Close: %v", err)
	}
	if f.count(journal.Filter{}) != sent {
		t.Fatal("a closed session still sends requests")
	}
	if got := f.events.kinds(); got != "" {
		t.Fatalf("events %s, want none: Close is not a logout", got)
	}
}

// TestOnChangeReadsTheSession: OnChange may call Credentials (the previous
// ones, while the change is being reported) and Close.
func TestOnChangeReadsTheSession(t *testing.T) {
	var f *fixture
	var during []session.Credentials
	f = newFixture(t, func(c *session.Config) {
		c.OnChange = func(ev session.Event) {
			during = append(during, f.s.Credentials())
			f.events.record(ev)
			if ev.Kind == session.Relogged {
				f.s.Close()
			}
		}
	})
	before := f.s.Credentials()
	if err := f.s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if evs := f.events.list(); len(during) != 1 || during[0] != before || f.s.Credentials() != evs[0].Credentials {
		t.Fatalf("OnChange saw %+v, want %+v; the session then holds %+v", during, before, f.s.Credentials())
	}
	if err := f.hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.whoami(t.Context()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("whoami when OnChange closed the session: %v", err)
	}
	if got := f.events.kinds(); got != "refreshed,relogged" {
		t.Fatalf("events %s", got)
	}
}

// authorizations is a transport that records the Authorization header of
// each request, by path.
type authorizations struct {
	mu   sync.Mutex
	seen map[string]string
}

func (a *authorizations) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.seen[req.URL.Path] = req.Header.Get("Authorization")
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestTokenForOperationsOutsideTheTable: requests to the homeserver for
// operations no table knows carry the token; those that take none, and
// those to other servers, do not.
func TestTokenForOperationsOutsideTheTable(t *testing.T) {
	seen := &authorizations{seen: map[string]string{}}
	f := newFixture(t, func(c *session.Config) { c.HTTPClient = &http.Client{Transport: seen} })
	other := mock.Start(t)
	bearer := "Bearer " + f.s.Credentials().AccessToken
	for _, tt := range []struct {
		method, url, want string
	}{
		{"GET", f.hs.URL + "/_matrix/client/v3/sync?timeout=0", bearer},
		{"PUT", f.hs.URL + "/_matrix/client/v3/rooms/!r:x/send/m.room.message/1", bearer},
		{"GET", f.hs.URL + "/_matrix/client/v3/account/whoami", bearer},
		{"GET", f.hs.URL + "/_matrix/client/versions", bearer}, // optional: it may tell a known user more
		{"GET", f.hs.URL + "/_matrix/client/v3/login", ""},
		{"GET", f.hs.URL + "/_matrix/client/v3/register/available?username=zoe", ""},
		{"GET", f.hs.URL + "/oauth2/authorize", ""}, // an OAuth 2.0 endpoint (gen/oauth2's table)
		{"GET", other.URL + "/_matrix/client/v3/sync", ""},
	} {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.s.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.url, err)
		}
		resp.Body.Close()
		if got := seen.seen[req.URL.Path]; got != tt.want {
			t.Errorf("%s %s carried Authorization %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}
	if got := f.count(journal.Filter{Errcode: "M_MISSING_TOKEN"}); got != 0 {
		t.Errorf("%d requests answered M_MISSING_TOKEN", got)
	}
}

// TestRateLimitOnTheVirtualClock: a session given a Sleep that moves the
// mock's virtual clock waits out 429s without waiting in real time.
func TestRateLimitOnTheVirtualClock(t *testing.T) {
	var waits []time.Duration
	var f *fixture
	f = newFixture(t, func(c *session.Config) {
		c.Sleep = func(_ context.Context, d time.Duration) error {
			waits = append(waits, d)
			f.hs.Clock().Advance(d)
			return nil
		}
	}, mock.WithScenarioData("limited.yaml", []byte(`
clock: {mode: virtual, start: 2026-01-01T00:00:00Z}
users: [{id: alice, password: pw}]
rules:
  - when: {request: {operation: getTokenOwner}}
    then: {respond: {status: 429, body: {errcode: M_LIMIT_EXCEEDED, error: slow down, retry_after_ms: 500}}}
    times: 2
`)))
	start := f.hs.Clock().Now()
	f.mustWhoami(t)
	if fmt.Sprint(waits) != "[500ms 500ms]" {
		t.Fatalf("waits %v, want two of 500ms", waits)
	}
	if got := f.hs.Clock().Now().Sub(start); got != time.Second {
		t.Fatalf("the virtual clock moved %v, want 1s", got)
	}
	if got := f.count(journal.Filter{Operation: "getTokenOwner"}); got != 3 {
		t.Fatalf("%d whoami sent, want 3", got)
	}
}

// TestOperationFromContext: the operation a typed API tags a request's
// context with decides whether the token goes with it, before any table.
func TestOperationFromContext(t *testing.T) {
	seen := &authorizations{seen: map[string]string{}}
	f := newFixture(t, func(c *session.Config) { c.HTTPClient = &http.Client{Transport: seen} })
	bearer := "Bearer " + f.s.Credentials().AccessToken
	for _, tt := range []struct {
		path string
		auth operation.Auth
		want string
	}{
		{"/_matrix/client/v3/account/whoami", operation.AuthNone, ""}, // the table says required
		{"/_matrix/client/v3/login", operation.AuthRequired, bearer},  // the table says none
	} {
		ctx := operation.WithInfo(t.Context(), &operation.Info{ID: "tagged", Auth: tt.auth})
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.hs.URL+tt.path, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := seen.seen[tt.path]; got != tt.want {
			t.Errorf("%s tagged %s carried Authorization %q, want %q", tt.path, tt.auth, got, tt.want)
		}
	}
}
