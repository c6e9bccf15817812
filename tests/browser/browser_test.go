// Package browser_test drives the mock's HTML pages (the OAuth 2.0
// sign-in page, the account management page, the device verification
// page) with a real headless Chromium over the DevTools protocol, as a
// user would: the tests type into the forms and click their buttons, so
// cookies, CSRF tokens, SameSite rules, redirects and the pages'
// Content-Security-Policy are the browser's business, not the test's.
//
// The tests skip when no Chromium is found; $MXAUTH_CHROME names one.
package browser_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxauth/mxauth/mock"
)

// testTimeout bounds each test; the first one's includes starting the
// browser.
const testTimeout = 60 * time.Second

// The fixture user.
const (
	alice         = "alice"
	alicePassword = "wonderland"
	aliceID       = "@alice:localhost"
)

// shared is the browser the tests share. Starting Chromium takes seconds
// on a busy machine; a tab in a browser context of its own (its own
// cookies, like a fresh profile) takes milliseconds.
var shared struct {
	once sync.Once
	ctx  context.Context // the browser's first tab
	stop func()
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

// findChromium returns the browser to run: $MXAUTH_CHROME, or the first of
// the usual names on $PATH. It skips the test when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("MXAUTH_CHROME"); path != "" {
		found, err := exec.LookPath(path)
		if err != nil {
			t.Fatalf("MXAUTH_CHROME=%s: %v", path, err)
		}
		return found
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	t.Skip("Chromium not found: install Debian's chromium package to run the browser tests (or set MXAUTH_CHROME)")
	return ""
}

// startBrowser starts a headless Chromium with a temporary profile, within
// testTimeout, and returns the context of its first tab and the func that
// stops it and removes the profile.
func startBrowser(path string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "mxauth-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root, where the sandbox refuses to start
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop := func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		_ = os.RemoveAll(dir)
	}
	// The browser lives as long as the context of its first Run, so that
	// one has no deadline; the wait for it has.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err = <-started:
	case <-time.After(testTimeout):
		err = fmt.Errorf("no answer after %v", testTimeout)
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	}
	return browserCtx, stop, nil
}

// newTab opens a tab with empty cookies in the shared browser, started on
// first use, and returns the context that drives it. Everything done with
// the context ends after testTimeout; the tab closes when the test ends.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	shared.once.Do(func() { shared.ctx, shared.stop, shared.err = startBrowser(path) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	tab, cancelTab := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(tab, testTimeout)
	t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// do runs browser steps, failing the test with what step names.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// heading waits until the page's h1 reads text.
func heading(text string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="` + text + `"]`))
}

// fill types value into the form field called name.
func fill(name, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(`input[name="`+name+`"]`), value)
}

// press clicks the form's submit button with this value.
func press(value string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`button[name="action"][value="` + value + `"]`))
}

// callJSON sends a request with an optional JSON body and token to the
// mock, and decodes the JSON answer.
func callJSON(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// postForm sends a form to the mock and decodes the JSON answer.
func postForm(t *testing.T, u string, values url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(t, req)
}

// send sends a request and decodes the JSON answer.
func send(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s %s: %d %s: not JSON: %v", req.Method, req.URL.Path, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, body
}

// str returns a string field of a JSON answer, failing the test if missing.
func str(t *testing.T, body map[string]any, key string) string {
	t.Helper()
	s, ok := body[key].(string)
	if !ok || s == "" {
		t.Fatalf("answer %v has no string %q", body, key)
	}
	return s
}

// callback is a native client's loopback redirect target: it records the
// query of the first request it receives.
type callback struct {
	srv *httptest.Server
	got chan url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	c := &callback{got: make(chan url.Values, 1)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case c.got <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Signed in</title><h1>You can close this window</h1>")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// uri is the redirect URI to authorize with: http://127.0.0.1:<port>/callback.
func (c *callback) uri() string { return c.srv.URL + "/callback" }

// wait returns the query the redirect brought, or fails when ctx ends first.
func (c *callback) wait(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	select {
	case q := <-c.got:
		return q
	case <-ctx.Done():
		t.Fatalf("the browser never reached the redirect URI: %v", ctx.Err())
		return nil
	}
}

// registerClient registers a native public client with the redirect URI.
func registerClient(t *testing.T, hs *mock.Server, redirectURI string) string {
	t.Helper()
	status, body := callJSON(t, "POST", hs.URL+"/oauth2/registration", "", map[string]any{
		"client_name": "Browser test", "client_uri": "https://client.example.org/",
		"application_type": "native", "redirect_uris": []string{redirectURI},
		"grant_types":    []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		"response_types": []string{"code"}, "token_endpoint_auth_method": "none",
	})
	if status != http.StatusCreated {
		t.Fatalf("registration: %d %v", status, body)
	}
	return str(t, body, "client_id")
}

// random returns n random bytes in base64url.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signInWithBrowser runs the authorization code grant with PKCE as a
// native client does: the user signs in on the mock's page in the browser,
// the browser lands on the client's loopback redirect URI, and the client
// exchanges the code. It returns the access token for device.
func signInWithBrowser(t *testing.T, ctx context.Context, hs *mock.Server, device string) string {
	t.Helper()
	cb := newCallback(t)
	client := registerClient(t, hs, "http://127.0.0.1/callback") // any port when authorizing (RFC 8252 §7.3)
	verifier, state := random(32), random(16)
	sum := sha256.Sum256([]byte(verifier))
	authURL := hs.URL + "/oauth2/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {cb.uri()},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:" + device},
		"state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()

	do(t, ctx, "sign in on the authorization page",
		chromedp.Navigate(authURL),
		heading("Sign in"),
		fill("username", alice),
		fill("password", alicePassword),
		press("approve"),
	)
	q := cb.wait(t, ctx)
	if q.Get("state") != state || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect parameters %v, want a code and state %s", q, state)
	}

	status, tokens := postForm(t, hs.URL+"/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {cb.uri()},
		"client_id": {client}, "code_verifier": {verifier},
	})
	if status != http.StatusOK || tokens["token_type"] != "Bearer" {
		t.Fatalf("code exchange: %d %v", status, tokens)
	}
	token := str(t, tokens, "access_token")
	wantWhoami(t, hs, token, device)
	return token
}

// wantWhoami checks that token is alice's on device.
func wantWhoami(t *testing.T, hs *mock.Server, token, device string) {
	t.Helper()
	status, who := callJSON(t, "GET", hs.URL+"/_matrix/client/v3/account/whoami", token, nil)
	if status != http.StatusOK || who["user_id"] != aliceID || who["device_id"] != device {
		t.Fatalf("whoami: %d %v, want %s on %s", status, who, aliceID, device)
	}
}

// TestAuthorizationCodeSignIn: the user signs in on the authorization page
// in Chromium; the browser follows the redirect to the client's loopback
// URI with the code and state; the code and PKCE verifier give a token for
// alice on the requested device.
func TestAuthorizationCodeSignIn(t *testing.T) {
	ctx := newTab(t)
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser(alice, alicePassword))
	signInWithBrowser(t, ctx, hs, "BROWSERDEV")
}

// TestAccountPageDeletesDevice: a client sends the user to the account
// page to sign a device out (MSC4191 org.matrix.device_delete). In
// Chromium the user signs in on the page, which goes on to the action,
// confirms with the password, and the device is gone: another session no
// longer lists it, and its token is refused for good (soft_logout false).
func TestAccountPageDeletesDevice(t *testing.T) {
	ctx := newTab(t)
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser(alice, alicePassword))
	const device = "BROWSERDEV"
	token := signInWithBrowser(t, ctx, hs, device)

	do(t, ctx, "sign in on the account page",
		chromedp.Navigate(hs.URL+"/account/?"+url.Values{"action": {"org.matrix.device_delete"}, "device_id": {device}}.Encode()),
		heading("Sign in to manage your account"),
		fill("username", alice),
		fill("password", alicePassword),
		press("signin"),
	)
	do(t, ctx, "confirm with the password",
		heading("Sign out device "+device),
		fill("password", alicePassword),
		press("delete"),
		heading("Device signed out"),
	)

	status, other := callJSON(t, "POST", hs.URL+"/_matrix/client/v3/login", "", map[string]any{
		"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": alice}, "password": alicePassword,
	})
	if status != http.StatusOK {
		t.Fatalf("legacy login: %d %v", status, other)
	}
	status, list := callJSON(t, "GET", hs.URL+"/_matrix/client/v3/devices", str(t, other, "access_token"), nil)
	if status != http.StatusOK {
		t.Fatalf("GET /devices: %d %v", status, list)
	}
	var ids []string
	for _, d := range list["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["device_id"].(string))
	}
	if slices.Contains(ids, device) || !slices.Contains(ids, str(t, other, "device_id")) {
		t.Fatalf("devices after the deletion: %v", ids)
	}
	status, gone := callJSON(t, "GET", hs.URL+"/_matrix/client/v3/account/whoami", token, nil)
	if status != http.StatusUnauthorized || gone["errcode"] != "M_UNKNOWN_TOKEN" || gone["soft_logout"] != false {
		t.Fatalf("the deleted device's token: %d %v, want 401 M_UNKNOWN_TOKEN with soft_logout false", status, gone)
	}
}

// TestDeviceVerificationPage: a device without a browser starts the device
// authorization grant (RFC 8628); the user opens verification_uri_complete
// in Chromium, finds the code filled in, signs in, sees which client asks
// and allows; the device's next poll gets a token for alice on it.
func TestDeviceVerificationPage(t *testing.T) {
	ctx := newTab(t)
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser(alice, alicePassword))
	client := registerClient(t, hs, "http://127.0.0.1/callback")
	const device = "TVDEVICE01"
	status, grant := postForm(t, hs.URL+"/oauth2/device_authorization", url.Values{
		"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:" + device},
	})
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, grant)
	}
	poll := func() (int, map[string]any) {
		return postForm(t, hs.URL+"/oauth2/token", url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {str(t, grant, "device_code")}, "client_id": {client},
		})
	}
	if status, body := poll(); status != http.StatusBadRequest || body["error"] != "authorization_pending" {
		t.Fatalf("poll before approval: %d %v", status, body)
	}

	do(t, ctx, "approve on the verification page",
		chromedp.Navigate(str(t, grant, "verification_uri_complete")),
		heading("Connect a device"),
	)
	code, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[name="user_code"]`)))
	if err != nil || code != str(t, grant, "user_code") {
		t.Fatalf("the code field holds %q (%v), want %s", code, err, grant["user_code"])
	}
	do(t, ctx, "sign in, see the client and allow",
		fill("username", alice),
		fill("password", alicePassword),
		press("continue"),
		heading("Allow Browser test?"),
		press("approve"),
		heading("Device connected"),
	)

	status, tokens := poll()
	if status != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", status, tokens)
	}
	wantWhoami(t, hs, str(t, tokens, "access_token"), device)
}
