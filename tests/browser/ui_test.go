package browser_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxauth/mxauth/mock"
)

// console gathers what the tab's pages write to the console and the
// browser log: script errors, and the Content-Security-Policy violations
// Chromium reports there.
type console struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// watchConsole starts gathering the tab's messages.
func watchConsole(ctx context.Context) *console {
	c := &console{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// problems returns the errors, exceptions and policy violations so far.
func (c *console) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type == chromedp.ConsoleError || m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.String())
		}
	}
	return out
}

// screenshot saves a full-page PNG in the test's artifact directory (kept
// with go test -artifacts -outputdir DIR) and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// evalInt evaluates a JavaScript expression as DevTools does (the page's
// policy does not apply) and returns its number.
func evalInt(t *testing.T, ctx context.Context, what, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return n
}

// wantCount checks that a JavaScript expression counts n of what.
func wantCount(t *testing.T, ctx context.Context, what, expr string, n int) {
	t.Helper()
	if got := evalInt(t, ctx, what, expr); got != n {
		t.Errorf("%s: %d, want %d", what, got, n)
	}
}

// TestControlPage: a developer opens /_mock/ui on a server with the
// control API, gives the token once, and sees alice's phone; the Expire
// button expires its access token, so the client's next whoami gets 401
// soft_logout true; after the client's refresh the timeline shows the
// soft-logout mark and the refresh joining two token bars. The page loads
// no script and breaks no rule of its policy, keeps the token out of the
// URL and of script's reach, and fits a phone's screen.
func TestControlPage(t *testing.T) {
	ctx := newTab(t)
	msgs := watchConsole(ctx)
	const controlToken = "ui-test-control-token"
	hs := mock.Start(t, mock.WithUser(alice, alicePassword), mock.WithControl(controlToken),
		mock.WithVirtualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)))
	status, login := callJSON(t, "POST", hs.URL+"/_matrix/client/v3/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": alice},
		"password": alicePassword, "device_id": "PHONE", "refresh_token": true,
	})
	if status != http.StatusOK {
		t.Fatalf("login: %d %v", status, login)
	}
	wantWhoami(t, hs, str(t, login, "access_token"), "PHONE")

	do(t, ctx, "sign in to the control page",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(hs.URL+"/_mock/ui"),
		heading("mxauth mock control"),
		fill("token", controlToken),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-device="PHONE"]`)),
	)
	for what, expr := range map[string]string{
		"the address":     "location.href",
		"script's cookie": "document.cookie",
		"session storage": "JSON.stringify(sessionStorage)",
		"local storage":   "JSON.stringify(localStorage)",
	} {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil || strings.Contains(got, controlToken) || strings.Contains(got, "mxauth_control") {
			t.Errorf("%s holds the token or the session (%v): %s", what, err, got)
		}
	}
	wantCount(t, ctx, "meta refresh elements of the live page", `document.querySelectorAll('meta[http-equiv="refresh"]').length`, 1)

	// Pause the reloads so that a reload cannot come between finding a
	// button and clicking it.
	do(t, ctx, "expire the phone's access token",
		chromedp.Navigate(hs.URL+"/_mock/ui?live=0"),
		chromedp.Click(chromedp.CSS(`tr[data-device="PHONE"] button[value="expire"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-device="PHONE"] .badge.b-warn`)),
	)
	status, gone := callJSON(t, "GET", hs.URL+"/_matrix/client/v3/account/whoami", str(t, login, "access_token"), nil)
	if status != http.StatusUnauthorized || gone["errcode"] != "M_UNKNOWN_TOKEN" || gone["soft_logout"] != true {
		t.Fatalf("whoami after Expire: %d %v, want 401 M_UNKNOWN_TOKEN with soft_logout true", status, gone)
	}
	status, refreshed := callJSON(t, "POST", hs.URL+"/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": str(t, login, "refresh_token")})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	wantWhoami(t, hs, str(t, refreshed, "access_token"), "PHONE")

	do(t, ctx, "look at the timeline", chromedp.Navigate(hs.URL+"/_mock/ui?live=0"), chromedp.WaitVisible(chromedp.CSS(`svg.timeline`)))
	wantCount(t, ctx, "token bars of the phone (login, refresh)", `document.querySelectorAll('#lane-0 rect.token').length`, 2)
	wantCount(t, ctx, "refresh joins", `document.querySelectorAll('#lane-0 circle.join').length`, 1)
	wantCount(t, ctx, "soft-logout 401 marks", `document.querySelectorAll('#lane-0 g.mark.s-soft').length`, 1)
	wantCount(t, ctx, "refresh rows in the table", `[...document.querySelectorAll('table.requests td')].filter(td => td.textContent === 'refresh').length`, 1)
	wantCount(t, ctx, "generation 1 in the sessions table", `[...document.querySelectorAll('tr[data-device="PHONE"] td')].filter(td => td.textContent === 'generation 1').length`, 1)
	screenshot(t, ctx, "control-page-1280.png")

	do(t, ctx, "narrow the window to a phone's", chromedp.EmulateViewport(390, 844), chromedp.WaitVisible(chromedp.CSS(`svg.timeline`)))
	if over := evalInt(t, ctx, "page width", `document.documentElement.scrollWidth - innerWidth`); over > 0 {
		t.Errorf("on a 390 px screen the page is %d px too wide", over)
	}
	if w := evalInt(t, ctx, "button width", `Math.round(document.querySelector('tr[data-device="PHONE"] button[value="expire"]').getBoundingClientRect().right)`); w > 390 || w <= 0 {
		t.Errorf("the Expire button ends at %d px, off a 390 px screen", w)
	}
	screenshot(t, ctx, "control-page-390.png")

	if p := msgs.problems(); len(p) > 0 {
		t.Errorf("console errors or policy violations:\n%s", strings.Join(p, "\n"))
	}
}

// TestTimelineFile: the file hs.WriteTimeline writes opens from disk with
// no error and no policy violation and draws the session.
func TestTimelineFile(t *testing.T) {
	ctx := newTab(t)
	msgs := watchConsole(ctx)
	hs := mock.Start(t, mock.WithUser(alice, alicePassword), mock.WithVirtualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)))
	session, err := hs.Login(alice, "PHONE", true)
	if err != nil {
		t.Fatal(err)
	}
	wantWhoami(t, hs, session.AccessToken, "PHONE")
	hs.Clock().Advance(6 * time.Minute)
	callJSON(t, "GET", hs.URL+"/_matrix/client/v3/account/whoami", session.AccessToken, nil)
	path := filepath.Join(t.ArtifactDir(), "timeline.html")
	if err := hs.WriteTimeline(path); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the file", chromedp.EmulateViewport(1280, 800), chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS(`svg.timeline`)))
	wantCount(t, ctx, "forms of the file", `document.forms.length`, 0)
	wantCount(t, ctx, "clock lines", `document.querySelectorAll('g.line.clock').length`, 1)
	wantCount(t, ctx, "soft-logout marks", `document.querySelectorAll('g.mark.s-soft').length`, 1)
	screenshot(t, ctx, "timeline-file.png")
	if p := msgs.problems(); len(p) > 0 {
		t.Errorf("console errors or policy violations:\n%s", strings.Join(p, "\n"))
	}
}

// TestConsoleSeesPolicyViolations: the console watcher the page tests rely
// on does report a style the policy refuses, so their silence means
// something.
func TestConsoleSeesPolicyViolations(t *testing.T) {
	ctx := newTab(t)
	msgs := watchConsole(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>t</title><style>h1{color:red}</style><h1>refused style</h1>")
	}))
	t.Cleanup(srv.Close)
	do(t, ctx, "open a page that breaks its policy", chromedp.Navigate(srv.URL), heading("refused style"))
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs.problems()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p := msgs.problems(); len(p) == 0 || !strings.Contains(strings.Join(p, " "), "Content Security Policy") {
		t.Fatalf("the refused inline style was not reported: %v", p)
	}
}
