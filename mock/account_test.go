package mock_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// accountPage is an answer of the account management page, with the CSRF
// token and cookie of its form when it has one.
type accountPage struct {
	answer
	csrf   string
	cookie *http.Cookie
}

// autoPageSession opens the account page of a server that auto-approves
// alice, checks that it is signed in as her at once, and returns the page
// session's cookie.
func autoPageSession(t *testing.T, hs *mock.Server) *http.Cookie {
	t.Helper()
	resp := follow(t, hs.URL+"/account/?action=org.matrix.profile")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "User ID: @alice:localhost") {
		t.Fatalf("auto sign-in: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "mxauth_account" {
			return c
		}
	}
	t.Fatal("auto sign-in set no page session")
	return nil
}

// getAccount loads the account page for query with the given cookies,
// without following redirects.
func getAccount(t *testing.T, hs *mock.Server, query string, cookies ...*http.Cookie) accountPage {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+"/account/"+query, nil)
	for _, c := range cookies {
		req.AddCookie(c)
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
	if a.status < 400 && !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /account/%s: Content-Type %q", query, a.header.Get("Content-Type"))
	}
	p := accountPage{answer: a}
	if _, rest, ok := strings.Cut(a.raw, `name="csrf" value="`); ok {
		p.csrf, _, _ = strings.Cut(rest, `"`)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "mxauth_csrf" {
			p.cookie = c
		}
	}
	return p
}

// postAccount submits a form of the account page with the given cookies.
func postAccount(t *testing.T, hs *mock.Server, values url.Values, cookies ...*http.Cookie) answer {
	t.Helper()
	return postPage(t, hs.URL+"/account/", values, cookies...)
}

// submit fills in the page's form: its hidden fields, the CSRF token, and
// values; it posts them with the form's CSRF cookie and session.
func (p accountPage) submit(t *testing.T, hs *mock.Server, session *http.Cookie, values url.Values) answer {
	t.Helper()
	if p.csrf == "" || p.cookie == nil {
		t.Fatalf("the page has no form: %d %s", p.status, p.raw)
	}
	all := url.Values{"csrf": {p.csrf}}
	for _, name := range []string{"requested_action", "device_id"} {
		if _, rest, ok := strings.Cut(p.raw, `name="`+name+`" value="`); ok {
			v, _, _ := strings.Cut(rest, `"`)
			all.Set(name, unescapeAttr(v))
		}
	}
	for k, v := range values {
		all[k] = v
	}
	cookies := []*http.Cookie{p.cookie}
	if session != nil {
		cookies = append(cookies, session)
	}
	return postAccount(t, hs, all, cookies...)
}

// unescapeAttr undoes the escaping html/template applies to the attribute
// values the tests read back.
func unescapeAttr(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// wantPage checks the status and that the body holds every string of want.
func (a answer) wantPage(t *testing.T, status int, want ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("got %d, want %d: %s", a.status, status, a.raw)
	}
	for _, w := range want {
		if !strings.Contains(a.raw, w) {
			t.Fatalf("the page lacks %q:\n%s", w, a.raw)
		}
	}
}

// accountSignIn signs in on the account page through the sign-in form of
// query, checks that it goes on to query, and returns the session cookie.
func accountSignIn(t *testing.T, hs *mock.Server, query, user, password string) *http.Cookie {
	t.Helper()
	form := getAccount(t, hs, query)
	form.wantPage(t, 200, "Sign in", `name="username"`, `name="password"`, `value="signin"`)
	a := form.submit(t, hs, nil, url.Values{"username": {user}, "password": {password}, "action": {"signin"}})
	if a.status != http.StatusFound || a.header.Get("Location") != "/account/"+query {
		t.Fatalf("sign-in: %d to %q, want a redirect to /account/%s: %s", a.status, a.header.Get("Location"), query, a.raw)
	}
	resp := &http.Response{Header: a.header}
	for _, c := range resp.Cookies() {
		if c.Name == "mxauth_account" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/account/" || len(c.Value) < 32 {
				t.Fatalf("session cookie %+v", c)
			}
			return c
		}
	}
	t.Fatalf("no session cookie after signing in: %v", a.header)
	return nil
}

// deviceIDs lists the devices GET /devices shows with token.
func deviceIDs(t *testing.T, hs *mock.Server, token string) []string {
	t.Helper()
	a := call(t, hs, "GET", "/_matrix/client/v3/devices", token, nil)
	a.wantStatus(t, 200)
	var ids []string
	for _, d := range a.body["devices"].([]any) {
		ids = append(ids, d.(map[string]any)["device_id"].(string))
	}
	return ids
}

func TestAccountPageOffWithoutOAuth(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"))
	for _, path := range []string{"/account/", "/account/?action=org.matrix.profile"} {
		call(t, hs, "GET", path, "", nil).wantError(t, 404, "M_UNRECOGNIZED")
	}
	a := postAccount(t, hs, url.Values{"action": {"signin"}, "username": {"alice"}, "password": {"pw"}})
	a.wantError(t, 404, "M_UNRECOGNIZED")
}

func TestAccountSignInListAndView(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	phone := login(t, hs, "alice", "pw", map[string]any{"device_id": "PHONEAAAAA", "initial_device_display_name": "Phone"})
	login(t, hs, "alice", "pw", map[string]any{"device_id": "LAPTOPAAAA", "initial_device_display_name": `<script>alert("x")</script>`})
	call(t, hs, "GET", whoami, phone.str(t, "access_token"), nil).wantStatus(t, 200) // sets last seen

	// Without a page session, the action asks to sign in first, with the
	// page's security headers, and keeps the action in the form.
	const list = "?action=org.matrix.devices_list"
	pageForm(t, hs.URL+"/account/"+list)
	form := getAccount(t, hs, list)
	form.wantPage(t, 200, `name="requested_action" value="org.matrix.devices_list"`)
	wrong := form.submit(t, hs, nil, url.Values{"username": {"alice"}, "password": {"nope"}, "action": {"signin"}})
	wrong.wantPage(t, 200, "Wrong username or password")
	if strings.Contains(wrong.header.Get("Set-Cookie"), "mxauth_account") {
		t.Fatalf("a wrong password started a page session: %v", wrong.header)
	}
	session := accountSignIn(t, hs, list, "alice", "pw")

	// The device list links to each device, and escapes display names.
	a := getAccount(t, hs, list, session)
	a.wantPage(t, 200, "Your devices", "@alice:localhost has 2 devices",
		`href="/account/?action=org.matrix.device_view&amp;device_id=PHONEAAAAA"`,
		`href="/account/?action=org.matrix.device_view&amp;device_id=LAPTOPAAAA"`,
		"PHONEAAAAA · Phone", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	if strings.Contains(a.raw, "<script>") {
		t.Fatalf("a display name reached the page unescaped:\n%s", a.raw)
	}
	if a.header.Get("X-Frame-Options") != "DENY" || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("security headers %v", a.header)
	}

	getAccount(t, hs, "?action=org.matrix.device_view&device_id=PHONEAAAAA", session).wantPage(t, 200,
		"Device ID: PHONEAAAAA", "Name: Phone", "Last seen: 2026-01-01 00:00:00 UTC from 127.0.0.1",
		`href="/account/?action=org.matrix.device_delete&amp;device_id=PHONEAAAAA"`)
	getAccount(t, hs, "?action=org.matrix.device_view&device_id=LAPTOPAAAA", session).wantPage(t, 200, "Last seen: never")
	getAccount(t, hs, "?action=org.matrix.profile", session).wantPage(t, 200, "Your profile", "User ID: @alice:localhost")

	// A missing or unknown action shows the main page: profile, devices, links.
	main := []string{"Your account", "Signed in as @alice:localhost", "device_id=PHONEAAAAA", "action=org.matrix.account_deactivate", "action=org.matrix.cross_signing_reset"}
	getAccount(t, hs, "", session).wantPage(t, 200, main...)
	getAccount(t, hs, "?action=org.example.nothing", session).wantPage(t, 200, append(main, "no action &#34;org.example.nothing&#34;")...)

	// A device that does not exist or is someone else's: 404. No device_id: 400.
	getAccount(t, hs, "?action=org.matrix.device_view&device_id=NOSUCHDEV1", session).wantPage(t, 404, "There is no device NOSUCHDEV1 among your devices")
	getAccount(t, hs, "?action=org.matrix.device_view", session).wantPage(t, 400, "needs a device")

	// The page session lasts an hour of the server's clock.
	hs.Clock().Advance(time.Hour)
	getAccount(t, hs, list, session).wantPage(t, 200, "Sign in", `value="org.matrix.devices_list"`)
}

func TestAccountDeleteDevice(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	doomed := login(t, hs, "alice", "pw", map[string]any{"device_id": "DOOMEDAAAA", "refresh_token": true})
	other := login(t, hs, "alice", "pw", map[string]any{"device_id": "KEEPERAAAA"}).str(t, "access_token")

	// Signing in through the action's form goes on to the action.
	const del = "?action=org.matrix.device_delete&device_id=DOOMEDAAAA"
	session := accountSignIn(t, hs, del, "alice", "pw")
	confirm := getAccount(t, hs, del, session)
	confirm.wantPage(t, 200, "Sign out device DOOMEDAAAA", `name="password"`, `value="delete"`, `name="device_id" value="DOOMEDAAAA"`)

	// Re-authentication: a wrong password deletes nothing.
	confirm.submit(t, hs, session, url.Values{"password": {"wrong"}, "action": {"delete"}}).wantPage(t, 200, "Wrong password")
	if ids := deviceIDs(t, hs, other); len(ids) != 2 {
		t.Fatalf("devices after a wrong password: %v", ids)
	}
	// Without the page session, the form asks to sign in again.
	confirm.submit(t, hs, nil, url.Values{"password": {"pw"}, "action": {"delete"}}).wantPage(t, 200, "session on this page has ended", `value="signin"`)

	confirm.submit(t, hs, session, url.Values{"password": {"pw"}, "action": {"delete"}}).wantPage(t, 200, "Device DOOMEDAAAA is signed out and deleted")
	if ids := deviceIDs(t, hs, other); len(ids) != 1 || ids[0] != "KEEPERAAAA" {
		t.Fatalf("devices after deleting DOOMEDAAAA: %v", ids)
	}
	wantUnknownToken(t, call(t, hs, "GET", whoami, doomed.str(t, "access_token"), nil), false)
	refresh(t, hs, doomed.str(t, "refresh_token")).wantError(t, 401, "M_UNKNOWN_TOKEN")

	// Deleting it again: the device is gone.
	confirm.submit(t, hs, session, url.Values{"password": {"pw"}, "action": {"delete"}}).wantPage(t, 404, "There is no device DOOMEDAAAA")
	getAccount(t, hs, del, session).wantPage(t, 404, "There is no device DOOMEDAAAA")
}

func TestAccountMSCActionNames(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	token := login(t, hs, "alice", "pw", map[string]any{"device_id": "OLDNAMESAA"}).str(t, "access_token")
	login(t, hs, "alice", "pw", map[string]any{"device_id": "OTHERDEVAA"})
	session := accountSignIn(t, hs, "?action=org.matrix.sessions_list", "alice", "pw")

	// The MSC-era names work, and the page's links keep to them.
	getAccount(t, hs, "?action=org.matrix.sessions_list", session).wantPage(t, 200, "Your devices",
		`href="/account/?action=org.matrix.session_view&amp;device_id=OLDNAMESAA"`)
	getAccount(t, hs, "?action=org.matrix.session_view&device_id=OLDNAMESAA", session).wantPage(t, 200, "Device ID: OLDNAMESAA",
		`href="/account/?action=org.matrix.session_end&amp;device_id=OLDNAMESAA"`)
	end := getAccount(t, hs, "?action=org.matrix.session_end&device_id=OLDNAMESAA", session)
	end.wantPage(t, 200, "Sign out device OLDNAMESAA", `name="requested_action" value="org.matrix.session_end"`)
	end.submit(t, hs, session, url.Values{"password": {"pw"}, "action": {"delete"}}).wantPage(t, 200, "signed out and deleted",
		`href="/account/?action=org.matrix.sessions_list"`)
	wantUnknownToken(t, call(t, hs, "GET", whoami, token, nil), false)

	// A server that advertises the MSC's names links with them from the
	// main page too (reached here by auto sign-in and an unknown action).
	msc := mock.Start(t, mock.WithScenarioData("msc.yaml", []byte(`
server: {auth: [oauth, legacy]}
oauth: {action_names: msc, auto_approve: alice}
users:
  - id: alice
    password: pw
    devices: [{id: MSCDEVICE1, access_token: msc-token}]
`)))
	resp := follow(t, msc.URL+"/account/?action=org.example.unknown")
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `href="/account/?action=org.matrix.session_view&amp;device_id=MSCDEVICE1"`) {
		t.Fatalf("the main page of a server with the MSC's names:\n%s", body)
	}
}

func TestAccountOtherUsersDevice(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithUser("bob", "bobpw"))
	bob := login(t, hs, "bob", "bobpw", map[string]any{"device_id": "BOBSDEVICE"}).str(t, "access_token")
	session := accountSignIn(t, hs, "", "alice", "pw")

	for _, action := range []string{"org.matrix.device_view", "org.matrix.device_delete", "org.matrix.session_end"} {
		getAccount(t, hs, "?action="+action+"&device_id=BOBSDEVICE", session).wantPage(t, 404, "There is no device BOBSDEVICE among your devices")
	}
	// A forged form naming bob's device, with alice's own password.
	form := getAccount(t, hs, "?action=org.matrix.account_deactivate", session)
	form.submit(t, hs, session, url.Values{"device_id": {"BOBSDEVICE"}, "password": {"pw"}, "action": {"delete"}}).wantPage(t, 404, "There is no device BOBSDEVICE")
	call(t, hs, "GET", whoami, bob, nil).wantStatus(t, 200)
}

func TestAccountCSRF(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	token := login(t, hs, "alice", "pw", map[string]any{"device_id": "CSRFDEVICE"}).str(t, "access_token")
	session := accountSignIn(t, hs, "", "alice", "pw")
	form := getAccount(t, hs, "?action=org.matrix.device_delete&device_id=CSRFDEVICE", session)
	values := url.Values{"device_id": {"CSRFDEVICE"}, "password": {"pw"}, "action": {"delete"}}

	// No token and no cookie; the token without its cookie; the cookie
	// with another token; and the sign-in form without either.
	postAccount(t, hs, values, session).wantPage(t, 403, "did not come from this server")
	values.Set("csrf", form.csrf)
	postAccount(t, hs, values, session).wantPage(t, 403, "did not come from this server")
	values.Set("csrf", "forged")
	postAccount(t, hs, values, session, form.cookie).wantPage(t, 403, "did not come from this server")
	postAccount(t, hs, url.Values{"action": {"signin"}, "username": {"alice"}, "password": {"pw"}}).wantPage(t, 403)
	call(t, hs, "GET", whoami, token, nil).wantStatus(t, 200)
}

// signedInPage starts a server with the OAuth 2.0 API and alice (password
// pw), logs her in on the API and on the page, and opens the page at
// query: it returns the server, her access token, the page session and the
// page.
func signedInPage(t *testing.T, query string) (*mock.Server, string, *http.Cookie, accountPage) {
	t.Helper()
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"))
	token := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	session := accountSignIn(t, hs, query, "alice", "pw")
	return hs, token, session, getAccount(t, hs, query, session)
}

func TestAccountDeactivate(t *testing.T) {
	const deactivate = "?action=org.matrix.account_deactivate"
	hs, token, session, form := signedInPage(t, deactivate)
	form.wantPage(t, 200, "Deactivate your account", `name="password"`, `value="deactivate"`)

	form.submit(t, hs, session, url.Values{"password": {"wrong"}, "action": {"deactivate"}}).wantPage(t, 200, "Wrong password")
	call(t, hs, "GET", whoami, token, nil).wantStatus(t, 200)

	done := form.submit(t, hs, session, url.Values{"password": {"pw"}, "action": {"deactivate"}})
	done.wantPage(t, 200, "Account deactivated", "@alice:localhost is deactivated")
	wantUnknownToken(t, call(t, hs, "GET", whoami, token, nil), false)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, 403, "M_USER_DEACTIVATED")
	// The page session is over, and nobody can sign in on the page again.
	getAccount(t, hs, "", session).wantPage(t, 200, `value="signin"`)
	getAccount(t, hs, "", session).submit(t, hs, nil, url.Values{"username": {"alice"}, "password": {"pw"}, "action": {"signin"}}).wantPage(t, 200, "Wrong username or password")
}

func TestAccountCrossSigningReset(t *testing.T) {
	hs := mock.Start(t, mock.WithOAuth(), mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch))
	const reset = "?action=org.matrix.cross_signing_reset"
	session := accountSignIn(t, hs, reset, "alice", "pw")
	form := getAccount(t, hs, reset, session)
	form.wantPage(t, 200, "Reset your cross-signing keys", `value="reset"`)
	if hs.CrossSigningResetApproved("alice") {
		t.Fatal("a reset is approved before the user confirmed it")
	}
	form.submit(t, hs, session, url.Values{"action": {"reset"}}).wantPage(t, 200, "Cross-signing reset approved", "next 10 minutes")
	if !hs.CrossSigningResetApproved("alice") || !hs.CrossSigningResetApproved("@alice:localhost") || hs.CrossSigningResetApproved("bob") {
		t.Fatal("the approval is not recorded for alice alone")
	}
	hs.Clock().Advance(10 * time.Minute)
	if hs.CrossSigningResetApproved("alice") {
		t.Fatal("the approval outlived its ten minutes")
	}
	// Reset forgets approvals with the rest of the state.
	form = getAccount(t, hs, reset, session)
	form.submit(t, hs, session, url.Values{"action": {"reset"}}).wantStatus(t, 200)
	if err := hs.Reset(); err != nil {
		t.Fatal(err)
	}
	if hs.CrossSigningResetApproved("alice") {
		t.Fatal("Reset kept the approval")
	}
	getAccount(t, hs, reset, session).wantPage(t, 200, `value="signin"`)
}

func TestAccountAutoApprove(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithOAuthAutoApprove("alice"))
	token := login(t, hs, "alice", "pw", map[string]any{"device_id": "AUTODEVICE"}).str(t, "access_token")

	// Any action opens at once, signed in as the auto-approved user ...
	session := autoPageSession(t, hs)
	// ... but deleting a device still asks for the password.
	form := getAccount(t, hs, "?action=org.matrix.device_delete&device_id=AUTODEVICE", session)
	form.wantPage(t, 200, `name="password"`)
	form.submit(t, hs, session, url.Values{"password": {""}, "action": {"delete"}}).wantPage(t, 200, "Wrong password")
	call(t, hs, "GET", whoami, token, nil).wantStatus(t, 200)
	form.submit(t, hs, session, url.Values{"password": {"pw"}, "action": {"delete"}}).wantPage(t, 200, "signed out and deleted")
	wantUnknownToken(t, call(t, hs, "GET", whoami, token, nil), false)

	// An auto-approved user the server creates gets a page too.
	dave := mock.Start(t, mock.WithOAuthAutoApprove("dave"))
	resp := follow(t, dave.URL+"/account/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Signed in as @dave:localhost") {
		t.Fatalf("auto sign-in of a new user: %d %s", resp.StatusCode, body)
	}
}

// TestAccountChangePassword: the profile page changes the password of a
// browser user, whose OAuth 2.0 sessions the API refuses it; the devices
// stay signed in.
func TestAccountChangePassword(t *testing.T) {
	hs, token, session, form := signedInPage(t, "?action=org.matrix.profile")
	form.wantPage(t, 200, "User ID: @alice:localhost", `name="new_password"`, `value="change_password"`)
	form.submit(t, hs, session, url.Values{"password": {"wrong"}, "new_password": {"new"}, "action": {"change_password"}}).wantPage(t, 200, "Wrong password")
	form.submit(t, hs, session, url.Values{"password": {"pw"}, "new_password": {""}, "action": {"change_password"}}).wantPage(t, 200, "Choose a new password")
	login(t, hs, "alice", "pw", nil)
	form.submit(t, hs, session, url.Values{"password": {"pw"}, "new_password": {"new"}, "action": {"change_password"}}).wantPage(t, 200, "Password changed")
	call(t, hs, "GET", whoami, token, nil).wantStatus(t, 200)
	call(t, hs, "POST", "/_matrix/client/v3/login", "", loginBody("alice", "pw", nil)).wantError(t, 403, "M_FORBIDDEN")
	login(t, hs, "alice", "new", nil)
}
