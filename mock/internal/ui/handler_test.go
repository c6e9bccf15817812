package ui

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const controlToken = "the-control-token"

// fakeBackend records what the page asked of it.
type fakeBackend struct {
	mu    sync.Mutex
	model Model
	acts  []string
}

func (b *fakeBackend) Model() Model {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.model
}

func (b *fakeBackend) Act(action, user, device string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if user != alice {
		return errors.New("no such device")
	}
	b.acts = append(b.acts, action+" "+user+" "+device)
	return nil
}

func (b *fakeBackend) AdvanceClock(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.model.Now = b.model.Now.Add(d)
}

func (b *fakeBackend) SetClock(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.model.Now = t
}

func (b *fakeBackend) actions() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.acts, "; ")
}

// doubleSubmit is the mock's CSRF scheme: a SameSite=Strict cookie and the
// same token in the form.
type doubleSubmit struct{}

func (doubleSubmit) Token(r *http.Request) (string, *http.Cookie) {
	if c, err := r.Cookie("csrf"); err == nil && c.Value != "" {
		return c.Value, nil
	}
	token := time.Now().Format("150405.000000000")
	return token, &http.Cookie{Name: "csrf", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

func (doubleSubmit) Valid(r *http.Request) bool {
	c, err := r.Cookie("csrf")
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) == 1
}

// browser is a cookie-keeping client of a Handler on loopback that does
// not follow redirects.
type browser struct {
	t        *testing.T
	base     string
	client   *http.Client
	be       *fakeBackend
	csrf     string // the CSRF token of the last page
	location string // the Location of the last answer

	mu  sync.Mutex
	now time.Time // the handler's wall clock
}

// wait moves the handler's wall clock.
func (b *browser) wait(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

func newBrowser(t *testing.T) *browser {
	b := &browser{t: t, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), be: &fakeBackend{model: story()}}
	h := NewHandler(Config{Backend: b.be, ControlToken: controlToken, CSRF: doubleSubmit{},
		Now: func() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	b.base, b.client = srv.URL, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

// get and post return the status and body; post adds the CSRF token the
// last page held unless the form has one.
func (b *browser) get(path string, header ...string) (int, string) {
	req, _ := http.NewRequest("GET", b.base+path, nil)
	if len(header) > 0 {
		req.Header.Set("Authorization", header[0])
	}
	return b.send(req)
}

func (b *browser) post(path string, form url.Values, header ...string) (int, string) {
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(header) > 0 {
		req.Header.Set("Authorization", header[0])
	}
	return b.send(req)
}

func (b *browser) send(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	b.location = resp.Header.Get("Location")
	if resp.StatusCode == http.StatusSeeOther && strings.TrimSuffix(b.location, "?live=0") != PagePath {
		b.t.Errorf("redirect to %q, want %s", resp.Header.Get("Location"), PagePath)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") &&
		!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		b.t.Errorf("%s %s: policy %q", req.Method, req.URL.Path, resp.Header.Get("Content-Security-Policy"))
	}
	return resp.StatusCode, string(body)
}

func (b *browser) signIn() {
	b.t.Helper()
	b.get(PagePath)
	if status, body := b.post(SignInPath, url.Values{"token": {controlToken}}); status != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d %s", status, body)
	}
}

// TestSignIn: the page asks for the token once, then a session cookie
// (not the token) opens it; a wrong token, a missing CSRF token or a
// signed-out cookie do not.
func TestSignIn(t *testing.T) {
	b := newBrowser(t)
	if status, body := b.get(PagePath); status != http.StatusOK || !strings.Contains(body, `name="token"`) || strings.Contains(body, "PHONE") {
		t.Fatalf("before sign-in: %d, want the sign-in form and no state", status)
	}
	if status, _ := b.post(SignInPath, url.Values{"token": {"wrong"}}); status != http.StatusForbidden {
		t.Errorf("wrong token: %d, want 403", status)
	}
	if status, _ := b.post(SignInPath, url.Values{"token": {controlToken}, "csrf": {"forged"}}); status != http.StatusForbidden {
		t.Errorf("forged CSRF: %d, want 403", status)
	}
	b.signIn()
	u, _ := url.Parse(b.base + PagePath)
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == SessionCookie {
			session = c
		}
	}
	if session == nil || session.Value == controlToken || len(session.Value) < 40 {
		t.Fatalf("session cookie %v: want a random ID", session)
	}
	if status, body := b.get(PagePath); status != http.StatusOK || !strings.Contains(body, "PHONE") {
		t.Fatalf("signed in: %d, want the page", status)
	}
	if status, _ := b.get(TimelinePath); status != http.StatusOK {
		t.Errorf("timeline with the cookie: %d", status)
	}
	if status, _ := b.post(SignOutPath, url.Values{}); status != http.StatusSeeOther {
		t.Errorf("sign out: %d", status)
	}
	if status, body := b.get(PagePath); status != http.StatusOK || strings.Contains(body, "PHONE") {
		t.Errorf("after sign-out: %d, want the sign-in form", status)
	}
}

// TestSessionCookieAttributes: the cookie is HttpOnly, SameSite=Strict,
// for the control paths only, and ends with the browser.
func TestSessionCookieAttributes(t *testing.T) {
	b := newBrowser(t)
	b.get(PagePath)
	req, _ := http.NewRequest("POST", b.base+SignInPath, strings.NewReader(url.Values{"token": {controlToken}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := resp.Header.Get("Set-Cookie")
	for _, want := range []string{SessionCookie + "=", "Path=/_mock/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(got, want) {
			t.Errorf("Set-Cookie %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "Expires") || strings.Contains(got, "Max-Age") {
		t.Errorf("Set-Cookie %q outlives the browser session", got)
	}
}

// TestSessionEnds: a cookie session ends after twelve hours of wall time.
func TestSessionEnds(t *testing.T) {
	b := newBrowser(t)
	b.signIn()
	b.wait(sessionLife)
	if _, body := b.get(PagePath); strings.Contains(body, "PHONE") {
		t.Error("the session outlived its life")
	}
}

// TestSignInLimit: after ten wrong tokens in a minute even the right one
// waits; a minute later it works.
func TestSignInLimit(t *testing.T) {
	b := newBrowser(t)
	b.get(PagePath)
	for range maxFailures {
		b.post(SignInPath, url.Values{"token": {"guess"}})
	}
	if status, _ := b.post(SignInPath, url.Values{"token": {controlToken}}); status != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong tokens: %d, want 429", maxFailures, status)
	}
	b.wait(failureWindow + time.Second)
	if status, _ := b.post(SignInPath, url.Values{"token": {controlToken}}); status != http.StatusSeeOther {
		t.Errorf("a minute later: %d, want 303", status)
	}
}

// TestActions: the forms act on the backend with the CSRF token, never
// without; a bearer token needs none.
func TestActions(t *testing.T) {
	b := newBrowser(t)
	b.signIn()
	b.get(PagePath)
	form := func(action string) url.Values {
		return url.Values{"action": {action}, "user": {alice}, "device": {"PHONE"}}
	}
	if status, _ := b.post(DevicePath, form("expire")); status != http.StatusSeeOther {
		t.Fatalf("expire: %d", status)
	}
	forged := form("hard_logout")
	forged.Set("csrf", "forged")
	if status, _ := b.post(DevicePath, forged); status != http.StatusForbidden {
		t.Errorf("forged CSRF: %d, want 403", status)
	}
	if status, body := b.post(DevicePath, url.Values{"action": {"expire"}, "user": {"@nobody:x"}, "device": {"D"}}); status != http.StatusNotFound || !strings.Contains(body, "no such device") {
		t.Errorf("unknown device: %d, want 404 and the reason on the page", status)
	}
	bearer := newBrowser(t)
	if status, _ := bearer.post(DevicePath, form("soft_logout"), "Bearer "+controlToken); status != http.StatusSeeOther {
		t.Errorf("bearer: %d", status)
	}
	if status, _ := bearer.post(DevicePath, form("soft_logout"), "Bearer wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong bearer: %d, want 401", status)
	}
	if got := b.be.actions() + " | " + bearer.be.actions(); got != "expire @alice:localhost PHONE | soft_logout @alice:localhost PHONE" {
		t.Errorf("actions %q", got)
	}
}

// TestClockForm: the clock moves by a duration or to a time; bad input
// says what is expected.
func TestClockForm(t *testing.T) {
	b := newBrowser(t)
	b.signIn()
	b.get(PagePath)
	before := b.be.Model().Now
	if status, _ := b.post(ClockPath, url.Values{"action": {"advance"}, "by": {"6m"}}); status != http.StatusSeeOther || b.be.Model().Now != before.Add(6*time.Minute) {
		t.Errorf("advance: %d, clock %v", status, b.be.Model().Now)
	}
	if status, _ := b.post(ClockPath, url.Values{"action": {"set"}, "time": {"2026-02-01T00:00:00Z"}}); status != http.StatusSeeOther || !b.be.Model().Now.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("set: %d, clock %v", status, b.be.Model().Now)
	}
	if status, body := b.post(ClockPath, url.Values{"action": {"advance"}, "by": {"soon"}}); status != http.StatusBadRequest || !strings.Contains(body, "such as &#34;6m&#34;") {
		t.Errorf("bad duration: %d", status)
	}
}

// TestTimelineAuth: the timeline file needs the control token or a
// session.
func TestTimelineAuth(t *testing.T) {
	b := newBrowser(t)
	if status, _ := b.get(TimelinePath); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}
	if status, body := b.get(TimelinePath, "Bearer "+controlToken); status != http.StatusOK || strings.Contains(body, "<form") || !strings.Contains(body, "<svg") {
		t.Errorf("bearer: %d, want the timeline without forms", status)
	}
}

// TestPause: ?live=0 stops the reloads, and the forms of a paused page
// come back to a paused page.
func TestPause(t *testing.T) {
	b := newBrowser(t)
	b.signIn()
	if _, body := b.get(PagePath); !strings.Contains(body, `http-equiv="refresh" content="5"`) {
		t.Error("the page does not reload itself")
	}
	_, body := b.get(PagePath + "?live=0")
	if strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(body, `name="live" value="0"`) {
		t.Error("the paused page reloads, or its forms forget the pause")
	}
	if status, _ := b.post(ClockPath, url.Values{"action": {"advance"}, "by": {"1s"}, "live": {"0"}}); status != http.StatusSeeOther || b.location != PagePath+"?live=0" {
		t.Errorf("a paused form: %d to %q, want 303 to the paused page", status, b.location)
	}
}
