package mock_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const (
	verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk" // a PKCE code verifier
	challenge = "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g" // and its S256 challenge
	loopback  = "http://127.0.0.1/callback"
)

func TestPKCEPair(t *testing.T) {
	sum := sha256.Sum256([]byte(verifier))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
		t.Fatal("the test's PKCE pair does not match")
	}
}

// register registers a native client with a loopback redirect URI and
// returns its client_id.
func register(t *testing.T, hs *mock.Server, extra map[string]any) string {
	t.Helper()
	md := map[string]any{
		"client_name": "Test client", "client_uri": "https://client.example.org/",
		"application_type": "native", "redirect_uris": []string{loopback},
		"grant_types":    []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		"response_types": []string{"code"}, "token_endpoint_auth_method": "none",
	}
	for k, v := range extra {
		md[k] = v
	}
	a := call(t, hs, "POST", "/oauth2/registration", "", md)
	a.wantStatus(t, 201)
	return a.str(t, "client_id")
}

// authorizeQuery is a valid authorization request for the client.
func authorizeQuery(clientID, redirect, device string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:" + device},
		"state": {"st4te"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

// follow sends GET url without following redirects.
func follow(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// redirected checks a 302 to the redirect URI and returns its parameters.
func redirected(t *testing.T, resp *http.Response, to string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("got %d, want a redirect: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), to) {
		t.Fatalf("redirect to %q, want %s", resp.Header.Get("Location"), to)
	}
	if loc.Fragment != "" {
		q, _ := url.ParseQuery(loc.Fragment)
		return q
	}
	return loc.Query()
}

// form posts a form and decodes the JSON answer.
func form(t *testing.T, hs *mock.Server, path string, values url.Values) answer {
	t.Helper()
	resp, err := http.PostForm(hs.URL+path, values)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a, err := decodeAnswer(resp)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantOAuthError checks an RFC 6749 error answer.
func (a answer) wantOAuthError(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status || a.body["error"] != code {
		t.Fatalf("got %d %s, want %d error %s", a.status, a.raw, status, code)
	}
}

// codeFor runs an auto-approved authorization and returns the code.
func codeFor(t *testing.T, hs *mock.Server, clientID, device string) string {
	t.Helper()
	q := redirected(t, follow(t, hs.URL+"/oauth2/authorize?"+authorizeQuery(clientID, loopback, device).Encode()), loopback)
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("redirect parameters %v", q)
	}
	return q.Get("code")
}

func exchange(t *testing.T, hs *mock.Server, clientID, code string) answer {
	t.Helper()
	return form(t, hs, "/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {loopback},
		"client_id": {clientID}, "code_verifier": {verifier},
	})
}

func TestOAuthMetadata(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	for _, path := range []string{"/_matrix/client/v1/auth_metadata", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"} {
		a := call(t, hs, "GET", path, "", nil)
		a.wantStatus(t, 200)
		if a.body["issuer"] != hs.URL+"/" || a.body["token_endpoint"] != hs.URL+"/oauth2/token" ||
			a.body["account_management_uri"] != hs.URL+"/account/" ||
			!strings.Contains(a.raw, `"code_challenge_methods_supported":["S256"]`) ||
			!strings.Contains(a.raw, `"org.matrix.device_delete"`) {
			t.Fatalf("%s: %s", path, a.raw)
		}
		if _, ok := a.body["org.matrix.msc4191.account_management_uri"]; ok {
			t.Fatalf("unstable fields by default: %s", a.raw)
		}
	}
	if n := hs.Journal().Count(journal.Filter{Operation: "getAuthMetadata", Status: 200}); n != 2 {
		t.Fatalf("journal counts %d metadata requests", n)
	}
}

func TestOAuthRegistration(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	register(t, hs, nil)
	register(t, hs, map[string]any{"application_type": "web", "redirect_uris": []string{"https://app.client.example.org/cb"},
		"logo_uri": "https://client.example.org/logo.png", "tos_uri#fr": "https://client.example.org/cgu"})
	register(t, hs, map[string]any{"redirect_uris": []string{"org.example.client:/callback", "http://[::1]/cb"}})
	tests := []struct {
		name  string
		extra map[string]any
		code  string
	}{
		{"no client_uri", map[string]any{"client_uri": nil}, "invalid_client_metadata"},
		{"http client_uri", map[string]any{"client_uri": "http://client.example.org/"}, "invalid_client_metadata"},
		{"client secret", map[string]any{"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"},
		{"implicit grant", map[string]any{"grant_types": []string{"implicit"}}, "invalid_client_metadata"},
		{"token response", map[string]any{"response_types": []string{"token"}}, "invalid_client_metadata"},
		{"bad application type", map[string]any{"application_type": "desktop"}, "invalid_client_metadata"},
		{"logo elsewhere", map[string]any{"logo_uri": "https://evil.example.com/logo.png"}, "invalid_client_metadata"},
		{"localized policy elsewhere", map[string]any{"policy_uri#de": "https://evil.example.com/"}, "invalid_client_metadata"},
		{"no redirect URIs", map[string]any{"redirect_uris": nil}, "invalid_redirect_uri"},
		{"native on a LAN address", map[string]any{"redirect_uris": []string{"http://192.168.1.2/cb"}}, "invalid_redirect_uri"},
		{"wrong private scheme", map[string]any{"redirect_uris": []string{"com.evil:/cb"}}, "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb#x"}}, "invalid_redirect_uri"},
		{"web on http", map[string]any{"application_type": "web", "redirect_uris": []string{"http://client.example.org/cb"}}, "invalid_redirect_uri"},
		{"web elsewhere", map[string]any{"application_type": "web", "redirect_uris": []string{"https://evil.example.com/cb"}}, "invalid_redirect_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := map[string]any{
				"client_uri": "https://client.example.org/", "application_type": "native", "redirect_uris": []string{loopback},
			}
			for k, v := range tt.extra {
				if v == nil {
					delete(md, k)
				} else {
					md[k] = v
				}
			}
			call(t, hs, "POST", "/oauth2/registration", "", md).wantOAuthError(t, 400, tt.code)
		})
	}
}

func TestOAuthAutoApprovedLogin(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"), mock.WithVirtualClock(epoch))
	client := register(t, hs, nil)
	tokens := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEAAAA"))
	tokens.wantStatus(t, 200)
	if tokens.body["token_type"] != "Bearer" || tokens.body["expires_in"] != 300.0 || tokens.header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(tokens.body["scope"].(string), "urn:matrix:client:device:DEVICEAAAA") {
		t.Fatalf("token answer %s %v", tokens.raw, tokens.header)
	}
	at, rt := tokens.str(t, "access_token"), tokens.str(t, "refresh_token")
	w := call(t, hs, "GET", whoami, at, nil)
	if w.body["user_id"] != "@alice:localhost" || w.body["device_id"] != "DEVICEAAAA" {
		t.Fatalf("whoami %s", w.raw)
	}
	// Tokens expire as legacy ones do, and refresh at the token endpoint.
	hs.Clock().Advance(5 * time.Minute)
	wantUnknownToken(t, call(t, hs, "GET", whoami, at, nil), true)
	r := form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
	r.wantStatus(t, 200)
	call(t, hs, "GET", whoami, r.str(t, "access_token"), nil).wantStatus(t, 200)
	form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {client}}).wantOAuthError(t, 400, "invalid_grant")
	// Only the client the session was granted to may refresh it, and a
	// legacy session's refresh token is no OAuth grant.
	other := register(t, hs, nil)
	form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str(t, "refresh_token")}, "client_id": {other}}).wantOAuthError(t, 400, "invalid_grant")
	if _, err := hs.AddUser("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	legacy := login(t, hs, "bob", "pw", map[string]any{"refresh_token": true})
	form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {legacy.str(t, "refresh_token")}, "client_id": {client}}).wantOAuthError(t, 400, "invalid_grant")
	refresh(t, hs, legacy.str(t, "refresh_token")).wantStatus(t, 200) // the refused attempt changed nothing

	// The legacy UIA device endpoints refuse an OAuth session.
	call(t, hs, "DELETE", "/_matrix/client/v3/devices/DEVICEAAAA", r.str(t, "access_token"), nil).wantError(t, 403, "M_FORBIDDEN")

	// Revoking the refresh token ends the session.
	rev := form(t, hs, "/oauth2/revoke", url.Values{"token": {r.str(t, "refresh_token")}, "client_id": {client}})
	rev.wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, r.str(t, "access_token"), nil), false)
	form(t, hs, "/oauth2/revoke", url.Values{"token": {"unknown"}, "client_id": {client}}).wantStatus(t, 200)
	form(t, hs, "/oauth2/revoke", url.Values{}).wantOAuthError(t, 400, "invalid_request")
}

func TestOAuthAuthorizationErrors(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	client := register(t, hs, nil)
	base := hs.URL + "/oauth2/authorize?"
	page := func(q url.Values) {
		t.Helper()
		resp := follow(t, base+q.Encode())
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.Header.Get("Location") != "" {
			t.Fatalf("got %d %s %s, want an error page", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	errorBack := func(q url.Values, code string) {
		t.Helper()
		got := redirected(t, follow(t, base+q.Encode()), loopback)
		if got.Get("error") != code || got.Get("state") != "st4te" || got.Get("code") != "" {
			t.Fatalf("redirect %v, want error %s", got, code)
		}
	}
	q := authorizeQuery("unknown", loopback, "DEVICEAAAA")
	page(q)
	q = authorizeQuery(client, "http://127.0.0.1/other", "DEVICEAAAA")
	page(q)
	q = authorizeQuery(client, "http://127.0.0.2/callback", "DEVICEAAAA")
	page(q)
	q = authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Set("scope", "openid")
	errorBack(q, "invalid_scope")
	q = authorizeQuery(client, loopback, "short")
	errorBack(q, "invalid_scope")
	q = authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Set("code_challenge_method", "plain")
	errorBack(q, "invalid_request")
	q = authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Del("code_challenge")
	errorBack(q, "invalid_request")
	q = authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Set("response_type", "token")
	errorBack(q, "unsupported_response_type")

	// A native client's loopback redirect may use any port, and the
	// fragment response mode puts the answer in the fragment.
	q = authorizeQuery(client, "http://127.0.0.1:49152/callback", "DEVICEAAAA")
	q.Set("response_mode", "fragment")
	resp := follow(t, base+q.Encode())
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "http://127.0.0.1:49152/callback#") || !strings.Contains(loc, "code=") {
		t.Fatalf("fragment redirect %q", loc)
	}
}

func TestOAuthCodeExchangeErrors(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"), mock.WithVirtualClock(epoch))
	client := register(t, hs, nil)
	other := register(t, hs, nil)
	tokenWith := func(edit func(url.Values)) answer {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, hs, client, "DEVICEBBBB")},
			"redirect_uri": {loopback}, "client_id": {client}, "code_verifier": {verifier}}
		edit(v)
		return form(t, hs, "/oauth2/token", v)
	}
	tokenWith(func(v url.Values) { v.Set("code_verifier", strings.Repeat("a", 43)) }).wantOAuthError(t, 400, "invalid_grant")
	tokenWith(func(v url.Values) { v.Set("code_verifier", "short") }).wantOAuthError(t, 400, "invalid_grant")
	tokenWith(func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:8080/callback") }).wantOAuthError(t, 400, "invalid_grant")
	tokenWith(func(v url.Values) { v.Set("client_id", other) }).wantOAuthError(t, 400, "invalid_grant")
	tokenWith(func(v url.Values) { v.Set("client_id", "unknown") }).wantOAuthError(t, 401, "invalid_client")
	tokenWith(func(v url.Values) { v.Del("client_id") }).wantOAuthError(t, 400, "invalid_request")
	tokenWith(func(v url.Values) { v.Set("code", "unknown") }).wantOAuthError(t, 400, "invalid_grant")
	tokenWith(func(v url.Values) { v.Set("grant_type", "password") }).wantOAuthError(t, 400, "unsupported_grant_type")
	tokenWith(func(v url.Values) { v.Del("code_verifier") }).wantOAuthError(t, 400, "invalid_request")

	// An expired code.
	code := codeFor(t, hs, client, "DEVICEBBBB")
	hs.Clock().Advance(2*time.Minute + time.Second)
	exchange(t, hs, client, code).wantOAuthError(t, 400, "invalid_grant")

	// A code used twice: the second use fails and ends what the first gave.
	code = codeFor(t, hs, client, "DEVICECCCC")
	first := exchange(t, hs, client, code)
	first.wantStatus(t, 200)
	exchange(t, hs, client, code).wantOAuthError(t, 400, "invalid_grant")
	wantUnknownToken(t, call(t, hs, "GET", whoami, first.str(t, "access_token"), nil), false)
}

func TestOAuthDeviceGrant(t *testing.T) {
	t.Run("auto-approved", func(t *testing.T) {
		hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
		client := register(t, hs, nil)
		d := form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
		d.wantStatus(t, 200)
		if d.body["verification_uri"] != hs.URL+"/oauth2/device" || d.body["interval"] != 5.0 || d.body["expires_in"] != 600.0 {
			t.Fatalf("device authorization %s", d.raw)
		}
		tok := form(t, hs, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}})
		tok.wantStatus(t, 200)
		if w := call(t, hs, "GET", whoami, tok.str(t, "access_token"), nil); w.body["device_id"] != "TVDEVICE01" {
			t.Fatalf("whoami %s", w.raw)
		}
	})
	t.Run("user approves on the page", func(t *testing.T) {
		hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
		client := register(t, hs, nil)
		d := form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
		poll := func() answer {
			return form(t, hs, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}})
		}
		poll().wantOAuthError(t, 400, "authorization_pending")
		poll().wantOAuthError(t, 400, "slow_down")
		hs.Clock().Advance(10 * time.Second)
		poll().wantOAuthError(t, 400, "authorization_pending")

		confirm := verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"pw"}})
		confirmDevice(t, hs, confirm, "approve").wantPage(t, 200, "Device connected")
		hs.Clock().Advance(15 * time.Second)
		poll().wantStatus(t, 200)
		poll().wantOAuthError(t, 400, "invalid_grant") // used up
	})
	t.Run("expired", func(t *testing.T) {
		hs := mock.Start(t, mock.WithOAuth(), mock.WithVirtualClock(epoch))
		client := register(t, hs, nil)
		d := form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
		hs.Clock().Advance(11 * time.Minute)
		form(t, hs, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}}).wantOAuthError(t, 400, "expired_token")
	})
}

// pageForm loads an HTML form and returns its CSRF token and cookie.
func pageForm(t *testing.T, u string) (string, *http.Cookie) {
	t.Helper()
	resp := follow(t, u)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("form page %d: %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if resp.Header.Get(k) != v {
			t.Fatalf("header %s = %q", k, resp.Header.Get(k))
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	_, rest, ok := strings.Cut(string(body), `name="csrf" value="`)
	token, _, _ := strings.Cut(rest, `"`)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "mxauth_csrf" {
			cookie = c
		}
	}
	if !ok || token == "" || cookie == nil || cookie.Value == "" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("no CSRF token and cookie in the form: %+v", cookie)
	}
	return token, cookie
}

// postPage submits a form with cookies (nil ones are left out), without
// following redirects.
func postPage(t *testing.T, u string, values url.Values, cookies ...*http.Cookie) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a, err := decodeAnswer(resp)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOAuthSignInPage(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	client := register(t, hs, map[string]any{"client_name": `<script>alert("x")</script>`})
	q := authorizeQuery(client, loopback, "DEVICEDDDD")
	q.Set("login_hint", "mxid:@alice:localhost")
	u := hs.URL + "/oauth2/authorize?" + q.Encode()
	csrf, cookie := pageForm(t, u)
	page := follow(t, u)
	body, _ := io.ReadAll(page.Body)
	if strings.Contains(string(body), "<script>") || !strings.Contains(string(body), "&lt;script&gt;") || !strings.Contains(string(body), `value="@alice:localhost"`) {
		t.Fatalf("the page does not escape the client name or prefill the hint:\n%s", body)
	}
	submit := func(action, user, password string, c *http.Cookie, token string) answer {
		v := url.Values{"csrf": {token}, "action": {action}, "username": {user}, "password": {password}}
		for k := range q {
			v.Set(k, q.Get(k))
		}
		return postPage(t, hs.URL+"/oauth2/authorize", v, c)
	}
	if a := submit("approve", "alice", "pw", nil, csrf); a.status != 403 {
		t.Fatalf("no CSRF cookie: %d", a.status)
	}
	if a := submit("approve", "alice", "pw", cookie, "forged"); a.status != 403 {
		t.Fatalf("wrong CSRF token: %d", a.status)
	}
	if a := submit("approve", "alice", "wrong", cookie, csrf); a.status != 200 || !strings.Contains(a.raw, "Wrong username or password") {
		t.Fatalf("wrong password: %d %s", a.status, a.raw)
	}
	a := submit("approve", "alice", "pw", cookie, csrf)
	if a.status != 302 || !strings.HasPrefix(a.header.Get("Location"), loopback+"?code=") {
		t.Fatalf("approve: %d %v", a.status, a.header)
	}
	a = submit("deny", "", "", cookie, csrf)
	if loc := a.header.Get("Location"); !strings.Contains(loc, "error=access_denied") || !strings.Contains(loc, "state=st4te") {
		t.Fatalf("deny: %q", loc)
	}
	q.Set("prompt", "create")
	a = submit("create", "carol", "secret", cookie, csrf)
	if a.status != 302 || !strings.Contains(a.header.Get("Location"), "code=") {
		t.Fatalf("sign-up: %d %s", a.status, a.raw)
	}
	login(t, hs, "carol", "secret", nil)
}

func TestOAuthOffAndLegacyOff(t *testing.T) {
	off := mock.Start(t)
	call(t, off, "POST", "/oauth2/registration", "", map[string]any{}).wantError(t, 404, "M_UNRECOGNIZED")
	call(t, off, "GET", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", "", nil).wantError(t, 404, "M_UNRECOGNIZED")

	hs := mock.Start(t, mock.WithOAuth(), mock.WithoutLegacyAuth(), mock.WithUser("alice", "pw"))
	call(t, hs, "GET", "/_matrix/client/v3/login", "", nil).wantError(t, 404, "M_UNRECOGNIZED")
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, 404, "M_UNRECOGNIZED")
	call(t, hs, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "bob", "password": "pw"}).wantError(t, 404, "M_UNRECOGNIZED")
	call(t, hs, "POST", "/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": "x"}).wantError(t, 404, "M_UNRECOGNIZED")
}

func TestOAuthScenarioNames(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("msc.yaml", []byte(`
server: {auth: [oauth, legacy]}
oauth: {metadata_names: both, action_names: msc, auto_approve: dave}
`)))
	a := call(t, hs, "GET", "/_matrix/client/v1/auth_metadata", "", nil)
	for _, want := range []string{
		`"account_management_uri":"` + hs.URL + `/account/"`,
		`"org.matrix.msc4191.account_management_uri":"` + hs.URL + `/account/"`,
		`"org.matrix.session_end"`, `"org.matrix.sessions_list"`, `"org.matrix.profile"`,
	} {
		if !strings.Contains(a.raw, want) {
			t.Errorf("metadata lacks %s: %s", want, a.raw)
		}
	}
	if strings.Contains(a.raw, "org.matrix.device_delete") {
		t.Errorf("stable action names with action_names: msc: %s", a.raw)
	}
	// The auto-approved user is created on first use.
	client := register(t, hs, nil)
	tok := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEEEEE"))
	if w := call(t, hs, "GET", whoami, tok.str(t, "access_token"), nil); w.body["user_id"] != "@dave:localhost" {
		t.Fatalf("whoami %s", w.raw)
	}
}
