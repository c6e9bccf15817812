package mock_test

// Tests for the findings of the OAuth 2.0 server's security audit (issue
// 15): each failed before its fix.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/mock/scenario"
)

// registration posts client metadata: a native client of
// https://client.example.org/ with the given redirect URIs, changed by
// extra (a nil value removes a field).
func registration(t *testing.T, hs *mock.Server, redirects []string, extra map[string]any) answer {
	t.Helper()
	md := map[string]any{
		"client_uri": "https://client.example.org/", "application_type": "native", "redirect_uris": redirects,
		"grant_types": []string{"authorization_code", "refresh_token"},
	}
	for k, v := range extra {
		if v == nil {
			delete(md, k)
		} else {
			md[k] = v
		}
	}
	return call(t, hs, "POST", "/oauth2/registration", "", md)
}

// Finding 3: redirect URIs at registration follow the Matrix spec and
// RFC 8252: no userinfo, private-use schemes without an authority, loopback
// only on localhost, 127.0.0.1 or [::1] and without a port.
func TestOAuthRedirectURIRegistration(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	web := map[string]any{"application_type": "web"}
	tests := []struct {
		name     string
		uri      string
		extra    map[string]any
		accepted bool
	}{
		{"loopback IPv4", "http://127.0.0.1/cb", nil, true},
		{"loopback IPv6", "http://[::1]/cb", nil, true},
		{"loopback localhost", "http://localhost/cb", nil, true},
		{"private-use scheme", "org.example.client:/cb", nil, true},
		{"private-use scheme of a subdomain", "org.example.client.app:/cb", nil, true},
		{"native https on the site", "https://client.example.org/cb", nil, true},
		{"web on the site", "https://web.client.example.org/cb", web, true},
		{"web with a query", "https://client.example.org/cb?b=2&a=1", web, true},

		{"web with userinfo", "https://evil.com@web.client.example.org/cb", web, false},
		{"loopback with userinfo", "http://user:pw@127.0.0.1/cb", nil, false},
		{"native https with userinfo", "https://evil.com@client.example.org/cb", nil, false},
		{"private-use scheme with an authority", "org.example.client://evil.com/cb", nil, false},
		{"private-use scheme with an empty authority", "org.example.client:///cb", nil, false},
		{"loopback with a port", "http://127.0.0.1:8080/cb", nil, false},
		{"localhost with a port", "http://localhost:8080/cb", nil, false},
		{"other loopback address", "http://127.0.0.2/cb", nil, false},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/cb", nil, false},
		{"loopback in another spelling", "http://127.1/cb", nil, false},
		{"localhost subdomain", "http://app.localhost/cb", nil, false},
		{"javascript", "javascript:alert(1)", nil, false},
		{"data", "data:text/html,<script>alert(1)</script>", nil, false},
		{"private-use scheme of another site", "com.evil:/cb", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := registration(t, hs, []string{tt.uri}, tt.extra)
			if tt.accepted {
				a.wantStatus(t, http.StatusCreated)
			} else {
				a.wantOAuthError(t, http.StatusBadRequest, "invalid_redirect_uri")
			}
		})
	}
}

// Finding 3, at authorization: a loopback redirect URI registered without
// a port matches any port on the same host name, and nothing else.
func TestOAuthLoopbackRedirectAtAuthorization(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	a := registration(t, hs, []string{"http://localhost/cb", "http://127.0.0.1/cb"}, nil)
	a.wantStatus(t, http.StatusCreated)
	client := a.str(t, "client_id")
	for _, tt := range []struct {
		uri string
		ok  bool
	}{
		{"http://localhost/cb", true},
		{"http://localhost:53682/cb", true},
		{"http://127.0.0.1:1/cb", true},
		{"http://[::1]:1/cb", false}, // not registered
		{"http://[::ffff:127.0.0.1]:1/cb", false},
		{"http://127.0.0.2:1/cb", false},
		{"http://user@127.0.0.1:1/cb", false},
		{"https://localhost:1/cb", false},
	} {
		resp := follow(t, hs.URL+"/oauth2/authorize?"+authorizeQuery(client, tt.uri, "DEVICEAAAA").Encode())
		if got := resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), tt.uri+"?"); got != tt.ok {
			t.Errorf("%s: got %d %q, want accepted=%v", tt.uri, resp.StatusCode, resp.Header.Get("Location"), tt.ok)
		}
	}
}

// Finding 10: the redirect keeps the registered URI's query as it was
// registered and appends the answer's parameters.
func TestOAuthRedirectKeepsRegisteredQuery(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	const registered = "https://client.example.org/cb?b=2&a=1&flag"
	a := registration(t, hs, []string{registered}, map[string]any{"application_type": "web"})
	a.wantStatus(t, http.StatusCreated)
	client := a.str(t, "client_id")
	for _, mode := range []string{"query", "fragment"} {
		q := authorizeQuery(client, registered, "DEVICEAAAA")
		q.Set("response_mode", mode)
		loc := follow(t, hs.URL+"/oauth2/authorize?"+q.Encode()).Header.Get("Location")
		sep := "&"
		if mode == "fragment" {
			sep = "#"
		}
		if !strings.HasPrefix(loc, registered+sep) || !strings.Contains(loc, "code=") || !strings.Contains(loc, "state=st4te") {
			t.Errorf("%s mode: redirect to %q, want %s%s…", mode, loc, registered, sep)
		}
	}
}

// Finding 13: code_challenge must be 43 base64url characters.
func TestOAuthCodeChallengeAlphabet(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	client := register(t, hs, nil)
	for _, bad := range []string{strings.Repeat("=", 43), strings.Repeat("a", 42) + "+", strings.Repeat("a", 42) + "/", strings.Repeat("é", 21) + "a"} {
		q := authorizeQuery(client, loopback, "DEVICEAAAA")
		q.Set("code_challenge", bad)
		if got := redirected(t, follow(t, hs.URL+"/oauth2/authorize?"+q.Encode()), loopback); got.Get("error") != "invalid_request" {
			t.Errorf("code_challenge %q: redirect %v, want invalid_request", bad, got)
		}
	}
}

// Finding 13: a client that did not register the refresh_token grant
// cannot refresh.
func TestOAuthRefreshNeedsTheGrant(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	client := register(t, hs, map[string]any{"grant_types": []string{"authorization_code"}})
	tokens := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEAAAA"))
	tokens.wantStatus(t, http.StatusOK)
	form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.str(t, "refresh_token")}, "client_id": {client}}).
		wantOAuthError(t, http.StatusBadRequest, "unauthorized_client")
	call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
}

// signInForm loads the sign-in page of an authorization request and
// returns a function that submits it.
func signInForm(t *testing.T, hs *mock.Server, q url.Values) func(values url.Values) answer {
	t.Helper()
	csrf, cookie := pageForm(t, hs.URL+"/oauth2/authorize?"+q.Encode())
	return func(values url.Values) answer {
		t.Helper()
		v := url.Values{"csrf": {csrf}}
		for k := range q {
			v.Set(k, q.Get(k))
		}
		for k := range values {
			v.Set(k, values.Get(k))
		}
		return postPage(t, hs.URL+"/oauth2/authorize", v, cookie)
	}
}

// Finding 8: sign-up needs a password and prompt=create.
func TestOAuthSignUpRules(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	client := register(t, hs, nil)
	q := authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Set("prompt", "create")
	a := signInForm(t, hs, q)(url.Values{"action": {"create"}, "username": {"carol"}, "password": {""}})
	if a.status != http.StatusOK || !strings.Contains(a.raw, "password") {
		t.Fatalf("sign-up without a password: %d %s", a.status, a.raw)
	}
	if _, err := hs.AddUser("carol", "pw"); err != nil {
		t.Fatalf("the refused sign-up took the name: %v", err)
	}

	q.Del("prompt")
	a = signInForm(t, hs, q)(url.Values{"action": {"create"}, "username": {"dave"}, "password": {"secret"}})
	if a.status == http.StatusFound {
		t.Fatalf("sign-up without prompt=create: %d %v", a.status, a.header)
	}
	if _, err := hs.AddUser("dave", "pw"); err != nil {
		t.Fatalf("sign-up without prompt=create made the account: %v", err)
	}
}

// Finding 4: a replayed authorization code revokes everything issued from
// it, also after refreshes.
func TestOAuthCodeReplayRevokesTheGrant(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"), mock.WithVirtualClock(epoch))
	client := register(t, hs, nil)
	code := codeFor(t, hs, client, "DEVICECCCC")
	first := exchange(t, hs, client, code)
	first.wantStatus(t, http.StatusOK)
	r := first
	for range 2 { // two refreshes: the first access token is gone
		r = form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str(t, "refresh_token")}, "client_id": {client}})
		r.wantStatus(t, http.StatusOK)
		call(t, hs, "GET", whoami, r.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
	}

	hs.Clock().Advance(time.Minute)
	exchange(t, hs, client, code).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
	wantUnknownToken(t, call(t, hs, "GET", whoami, r.str(t, "access_token"), nil), false)
	form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str(t, "refresh_token")}, "client_id": {client}}).
		wantOAuthError(t, http.StatusBadRequest, "invalid_grant")

	// A later sign-in on the same device is another grant: replaying the
	// old code again leaves it alone.
	again := exchange(t, hs, client, codeFor(t, hs, client, "DEVICECCCC"))
	again.wantStatus(t, http.StatusOK)
	exchange(t, hs, client, code).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
	call(t, hs, "GET", whoami, again.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
}

// Finding 5: the pages' CSRF token is bound to the server. A page on
// another loopback port (the same site for cookies) can plant a cookie of
// its choice, and its form posts say Sec-Fetch-Site: same-site.
func TestOAuthPagesCSRFBoundToServer(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	client := register(t, hs, nil)
	planted := &http.Cookie{Name: "mxauth_csrf", Value: "x"}
	d := form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
	d.wantStatus(t, http.StatusOK)
	q := authorizeQuery(client, loopback, "DEVICEAAAA")
	signIn := url.Values{"action": {"approve"}, "username": {"alice"}, "password": {"pw"}}
	for k := range q {
		signIn.Set(k, q.Get(k))
	}
	forms := []struct {
		name, path string
		values     url.Values
	}{
		{"sign-in (login CSRF)", "/oauth2/authorize", signIn},
		{"sign-up", "/oauth2/authorize", func() url.Values {
			v := url.Values{"action": {"create"}, "username": {"mallory"}, "password": {"pw"}, "prompt": {"create"}}
			for k := range q {
				v.Set(k, q.Get(k))
			}
			return v
		}()},
		{"device deny", "/oauth2/device", url.Values{"action": {"deny"}, "user_code": {d.str(t, "user_code")}}},
		{"account sign-in", "/account/", url.Values{"action": {"signin"}, "username": {"alice"}, "password": {"pw"}}},
	}
	for _, f := range forms {
		t.Run(f.name+": planted cookie", func(t *testing.T) {
			v := url.Values{"csrf": {"x"}}
			for k := range f.values {
				v.Set(k, f.values.Get(k))
			}
			if a := postPage(t, hs.URL+f.path, v, planted); a.status != http.StatusForbidden {
				t.Fatalf("a planted CSRF cookie was taken: %d %v %s", a.status, a.header.Get("Location"), a.raw)
			}
		})
		t.Run(f.name+": cross-origin post", func(t *testing.T) {
			csrf, cookie := pageForm(t, hs.URL+"/oauth2/authorize?"+q.Encode())
			v := url.Values{"csrf": {csrf}}
			for k := range f.values {
				v.Set(k, f.values.Get(k))
			}
			req, _ := http.NewRequest("POST", hs.URL+f.path, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-site")
			req.Header.Set("Origin", "http://127.0.0.1:1")
			req.AddCookie(cookie)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("a form posted from another origin was taken: %d %s", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	if _, err := hs.AddUser("mallory", "pw"); err != nil {
		t.Fatalf("a forged sign-up made the account: %v", err)
	}
	tok := form(t, hs, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}})
	tok.wantOAuthError(t, http.StatusBadRequest, "authorization_pending") // not access_denied
}

// deviceGrantFor starts a device authorization for the client.
func deviceGrantFor(t *testing.T, hs *mock.Server, client string) answer {
	t.Helper()
	d := form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
	d.wantStatus(t, http.StatusOK)
	return d
}

// pollDevice polls the token endpoint for a device grant.
func pollDevice(t *testing.T, hs *mock.Server, client string, d answer) answer {
	t.Helper()
	return form(t, hs, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {d.str(t, "device_code")}, "client_id": {client}})
}

// verifyPage posts the verification page's first form: a code and a
// password, with the form's own CSRF token.
func verifyPage(t *testing.T, hs *mock.Server, values url.Values) answer {
	t.Helper()
	csrf, cookie := pageForm(t, hs.URL+"/oauth2/device")
	values.Set("csrf", csrf)
	if values.Get("action") == "" {
		values.Set("action", "continue")
	}
	return postPage(t, hs.URL+"/oauth2/device", values, cookie)
}

// confirmDevice answers the confirmation page with approve or deny.
func confirmDevice(t *testing.T, hs *mock.Server, page answer, action string) answer {
	t.Helper()
	value := func(name string) string {
		_, rest, ok := strings.Cut(page.raw, `name="`+name+`" value="`)
		v, _, _ := strings.Cut(rest, `"`)
		if !ok || v == "" {
			t.Fatalf("no %s in the page %s", name, page.raw)
		}
		return v
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: page.header}).Cookies() {
		if c.Name == "mxauth_csrf" {
			cookie = c
		}
	}
	return postPage(t, hs.URL+"/oauth2/device", url.Values{"csrf": {value("csrf")}, "confirmation": {value("confirmation")}, "action": {action}}, cookie)
}

// Finding 7: the device verification page.
func TestOAuthDeviceVerificationPage(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	client := register(t, hs, map[string]any{"client_name": "Living-room TV",
		"grant_types": []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}})

	t.Run("deny needs sign-in", func(t *testing.T) {
		d := deviceGrantFor(t, hs, client)
		a := verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "action": {"deny"}})
		if a.status == http.StatusOK && strings.Contains(a.raw, "Denied") {
			t.Fatalf("denied without signing in: %s", a.raw)
		}
		a = verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "action": {"approve"}, "username": {"alice"}, "password": {"pw"}})
		if strings.Contains(a.raw, "Device connected") {
			t.Fatalf("approved without the confirmation page: %s", a.raw)
		}
		hs.Clock().Advance(10 * time.Second)
		pollDevice(t, hs, client, d).wantOAuthError(t, http.StatusBadRequest, "authorization_pending")
	})
	t.Run("the page says nothing of a code before sign-in", func(t *testing.T) {
		d := deviceGrantFor(t, hs, client)
		valid := verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"wrong"}})
		invalid := verifyPage(t, hs, url.Values{"user_code": {"BBBB-BBBB"}, "username": {"alice"}, "password": {"wrong"}})
		if !strings.Contains(valid.raw, "Wrong username or password") || !strings.Contains(invalid.raw, "Wrong username or password") || strings.Contains(valid.raw, "Living-room TV") {
			t.Fatalf("with a wrong password, a valid code gives %d %s\nand an invalid one %d %s", valid.status, valid.raw, invalid.status, invalid.raw)
		}
	})
	t.Run("the code without the dash, in lower case; the client is shown; deny", func(t *testing.T) {
		d := deviceGrantFor(t, hs, client)
		typed := strings.ToLower(strings.ReplaceAll(d.str(t, "user_code"), "-", ""))
		confirm := verifyPage(t, hs, url.Values{"user_code": {typed}, "username": {"alice"}, "password": {"pw"}})
		confirm.wantPage(t, http.StatusOK, "Living-room TV", "TVDEVICE01", "@alice:localhost", "https://client.example.org/")
		confirmDevice(t, hs, confirm, "deny").wantPage(t, http.StatusOK, "Denied")
		pollDevice(t, hs, client, d).wantOAuthError(t, http.StatusBadRequest, "access_denied")
	})
	t.Run("approve, once", func(t *testing.T) {
		d := deviceGrantFor(t, hs, client)
		confirm := verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"pw"}})
		confirmDevice(t, hs, confirm, "approve").wantPage(t, http.StatusOK, "Device connected")
		confirmDevice(t, hs, confirm, "deny").wantPage(t, http.StatusBadRequest, "expired or was used already")
		hs.Clock().Advance(10 * time.Second)
		pollDevice(t, hs, client, d).wantStatus(t, http.StatusOK)
	})
	t.Run("guessing codes is limited", func(t *testing.T) {
		hs.Clock().Advance(time.Hour)
		d := deviceGrantFor(t, hs, client)
		var a answer
		for i := 0; i < 100; i++ {
			a = verifyPage(t, hs, url.Values{"user_code": {"BBBB-" + strings.Repeat(string(rune('B'+i%20)), 4)}, "username": {"alice"}, "password": {"pw"}})
			if a.status == http.StatusTooManyRequests {
				break
			}
		}
		a.wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")
		// Now even the right code waits.
		verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"pw"}}).
			wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")
		hs.Clock().Advance(time.Minute)
		verifyPage(t, hs, url.Values{"user_code": {d.str(t, "user_code")}, "username": {"alice"}, "password": {"pw"}}).
			wantPage(t, http.StatusOK, "Living-room TV")
	})
}

// Finding 6, on the pages: wrong passwords are limited per user and per
// client address, across the sign-in, account and device pages.
func TestOAuthPagesPasswordLimits(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	client := register(t, hs, nil)
	submit := signInForm(t, hs, authorizeQuery(client, loopback, "DEVICEAAAA"))
	var a answer
	for i := 0; i < 300 && a.status != http.StatusTooManyRequests; i++ {
		a = submit(url.Values{"action": {"approve"}, "username": {"alice"}, "password": {"wrong"}})
	}
	a.wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")
	submit(url.Values{"action": {"approve"}, "username": {"alice"}, "password": {"pw"}}).wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")
	// The account page counts with the sign-in page.
	accountForm := getAccount(t, hs, "")
	accountForm.submit(t, hs, nil, url.Values{"action": {"signin"}, "username": {"alice"}, "password": {"pw"}}).wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")
	hs.Clock().Advance(time.Minute)
	if a := submit(url.Values{"action": {"approve"}, "username": {"alice"}, "password": {"pw"}}); a.status != http.StatusFound {
		t.Fatalf("after the window: %d %s", a.status, a.raw)
	}
}

// Finding 1: revocation checks that the token was issued to the client
// asking (RFC 7009 §2.1); public clients identify with client_id.
func TestOAuthRevokeChecksTheClient(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"), mock.WithUser("bob", "pw"))
	client, other := register(t, hs, nil), register(t, hs, nil)
	tokens := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEAAAA"))
	tokens.wantStatus(t, http.StatusOK)
	legacy := login(t, hs, "bob", "pw", nil).str(t, "access_token")
	for _, token := range []string{tokens.str(t, "access_token"), tokens.str(t, "refresh_token")} {
		form(t, hs, "/oauth2/revoke", url.Values{"token": {token}}).wantOAuthError(t, http.StatusBadRequest, "invalid_client")
		form(t, hs, "/oauth2/revoke", url.Values{"token": {token}, "client_id": {"unknown"}}).wantOAuthError(t, http.StatusBadRequest, "invalid_client")
		form(t, hs, "/oauth2/revoke", url.Values{"token": {token}, "client_id": {other}}).wantOAuthError(t, http.StatusBadRequest, "unauthorized_client")
	}
	form(t, hs, "/oauth2/revoke", url.Values{"token": {legacy}, "client_id": {client}}).wantOAuthError(t, http.StatusBadRequest, "unauthorized_client")
	call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
	call(t, hs, "GET", whoami, legacy, nil).wantStatus(t, http.StatusOK)

	form(t, hs, "/oauth2/revoke", url.Values{"token": {"unknown"}, "client_id": {client}}).wantStatus(t, http.StatusOK)
	form(t, hs, "/oauth2/revoke", url.Values{"token": {tokens.str(t, "access_token")}, "client_id": {client}}).wantStatus(t, http.StatusOK)
	wantUnknownToken(t, call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil), false)
}

// refreshAt refreshes at the token endpoint.
func refreshAt(t *testing.T, hs *mock.Server, client, token string) answer {
	t.Helper()
	return form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {client}})
}

// Finding 2: a refresh token used again revokes the session (Matrix spec,
// RFC 9700 §4.14.2), whether or not the pair its first use gave was used,
// and however many refreshes ago.
func TestOAuthRefreshReplayRevokes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		useNext bool // the client used the new pair before the replay
		later   int  // refreshes after the replayed one
	}{
		{"new pair unused", false, 0},
		{"new pair used", true, 0},
		{"two refreshes ago", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
			client := register(t, hs, nil)
			first := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEAAAA"))
			first.wantStatus(t, http.StatusOK)
			next := refreshAt(t, hs, client, first.str(t, "refresh_token"))
			next.wantStatus(t, http.StatusOK)
			for range tt.later {
				call(t, hs, "GET", whoami, next.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
				next = refreshAt(t, hs, client, next.str(t, "refresh_token"))
				next.wantStatus(t, http.StatusOK)
			}
			if tt.useNext {
				call(t, hs, "GET", whoami, next.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
			}
			refreshAt(t, hs, client, first.str(t, "refresh_token")).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
			wantUnknownToken(t, call(t, hs, "GET", whoami, next.str(t, "access_token"), nil), false)
			refreshAt(t, hs, client, next.str(t, "refresh_token")).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
		})
	}
}

// Finding 12: client registration is bounded: redirect URIs per client,
// their length, and clients per server.
func TestOAuthRegistrationBounds(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	uris := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("http://127.0.0.1/cb%d", i)
		}
		return out
	}
	registration(t, hs, uris(20), nil).wantStatus(t, http.StatusCreated)
	registration(t, hs, uris(21), nil).wantOAuthError(t, http.StatusBadRequest, "invalid_redirect_uri")
	registration(t, hs, uris(30000), nil).wantOAuthError(t, http.StatusRequestEntityTooLarge, "invalid_request") // over 64 KiB
	registration(t, hs, []string{"http://127.0.0.1/" + strings.Repeat("a", 3000)}, nil).wantOAuthError(t, http.StatusBadRequest, "invalid_redirect_uri")

	// The bulk goes through the handler in process; the last one over
	// loopback.
	body, _ := json.Marshal(map[string]any{"client_uri": "https://client.example.org/", "application_type": "native", "redirect_uris": []string{loopback}})
	created := 1
	for ; created < 20000; created++ {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/oauth2/registration", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		hs.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			break
		}
	}
	if created != 10000 {
		t.Fatalf("%d clients registered, want at most 10000", created)
	}
	registration(t, hs, []string{loopback}, nil).wantOAuthError(t, http.StatusBadRequest, "invalid_client_metadata")
}

// Finding 6, on the Matrix endpoints: POST /login and the UIA password
// stage count wrong passwords per user and per client address, with the
// pages, and answer 429 M_LIMIT_EXCEEDED with retry_after_ms over the
// limit.
func TestPasswordLimitsOnMatrixEndpoints(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"),
		mock.WithVirtualClock(epoch), mock.WithLimits(5, time.Minute))
	bob := login(t, hs, "bob", "pw", map[string]any{"device_id": "BOBPHONE"}).str(t, "access_token")
	for range 5 {
		call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "wrong", nil)).wantError(t, http.StatusForbidden, "M_FORBIDDEN")
	}
	a := call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil))
	a.wantError(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	if ms, _ := a.body["retry_after_ms"].(float64); ms <= 0 || ms > 60000 {
		t.Fatalf("retry_after_ms %v", a.body["retry_after_ms"])
	}
	// The address has failed too often: bob's UIA password stage waits too.
	uia := call(t, hs, "POST", "/_matrix/client/v3/delete_devices", bob, map[string]any{"devices": []string{"BOBPHONE"}})
	uia.wantStatus(t, http.StatusUnauthorized)
	session := uia.str(t, "session")
	call(t, hs, "POST", "/_matrix/client/v3/delete_devices", bob, map[string]any{"devices": []string{"BOBPHONE"},
		"auth": map[string]any{"type": "m.login.password", "session": session, "identifier": map[string]any{"type": "m.id.user", "user": "bob"}, "password": "pw"}}).
		wantError(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	// And so does the sign-in page.
	client := register(t, hs, nil)
	signInForm(t, hs, authorizeQuery(client, loopback, "DEVICEAAAA"))(url.Values{"action": {"approve"}, "username": {"alice"}, "password": {"pw"}}).
		wantPage(t, http.StatusTooManyRequests, "Too many failed attempts")

	hs.Clock().Advance(time.Minute)
	login(t, hs, "alice", "pw", nil)
}

// Finding 11: a server whose only login API is OAuth 2.0 answers GET
// /login with 404 M_UNRECOGNIZED.
func TestOAuthOnlyLoginFlows(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithoutLegacyAuth())
	call(t, hs, "GET", "/_matrix/client/v3/login", "", nil).wantError(t, http.StatusNotFound, "M_UNRECOGNIZED")
}

// The MAS-faithful settings, through the Go API and a scenario file.
func TestOAuthMASSettings(t *testing.T) {
	masYAML := []byte(`
server: {auth: [legacy, oauth]}
oauth: {auto_approve: alice, refresh_replay: mas, code_replay: grace}
tokens: {soft_logout_on_expiry: {legacy: true, oauth: false}}
users: [{id: alice, password: pw}]
`)
	ways := map[string][]mock.Option{
		"Go API": {mock.WithOAuthAutoApprove("alice"), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch),
			mock.WithRefreshReplay(scenario.MAS), mock.WithCodeReplay(scenario.Grace), mock.WithSoftLogoutOnExpiry(true, false)},
		"scenario": {mock.WithScenarioData("mas.yaml", masYAML)},
	}
	for name, opts := range ways {
		t.Run(name, func(t *testing.T) {
			hs := mock.Start(t, opts...)
			client := register(t, hs, nil)

			// Refresh replay, tolerated while the new pair is unused: the
			// unused pair is revoked and replaced.
			first := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEAAAA"))
			first.wantStatus(t, http.StatusOK)
			lost := refreshAt(t, hs, client, first.str(t, "refresh_token"))
			lost.wantStatus(t, http.StatusOK)
			retry := refreshAt(t, hs, client, first.str(t, "refresh_token"))
			retry.wantStatus(t, http.StatusOK)
			wantUnknownToken(t, call(t, hs, "GET", whoami, lost.str(t, "access_token"), nil), false)
			call(t, hs, "GET", whoami, retry.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
			// Once the new pair is used, a replay revokes the session.
			refreshAt(t, hs, client, first.str(t, "refresh_token")).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
			wantUnknownToken(t, call(t, hs, "GET", whoami, retry.str(t, "access_token"), nil), false)

			// Code replay within 20 s is only refused; later it revokes.
			code := codeFor(t, hs, client, "DEVICEBBBB")
			tokens := exchange(t, hs, client, code)
			tokens.wantStatus(t, http.StatusOK)
			hs.Clock().Advance(19 * time.Second)
			exchange(t, hs, client, code).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
			call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil).wantStatus(t, http.StatusOK)
			hs.Clock().Advance(2 * time.Second)
			exchange(t, hs, client, code).wantOAuthError(t, http.StatusBadRequest, "invalid_grant")
			wantUnknownToken(t, call(t, hs, "GET", whoami, tokens.str(t, "access_token"), nil), false)

			// An expired OAuth token says soft_logout: false, a legacy one
			// true.
			oauthTokens := exchange(t, hs, client, codeFor(t, hs, client, "DEVICECCCC"))
			legacy := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
			hs.Clock().Advance(6 * time.Minute)
			wantUnknownToken(t, call(t, hs, "GET", whoami, oauthTokens.str(t, "access_token"), nil), false)
			wantUnknownToken(t, call(t, hs, "GET", whoami, legacy.str(t, "access_token"), nil), true)
		})
	}
}

// The lose_answer effect: the operation is done and kept, the answer lost.
func TestLoseAnswerEffect(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("lost.yaml", []byte(`
users: [{id: alice, password: pw}]
rules:
  - when: {request: {operation: login}, nth: 1}
    then: {lose_answer: bad_gateway}
  - when: {request: {operation: login}, nth: 2}
    then: {lose_answer: drop_connection}
`)))
	a := call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", map[string]any{"device_id": "LOSTONE"}))
	if a.status != http.StatusBadGateway || !strings.Contains(a.raw, "502 Bad Gateway") || strings.Contains(a.raw, "access_token") {
		t.Fatalf("first login: %d %s", a.status, a.raw)
	}
	if _, err := send(hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", map[string]any{"device_id": "LOSTTWO"})); err == nil {
		t.Fatal("second login: answered, want the connection closed")
	}
	if devices := hs.Devices("alice"); len(devices) != 2 {
		t.Fatalf("devices %v: both logins should have been done", devices)
	}
	if n := hs.Journal().Count(journal.Filter{Operation: "login", Status: http.StatusBadGateway}); n != 1 {
		t.Fatalf("%d logins journaled as 502", n)
	}
}

// Finding 9: a repeated parameter on an OAuth 2.0 endpoint is
// invalid_request, whichever copy is real (RFC 6749 §3.1, §3.2).
func TestOAuthRepeatedParameters(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	client := register(t, hs, nil)
	code := codeFor(t, hs, client, "DEVICEAAAA")
	exchangeForm := func(name, again string) answer {
		t.Helper()
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {loopback},
			"client_id": {client}, "code_verifier": {verifier}}
		if name != "" {
			v.Add(name, again)
		}
		return form(t, hs, "/oauth2/token", v)
	}
	exchangeForm("code", "bogus").wantOAuthError(t, http.StatusBadRequest, "invalid_request")
	exchangeForm("client_id", client).wantOAuthError(t, http.StatusBadRequest, "invalid_request")
	form(t, hs, "/oauth2/revoke", url.Values{"token": {"a", "b"}, "client_id": {client}}).wantOAuthError(t, http.StatusBadRequest, "invalid_request")
	form(t, hs, "/oauth2/device_authorization", url.Values{"client_id": {client, client}}).wantOAuthError(t, http.StatusBadRequest, "invalid_request")
	q := authorizeQuery(client, loopback, "DEVICEAAAA")
	q.Add("redirect_uri", "http://127.0.0.1:9/evil")
	if resp := follow(t, hs.URL+"/oauth2/authorize?"+q.Encode()); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("authorization with two redirect URIs: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The code was not used up by the refused requests.
	exchangeForm("", "").wantStatus(t, http.StatusOK)
}

// Finding 13: the authorization response carries iss, the metadata's
// issuer (RFC 9207), on success and on error.
func TestOAuthAuthorizationResponseIssuer(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuthAutoApprove("alice"))
	issuer := call(t, hs, "GET", "/_matrix/client/v1/auth_metadata", "", nil).str(t, "issuer")
	client := register(t, hs, nil)
	ok := authorizeQuery(client, loopback, "DEVICEAAAA")
	bad := authorizeQuery(client, loopback, "DEVICEAAAA")
	bad.Set("scope", "openid")
	for _, q := range []url.Values{ok, bad} {
		if got := redirected(t, follow(t, hs.URL+"/oauth2/authorize?"+q.Encode()), loopback); got.Get("iss") != issuer {
			t.Errorf("redirect %v: iss %q, want %q", got, got.Get("iss"), issuer)
		}
	}
}

// Finding 12: a connection that trickles its request, or idles after one,
// is closed by the server. The test sets short timeouts and waits at most
// five seconds for the close.
func TestServerTimeouts(t *testing.T) {
	hs := mock.Start(t, mock.WithTimeouts(mock.Timeouts{Read: 300 * time.Millisecond, Idle: 300 * time.Millisecond}))
	addr := strings.TrimPrefix(hs.URL, "http://")
	closed := func(t *testing.T, conn net.Conn) {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept the connection open")
		}
	}
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	t.Run("trickled body", func(t *testing.T) {
		conn := dial(t)
		fmt.Fprintf(conn, "POST /_matrix/client/v3/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
		closed(t, conn)
	})
	t.Run("idle", func(t *testing.T) {
		conn := dial(t)
		fmt.Fprintf(conn, "GET /_matrix/client/versions HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("versions: %v %v", resp, err)
		}
		closed(t, conn)
	})
}

// Finding 12: a client registration's body is bounded.
func TestOAuthRegistrationBodyBound(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth())
	a := registration(t, hs, []string{loopback}, map[string]any{"client_name": strings.Repeat("x", 100<<10)})
	a.wantOAuthError(t, http.StatusRequestEntityTooLarge, "invalid_request")
}
