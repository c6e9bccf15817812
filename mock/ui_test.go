package mock_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

const ruleScenario = `
clock: {mode: virtual, start: 2026-01-01T00:00:00Z}
users:
  - id: alice
    password: pw
    devices: [{id: PHONE, access_token: at, refresh_token: rt}]
rules:
  - name: second-whoami-expires
    when: {request: {operation: getTokenOwner, user: alice}, nth: 2}
    then: {expire_access_token: {}}
`

// TestJournalEvents: the journal records, in order with the requests, the
// token changes (the scenario's device, the expiry a rule makes, the
// refresh, an expiry and a hard logout from the control API), the rule's
// firing and the clock's move; a refused token's request names its device
// and soft_logout, and a refresh names the refresh token's device.
func TestJournalEvents(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("rules.yaml", []byte(ruleScenario)), mock.WithControl(controlToken))
	call(t, hs, "GET", whoami, "at", nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, "at", nil).wantStatus(t, 200) // the rule fires on this one
	wantUnknownToken(t, call(t, hs, "GET", whoami, "at", nil), true)
	at := refresh(t, hs, "rt").str(t, "access_token")
	hs.Clock().Advance(time.Minute)
	control(t, hs, "POST", "/_mock/users/alice/devices/PHONE/expire", nil).wantStatus(t, 200)
	control(t, hs, "POST", "/_mock/users/alice/devices/PHONE/hard_logout", nil).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), false)

	var got []string
	for _, ev := range hs.Journal().Events() {
		line := fmt.Sprintf("%d %s", ev.Seq, ev.Kind)
		switch ev.Kind {
		case journal.TokenIssued, journal.TokenRefreshed:
			line += fmt.Sprintf(" %s/%s %s refreshable=%v expires=%s", ev.UserID, ev.DeviceID, ev.Auth, ev.Refreshable, ev.AccessExpires.Sub(epoch))
		case journal.TokenEnded:
			line += fmt.Sprintf(" %s/%s %s", ev.UserID, ev.DeviceID, ev.Reason)
		case journal.RuleFired:
			line += " " + ev.Rule
		case journal.ClockMoved:
			line += fmt.Sprintf(" %s→%s", ev.From.Sub(epoch), ev.Time.Sub(epoch))
		}
		got = append(got, line)
	}
	want := []string{
		"1 token_issued @alice:localhost/PHONE legacy refreshable=true expires=5m0s",
		"3 rule_fired second-whoami-expires",
		"4 token_ended @alice:localhost/PHONE expired",
		"7 token_refreshed @alice:localhost/PHONE legacy refreshable=true expires=5m0s",
		"9 clock_moved 0s→1m0s",
		"10 token_ended @alice:localhost/PHONE expired",
		"11 token_ended @alice:localhost/PHONE device_deleted",
	}
	wantLines(t, "events", got, want)

	var entries []string
	for _, e := range hs.Journal().Entries(journal.Filter{}) {
		entries = append(entries, fmt.Sprintf("%d %s %d soft=%v by=%s/%s token=%s/%s", e.Seq, e.Operation, e.Status, e.SoftLogout, e.UserID, e.DeviceID, e.TokenUserID, e.TokenDeviceID))
	}
	wantEntries := []string{
		"2 getTokenOwner 200 soft=false by=@alice:localhost/PHONE token=/",
		"5 getTokenOwner 200 soft=false by=@alice:localhost/PHONE token=/",
		"6 getTokenOwner 401 soft=true by=/ token=@alice:localhost/PHONE",
		"8 refresh 200 soft=false by=/ token=@alice:localhost/PHONE",
		"12 getTokenOwner 401 soft=false by=/ token=/",
	}
	wantLines(t, "entries", entries, wantEntries)

	if err := hs.Reset(); err != nil {
		t.Fatal(err)
	}
	if evs := hs.Journal().Events(); len(evs) != 1 || evs[0].Kind != journal.TokenIssued || evs[0].Seq != 1 {
		t.Errorf("after Reset the journal has %+v, want the scenario's device's login alone", evs)
	}
}

// wantLines compares lines of a description.
func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("%s:\n%s\nwant:\n%s", what, g, w)
	}
}

// browserClient keeps cookies and does not follow redirects, as a
// browser's form posts are seen by the server.
func browserClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// fetch sends a request and returns the answer and its body.
func fetch(t *testing.T, c *http.Client, method, u string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestControlPage: /_mock/ui asks for the control token, then a session
// cookie opens the page, the journal's JSON and the timeline file; its
// Expire button, with the CSRF token, expires a session as the control API
// does; without the token the button does nothing.
func TestControlPage(t *testing.T) {
	hs := mock.Start(t, mock.WithControl(controlToken), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	at := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE", "refresh_token": true}).str(t, "access_token")
	c := browserClient()
	resp, page := fetch(t, c, "GET", hs.URL+"/_mock/ui", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="token"`) || strings.Contains(page, "PHONE") {
		t.Fatalf("before signing in: %d, want the sign-in page alone", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("policy %q", csp)
	}
	csrf := csrfField.FindStringSubmatch(page)[1]
	resp, _ = fetch(t, c, "POST", hs.URL+"/_mock/ui/session", url.Values{"csrf": {csrf}, "token": {controlToken}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	if resp, body := fetch(t, c, "GET", hs.URL+"/_mock/journal?operation=login", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, `"operation":"login"`) {
		t.Errorf("the journal's JSON with the cookie: %d %s", resp.StatusCode, body)
	}
	if resp, _ := fetch(t, c, "POST", hs.URL+"/_mock/reset", nil, nil); resp.StatusCode != 401 {
		t.Errorf("a control API write with the cookie alone: %d, want 401", resp.StatusCode)
	}
	resp, page = fetch(t, c, "GET", hs.URL+"/_mock/ui", nil, nil)
	if !strings.Contains(page, `data-device="PHONE"`) {
		t.Fatalf("signed in: %d, no PHONE", resp.StatusCode)
	}
	expire := url.Values{"user": {"@alice:localhost"}, "device": {"PHONE"}, "action": {"expire"}, "csrf": {"forged"}}
	if resp, _ := fetch(t, c, "POST", hs.URL+"/_mock/ui/device", expire, nil); resp.StatusCode != 403 {
		t.Errorf("a forged form: %d, want 403", resp.StatusCode)
	}
	call(t, hs, "GET", whoami, at, nil).wantStatus(t, 200)
	expire.Set("csrf", csrfField.FindStringSubmatch(page)[1])
	if resp, _ := fetch(t, c, "POST", hs.URL+"/_mock/ui/device", expire, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Expire: %d", resp.StatusCode)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), true)

	resp, file := fetch(t, c, "GET", hs.URL+"/_mock/journal/timeline.html", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(file, `<g class="mark s-soft">`) || strings.Contains(file, "<form") {
		t.Errorf("timeline file: %d, want the drawing with the soft logout and no form", resp.StatusCode)
	}
	if resp, _ := fetch(t, http.DefaultClient, "GET", hs.URL+"/_mock/journal/timeline.html", nil, nil); resp.StatusCode != 401 {
		t.Errorf("timeline file without a token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := fetch(t, http.DefaultClient, "GET", hs.URL+"/_mock/journal/timeline.html", nil, http.Header{"Authorization": {"Bearer " + controlToken}}); resp.StatusCode != 200 {
		t.Errorf("timeline file with the token: %d, want 200", resp.StatusCode)
	}
}

// TestControlPageIsOffByDefault: without the control API there is no page.
func TestControlPageIsOffByDefault(t *testing.T) {
	hs := mock.Start(t)
	call(t, hs, "GET", "/_mock/ui", "", nil).wantError(t, 404, "M_UNRECOGNIZED")
	call(t, hs, "GET", "/_mock/journal/timeline.html", controlToken, nil).wantError(t, 404, "M_UNRECOGNIZED")
}

// failingT is a test that has failed, and keeps what it logs.
type failingT struct {
	testing.TB
	logs []string
}

func (f *failingT) Failed() bool { return true }

func (f *failingT) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

// TestStartWritesTimelineOfFailedTest: when a test that used Start fails,
// the log names an HTML timeline of what its client did.
func TestStartWritesTimelineOfFailedTest(t *testing.T) {
	ft := &failingT{}
	t.Run("client", func(t *testing.T) {
		ft.TB = t
		hs := mock.Start(ft, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
		at := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONE"}).str(t, "access_token")
		call(t, hs, "GET", whoami, at, nil).wantStatus(t, 200)
	})
	if len(ft.logs) != 1 {
		t.Fatalf("logs %q, want one line naming the timeline", ft.logs)
	}
	path := ft.logs[0][strings.LastIndex(ft.logs[0], " ")+1:]
	t.Cleanup(func() {
		_ = os.RemoveAll(strings.TrimSuffix(path, "/TestStartWritesTimelineOfFailedTest_client.timeline.html"))
	})
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%q: %v", ft.logs[0], err)
	}
	for _, want := range []string{"<svg", ">PHONE</text>", "getTokenOwner"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
}
