package mock_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// serverState is what a refused request must not change: the users, and
// each one's devices and token pairs as the Go API shows them.
type serverState struct {
	users    []string
	devices  map[string][]mock.Device
	sessions map[string][]mock.SessionInfo
}

func stateOf(hs *mock.Server) serverState {
	st := serverState{users: hs.Users(), devices: map[string][]mock.Device{}, sessions: map[string][]mock.SessionInfo{}}
	for _, u := range st.users {
		st.devices[u], st.sessions[u] = hs.Devices(u), hs.Sessions(u)
	}
	return st
}

// without returns st without one of user's devices and its session: what
// deleting it would leave.
func (st serverState) without(user, device string) serverState {
	out := serverState{users: st.users, devices: maps.Clone(st.devices), sessions: maps.Clone(st.sessions)}
	out.devices[user] = slices.DeleteFunc(slices.Clone(st.devices[user]), func(d mock.Device) bool { return d.ID == device })
	out.sessions[user] = slices.DeleteFunc(slices.Clone(st.sessions[user]), func(s mock.SessionInfo) bool { return s.DeviceID == device })
	return out
}

// diff describes how after differs from st; "" when it does not.
func (st serverState) diff(after serverState) string {
	var out []string
	if !reflect.DeepEqual(st.users, after.users) {
		out = append(out, fmt.Sprintf("users %v became %v", st.users, after.users))
	}
	for _, u := range after.users {
		if !reflect.DeepEqual(st.devices[u], after.devices[u]) {
			out = append(out, fmt.Sprintf("%s's devices %+v became %+v", u, st.devices[u], after.devices[u]))
		}
		if !reflect.DeepEqual(st.sessions[u], after.sessions[u]) {
			out = append(out, fmt.Sprintf("%s's sessions %+v became %+v", u, st.sessions[u], after.sessions[u]))
		}
	}
	return strings.Join(out, "; ")
}

// The fixture of every bad-input case: alice with a phone (refreshable) and
// a laptop, bob with a tablet, all with fixed tokens that never expire; a
// registered native OAuth client; the control API; a virtual clock.
const (
	badPhoneAT  = "bad-alice-phone-at"
	badPhoneRT  = "bad-alice-phone-rt"
	badLaptopAT = "bad-alice-laptop-at"
	badTabletAT = "bad-bob-tablet-at"
)

type badFixture struct {
	hs     *mock.Server
	client string // a native client with the loopback redirect URI and every grant
	// what a case's setup leaves for its request and checks: a token, a
	// refresh token, a UIA session, an authorization code, the control
	// API's view of the scenario
	token, refreshToken, session, code, scenario string
}

// fixtureTokens are the fixture's access tokens, by what they belong to.
var fixtureTokens = map[string]string{
	"alice/ALICEPHONE": badPhoneAT, "alice/ALICELAPTOP": badLaptopAT, "bob/BOBTABLET": badTabletAT,
}

func newBadFixture(t *testing.T) *badFixture {
	t.Helper()
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder"),
		mock.WithVirtualClock(epoch), mock.WithOAuthAutoApprove("alice"), mock.WithControl(controlToken))
	for _, s := range []struct{ user, device, at, rt string }{
		{"alice", "ALICEPHONE", badPhoneAT, badPhoneRT},
		{"alice", "ALICELAPTOP", badLaptopAT, ""},
		{"bob", "BOBTABLET", badTabletAT, ""},
	} {
		if _, err := hs.AddSession(s.user, s.device, s.at, s.rt, 0); err != nil {
			t.Fatal(err)
		}
	}
	return &badFixture{hs: hs, client: register(t, hs, nil)}
}

// wantFixturesWork checks that every fixture token still answers whoami.
func (f *badFixture) wantFixturesWork(t *testing.T) {
	t.Helper()
	for owner, token := range fixtureTokens {
		user, device, _ := strings.Cut(owner, "/")
		a := call(t, f.hs, "GET", whoami, token, nil)
		if a.status != 200 || a.body["user_id"] != f.hs.UserID(user) || a.body["device_id"] != device {
			t.Fatalf("the fixture token of %s answers %d %s, want 200", owner, a.status, a.raw)
		}
	}
}

// rawRequest sends a request with exactly the given headers and body,
// without following redirects.
func rawRequest(t *testing.T, hs *mock.Server, method, path string, header http.Header, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
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

// Headers of the bad-input requests.
func jsonHeader(token string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// The checks of the bad-input answers.
type answerCheck func(t *testing.T, f *badFixture, a answer)

func matrixError(status int, errcode string) answerCheck {
	return func(t *testing.T, _ *badFixture, a answer) {
		t.Helper()
		a.wantError(t, status, errcode)
		if _, ok := a.body["soft_logout"]; ok {
			t.Fatalf("soft_logout in %s", a.raw)
		}
	}
}

func unknownToken(soft bool) answerCheck {
	return func(t *testing.T, _ *badFixture, a answer) { t.Helper(); wantUnknownToken(t, a, soft) }
}

func oauthError(status int, code string) answerCheck {
	return func(t *testing.T, _ *badFixture, a answer) {
		t.Helper()
		a.wantOAuthError(t, status, code)
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q, want application/json", ct)
		}
		if _, ok := a.body["errcode"]; ok {
			t.Fatalf("a Matrix errcode in an OAuth 2.0 error: %s", a.raw)
		}
	}
}

// errorPage is the authorization endpoint's answer that must not go back
// to the client: an HTML page, no redirect.
func errorPage(t *testing.T, _ *badFixture, a answer) {
	t.Helper()
	if a.status != 400 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || a.header.Get("Location") != "" {
		t.Fatalf("got %d Location %q Content-Type %q, want a 400 HTML page: %s", a.status, a.header.Get("Location"), a.header.Get("Content-Type"), a.raw)
	}
}

// redirectedError is an error sent back to the registered redirect URI.
func redirectedError(code string) answerCheck {
	return func(t *testing.T, _ *badFixture, a answer) {
		t.Helper()
		loc, err := url.Parse(a.header.Get("Location"))
		if a.status != 302 || err != nil || loc.Scheme+"://"+loc.Host+loc.Path != loopback {
			t.Fatalf("got %d Location %q, want a redirect to %s", a.status, a.header.Get("Location"), loopback)
		}
		if q := loc.Query(); q.Get("error") != code || q.Get("state") != "st4te" || q.Get("code") != "" {
			t.Fatalf("redirect %s, want error %s and the state", loc, code)
		}
	}
}

// uiaRetry is a failed UIA stage: 401 with the flows, the same session and
// the errcode.
func uiaRetry(errcode string) answerCheck {
	return func(t *testing.T, f *badFixture, a answer) {
		t.Helper()
		a.wantStatus(t, 401)
		if a.body["errcode"] != errcode || a.body["session"] != f.session || !strings.Contains(a.raw, `"flows":[{"stages":["m.login.password"]}]`) {
			t.Fatalf("got %s, want a UIA retry of session %s with errcode %s", a.raw, f.session, errcode)
		}
	}
}

// succeeded is a 200 answer.
func succeeded(t *testing.T, _ *badFixture, a answer) { t.Helper(); a.wantStatus(t, 200) }

// newDevice checks the state change of a request that logged alice in on
// a new device, as it should: the answer's device is added with its
// session, nothing else changed, and its token works.
func newDevice(t *testing.T, f *badFixture, a answer, before, after serverState) {
	t.Helper()
	device := a.str(t, "device_id")
	alice := f.hs.UserID("alice")
	for _, d := range before.devices[alice] {
		if d.ID == device {
			t.Fatalf("the login went to the existing device %s", device)
		}
	}
	without := after.without(alice, device)
	if len(without.devices[alice]) != len(after.devices[alice])-1 || len(without.sessions[alice]) != len(after.sessions[alice])-1 {
		t.Fatalf("device %s is not listed once with one session: %+v %+v", device, after.devices[alice], after.sessions[alice])
	}
	if diff := before.diff(without); diff != "" {
		t.Fatalf("besides the new device: %s", diff)
	}
	call(t, f.hs, "GET", whoami, a.str(t, "access_token"), nil).wantStatus(t, 200)
}

// goodLogin is a login request for alice that succeeds.
const goodLogin = `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wonderland"}`

// deleteAuth is the body of a device deletion with a password stage.
func deleteAuth(session, password string) string {
	auth := map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": password}
	if session != "" {
		auth["session"] = session
	}
	b, _ := json.Marshal(map[string]any{"auth": auth})
	return string(b)
}

// uiaSession starts a UIA session for deleting device with token.
func uiaSession(t *testing.T, hs *mock.Server, token, device string) string {
	t.Helper()
	a := call(t, hs, "DELETE", "/_matrix/client/v3/devices/"+device, token, nil)
	a.wantStatus(t, 401)
	return a.str(t, "session")
}

// padTo pads a JSON object body with spaces before its closing brace to n
// bytes.
func padTo(body string, n int) string {
	return body[:len(body)-1] + strings.Repeat(" ", n-len(body)) + "}"
}

// badScenario is a scenario with an unknown key at line 2, column 3.
const badScenario = "tokens:\n  acces_lifetime: 5m\n"

// scenarioError runs mock.New with a scenario and turns its error into an
// answer, for the table.
func scenarioError(data string) func(t *testing.T, f *badFixture) answer {
	return func(t *testing.T, f *badFixture) answer {
		_, err := mock.New(mock.WithScenarioData("broken.yaml", []byte(data)))
		if err == nil {
			return answer{raw: "no error"}
		}
		return answer{raw: err.Error()}
	}
}

func errorNaming(want string) answerCheck {
	return func(t *testing.T, _ *badFixture, a answer) {
		t.Helper()
		if !strings.HasPrefix(a.raw, want) {
			t.Fatalf("mock.New: %q, want an error starting %q", a.raw, want)
		}
	}
}

// TestBadInput is the one list of the bad inputs the server must refuse
// cleanly: for each the exact answer, and that it changed nothing (users,
// devices, token pairs; the fixture tokens still work). The few cases that
// change the state by design say how.
func TestBadInput(t *testing.T) {
	loginPath := "/_matrix/client/v3/login"
	refreshPath := "/_matrix/client/v3/refresh"
	laptop := "/_matrix/client/v3/devices/ALICELAPTOP"
	tooBig := padTo(`{"type":"m.login.password","user":"alice","password":"wrong"}`, mock.MaxBodyBytes+1)
	post := func(path, token, body string) func(t *testing.T, f *badFixture) answer {
		return func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", path, jsonHeader(token), body)
		}
	}
	tokenForm := func(edit func(f *badFixture, v url.Values)) func(t *testing.T, f *badFixture) answer {
		return func(t *testing.T, f *badFixture) answer {
			v := url.Values{"grant_type": {"authorization_code"}, "code": {f.code}, "redirect_uri": {loopback},
				"client_id": {f.client}, "code_verifier": {verifier}}
			edit(f, v)
			return form(t, f.hs, "/oauth2/token", v)
		}
	}
	withCode := func(device string) func(t *testing.T, f *badFixture) {
		return func(t *testing.T, f *badFixture) { f.code = codeFor(t, f.hs, f.client, device) }
	}
	authorize := func(edit func(f *badFixture, q url.Values)) func(t *testing.T, f *badFixture) answer {
		return func(t *testing.T, f *badFixture) answer {
			q := authorizeQuery(f.client, loopback, "DEVICEAAAA")
			edit(f, q)
			return rawRequest(t, f.hs, "GET", "/oauth2/authorize?"+q.Encode(), nil, "")
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, f *badFixture) // runs before the state is taken
		send  func(t *testing.T, f *badFixture) answer
		want  answerCheck
		// changed checks a state change the case makes by design; nil:
		// the state must not change.
		changed func(t *testing.T, f *badFixture, a answer, before, after serverState)
	}{
		// Bodies.
		{name: "not JSON", send: post(loginPath, "", `{bad`), want: matrixError(400, "M_NOT_JSON")},
		{name: "a form body to a JSON endpoint", send: post(refreshPath, "", "refresh_token="+badPhoneRT), want: matrixError(400, "M_NOT_JSON")},
		{name: "truncated JSON", send: post(loginPath, "", `{"type":"m.login.password"`), want: matrixError(400, "M_NOT_JSON")},
		{name: "empty body", send: post(loginPath, "", ""), want: matrixError(400, "M_NOT_JSON")},
		{name: "JSON array", send: post(loginPath, "", `["m.login.password"]`), want: matrixError(400, "M_BAD_JSON")},
		{name: "JSON null", send: post(loginPath, "", `null`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: login type", send: post(loginPath, "", `{"type":5}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: refresh_token flag", send: post(loginPath, "", `{"type":"m.login.password","user":"alice","password":"wonderland","refresh_token":"yes"}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: refresh token", send: post(refreshPath, "", `{"refresh_token":5}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: devices", send: post("/_matrix/client/v3/delete_devices", badPhoneAT, `{"devices":"ALICELAPTOP"}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: device in devices", send: post("/_matrix/client/v3/delete_devices", badPhoneAT, `{"devices":[1]}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: display_name", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "PUT", laptop, jsonHeader(badPhoneAT), `{"display_name":5}`)
		}, want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: username", send: post("/_matrix/client/v3/register", "", `{"username":["carol"],"password":"pw"}`), want: matrixError(400, "M_BAD_JSON")},
		{name: "wrong type: auth", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), `{"auth":"m.login.password"}`)
		}, want: matrixError(400, "M_BAD_JSON")},
		{name: "unknown fields are ignored", send: post(loginPath, "", goodLogin[:len(goodLogin)-1]+`,"org.example.extra":{"nested":[1,2]},"x":null}`),
			want: succeeded, changed: newDevice},
		{name: "keys that differ in case are unknown fields", send: post(loginPath, "", `{"type":"m.login.password","User":"alice","Password":"wonderland"}`),
			want: matrixError(400, "M_MISSING_PARAM")},
		{name: "invalid UTF-8", send: post(loginPath, "", "{\"type\":\"m.login.password\",\"user\":\"alice\xff\",\"password\":\"wonderland\"}"), want: matrixError(400, "M_NOT_JSON")},
		{name: "invalid UTF-8 in a refresh token", send: post(refreshPath, "", "{\"refresh_token\":\""+badPhoneRT+"\xc3\x28\"}"), want: matrixError(400, "M_NOT_JSON")},
		{name: "a body of 1 MiB exactly is read", send: post(loginPath, "", padTo(`{"type":"m.login.password","user":"alice","password":"wrong"}`, mock.MaxBodyBytes)), want: matrixError(403, "M_FORBIDDEN")},
		{name: "a body over 1 MiB", send: post(loginPath, "", tooBig), want: matrixError(413, "M_TOO_LARGE")},
		{name: "a body over 1 MiB with a token", send: post("/_matrix/client/v3/delete_devices", badPhoneAT, padTo(`{"devices":["ALICELAPTOP"]}`, mock.MaxBodyBytes+1)), want: matrixError(413, "M_TOO_LARGE")},
		{name: "missing Content-Type", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", loginPath, nil, goodLogin)
		}, want: succeeded, changed: newDevice},
		{name: "Content-Type given twice", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", loginPath, http.Header{"Content-Type": {"application/json", "application/json"}}, goodLogin)
		}, want: succeeded, changed: newDevice},
		{name: "Content-Type given twice, form first, body not JSON", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", loginPath, http.Header{"Content-Type": {"application/x-www-form-urlencoded", "application/json"}},
				goodLogin[:len(goodLogin)-1]+",\"initial_device_display_name\":\"\xff\"} and then some")
		}, want: matrixError(400, "M_NOT_JSON")},

		// Endpoints and methods.
		{name: "unknown endpoint", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", "/_matrix/client/v3/nope", nil, "")
		}, want: matrixError(404, "M_UNRECOGNIZED")},
		{name: "unknown OAuth 2.0 endpoint", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", "/oauth2/nope", formHeader, "a=b")
		}, want: matrixError(404, "M_UNRECOGNIZED")},
		{name: "unknown method", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", loginPath, nil, "")
		}, want: matrixError(405, "M_UNRECOGNIZED")},
		{name: "unknown method with a token", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "PATCH", laptop, jsonHeader(badPhoneAT), `{"display_name":"x"}`)
		}, want: matrixError(405, "M_UNRECOGNIZED")},

		// Access and refresh tokens.
		{name: "missing token", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, nil, "")
		}, want: matrixError(401, "M_MISSING_TOKEN")},
		{name: "missing token on a device deletion", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(""), deleteAuth("", "wonderland"))
		}, want: matrixError(401, "M_MISSING_TOKEN")},
		{name: "another authorization scheme", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, http.Header{"Authorization": {"Basic " + badPhoneAT}}, "")
		}, want: matrixError(401, "M_MISSING_TOKEN")},
		{name: "expired token", setup: func(t *testing.T, f *badFixture) {
			f.token = login(t, f.hs, "alice", "wonderland", map[string]any{"refresh_token": true}).str(t, "access_token")
			f.hs.Clock().Advance(5 * time.Minute)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader(f.token), "")
		}, want: unknownToken(true)},
		{name: "expired token on a device deletion", setup: func(t *testing.T, f *badFixture) {
			f.token = login(t, f.hs, "alice", "wonderland", map[string]any{"refresh_token": true}).str(t, "access_token")
			f.hs.Clock().Advance(5 * time.Minute)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(f.token), deleteAuth("", "wonderland"))
		}, want: unknownToken(true)},
		{name: "token revoked by logout", setup: func(t *testing.T, f *badFixture) {
			a := login(t, f.hs, "alice", "wonderland", map[string]any{"refresh_token": true})
			f.token, f.refreshToken = a.str(t, "access_token"), a.str(t, "refresh_token")
			call(t, f.hs, "POST", "/_matrix/client/v3/logout", f.token, nil).wantStatus(t, 200)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader(f.token), "")
		}, want: unknownToken(false)},
		{name: "refresh token of a logged-out session", setup: func(t *testing.T, f *badFixture) {
			a := login(t, f.hs, "alice", "wonderland", map[string]any{"refresh_token": true})
			f.token, f.refreshToken = a.str(t, "access_token"), a.str(t, "refresh_token")
			call(t, f.hs, "POST", "/_matrix/client/v3/logout", f.token, nil).wantStatus(t, 200)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", refreshPath, jsonHeader(""), `{"refresh_token":"`+f.refreshToken+`"}`)
		}, want: unknownToken(false)},
		{name: "refresh token reused after rotation", setup: func(t *testing.T, f *badFixture) {
			first := login(t, f.hs, "alice", "wonderland", map[string]any{"refresh_token": true})
			f.refreshToken = first.str(t, "refresh_token")
			second := refresh(t, f.hs, f.refreshToken)
			second.wantStatus(t, 200)
			call(t, f.hs, "GET", whoami, second.str(t, "access_token"), nil).wantStatus(t, 200) // revokes the first refresh token
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", refreshPath, jsonHeader(""), `{"refresh_token":"`+f.refreshToken+`"}`)
		}, want: unknownToken(false)},
		{name: "unknown token", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader("bad-never-issued"), "")
		}, want: unknownToken(false)},
		{name: "a Synapse token of another server", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader("syt_YWxpY2U_bHrPSbTLLkXaLOYxiPzR_0VpHjD"), "")
		}, want: unknownToken(false)},
		{name: "a token shaped like ours, never issued", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader("mat_"+strings.Repeat("A", 43)), "")
		}, want: unknownToken(false)},
		{name: "a refresh token as access token", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "GET", whoami, jsonHeader(badPhoneRT), "")
		}, want: unknownToken(false)},
		{name: "an access token as refresh token", send: post(refreshPath, "", `{"refresh_token":"`+badPhoneAT+`"}`), want: unknownToken(false)},

		// User-interactive auth.
		{name: "UIA with an unknown session", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth("made-up", "wonderland"))
		}, want: matrixError(400, "M_UNKNOWN")},
		{name: "UIA with a stage not offered", setup: func(t *testing.T, f *badFixture) {
			f.session = uiaSession(t, f.hs, badPhoneAT, "ALICELAPTOP")
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), `{"auth":{"type":"m.login.dummy","session":"`+f.session+`"}}`)
		}, want: matrixError(400, "M_UNRECOGNIZED")},
		{name: "UIA with a stage not offered by registration", send: post("/_matrix/client/v3/register", "", `{"username":"carol","password":"pw","auth":{"type":"m.login.password","password":"pw"}}`),
			want: matrixError(400, "M_UNRECOGNIZED")},
		{name: "UIA with a session started for registration", setup: func(t *testing.T, f *badFixture) {
			a := call(t, f.hs, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "carol", "password": "pw"})
			a.wantStatus(t, 401)
			f.session = a.str(t, "session")
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth(f.session, "wonderland"))
		}, want: matrixError(400, "M_UNKNOWN")},
		{name: "UIA with another user's session", setup: func(t *testing.T, f *badFixture) {
			f.session = uiaSession(t, f.hs, badTabletAT, "BOBTABLET")
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth(f.session, "wonderland"))
		}, want: matrixError(400, "M_UNKNOWN")},
		{name: "UIA with an expired session", setup: func(t *testing.T, f *badFixture) {
			f.session = uiaSession(t, f.hs, badPhoneAT, "ALICELAPTOP")
			f.hs.Clock().Advance(10 * time.Minute)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth(f.session, "wonderland"))
		}, want: matrixError(400, "M_UNKNOWN")},
		{name: "UIA with a used session", setup: func(t *testing.T, f *badFixture) {
			login(t, f.hs, "alice", "wonderland", map[string]any{"device_id": "SPARE"})
			f.session = uiaSession(t, f.hs, badPhoneAT, "SPARE")
			call(t, f.hs, "DELETE", "/_matrix/client/v3/devices/SPARE", badPhoneAT, deleteAuth(f.session, "wonderland")).wantStatus(t, 200)
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth(f.session, "wonderland"))
		}, want: matrixError(400, "M_UNKNOWN")},
		{name: "UIA with a wrong password", setup: func(t *testing.T, f *badFixture) {
			f.session = uiaSession(t, f.hs, badPhoneAT, "ALICELAPTOP")
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT), deleteAuth(f.session, "wrong"))
		}, want: uiaRetry("M_FORBIDDEN")},
		{name: "UIA naming another user", setup: func(t *testing.T, f *badFixture) {
			f.session = uiaSession(t, f.hs, badPhoneAT, "ALICELAPTOP")
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "DELETE", laptop, jsonHeader(badPhoneAT),
				`{"auth":{"type":"m.login.password","session":"`+f.session+`","user":"bob","password":"builder"}}`)
		}, want: uiaRetry("M_FORBIDDEN")},

		// OAuth 2.0.
		{name: "PKCE with a wrong verifier", setup: withCode("DEVICEBBBB"),
			send: tokenForm(func(_ *badFixture, v url.Values) { v.Set("code_verifier", strings.Repeat("a", 43)) }), want: oauthError(400, "invalid_grant")},
		{name: "PKCE with a verifier too short", setup: withCode("DEVICEBBBB"),
			send: tokenForm(func(_ *badFixture, v url.Values) { v.Set("code_verifier", verifier[:42]) }), want: oauthError(400, "invalid_grant")},
		{name: "PKCE without a verifier", setup: withCode("DEVICEBBBB"),
			send: tokenForm(func(_ *badFixture, v url.Values) { v.Del("code_verifier") }), want: oauthError(400, "invalid_request")},
		{name: "PKCE with method plain", send: authorize(func(_ *badFixture, q url.Values) {
			q.Set("code_challenge_method", "plain")
			q.Set("code_challenge", verifier)
		}), want: redirectedError("invalid_request")},
		{name: "PKCE without a challenge", send: authorize(func(_ *badFixture, q url.Values) { q.Del("code_challenge") }), want: redirectedError("invalid_request")},
		{name: "authorization code used twice", setup: func(t *testing.T, f *badFixture) {
			withCode("DEVICECCCC")(t, f)
			first := exchange(t, f.hs, f.client, f.code)
			first.wantStatus(t, 200)
			f.token = first.str(t, "access_token")
		}, send: tokenForm(func(*badFixture, url.Values) {}), want: oauthError(400, "invalid_grant"),
			changed: func(t *testing.T, f *badFixture, _ answer, before, after serverState) {
				// RFC 6749 §4.1.2: what the code gave is revoked.
				if diff := before.without(f.hs.UserID("alice"), "DEVICECCCC").diff(after); diff != "" {
					t.Fatalf("besides ending DEVICECCCC: %s", diff)
				}
				wantUnknownToken(t, call(t, f.hs, "GET", whoami, f.token, nil), false)
			}},
		{name: "authorization code used again after a refused exchange", setup: func(t *testing.T, f *badFixture) {
			// A client signs in again on its device (the phone), and its
			// first exchange is refused.
			withCode("ALICEPHONE")(t, f)
			exchangeWith := tokenForm(func(_ *badFixture, v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:9/callback") })
			exchangeWith(t, f).wantOAuthError(t, 400, "invalid_grant")
		}, send: tokenForm(func(*badFixture, url.Values) {}), want: oauthError(400, "invalid_grant")},
		{name: "expired authorization code", setup: func(t *testing.T, f *badFixture) {
			withCode("DEVICEBBBB")(t, f)
			f.hs.Clock().Advance(2*time.Minute + time.Second)
		}, send: tokenForm(func(*badFixture, url.Values) {}), want: oauthError(400, "invalid_grant")},
		{name: "redirect URI differs at the token endpoint", setup: withCode("DEVICEBBBB"),
			send: tokenForm(func(_ *badFixture, v url.Values) { v.Set("redirect_uri", "http://127.0.0.1/other") }), want: oauthError(400, "invalid_grant")},
		{name: "unregistered redirect URI", send: authorize(func(_ *badFixture, q url.Values) { q.Set("redirect_uri", "http://127.0.0.1/other") }), want: errorPage},
		{name: "redirect URI on another host", send: authorize(func(_ *badFixture, q url.Values) { q.Set("redirect_uri", "https://evil.example.com/callback") }), want: errorPage},
		{name: "redirect URI with user info", send: authorize(func(_ *badFixture, q url.Values) {
			q.Set("redirect_uri", "http://evil.example.com@127.0.0.1/callback")
		}), want: errorPage},
		{name: "redirect URI with a fragment", send: authorize(func(_ *badFixture, q url.Values) {
			q.Set("redirect_uri", loopback+"#fragment")
		}), want: errorPage},
		{name: "unregistered client at the authorization endpoint", send: authorize(func(_ *badFixture, q url.Values) { q.Set("client_id", "unregistered") }), want: errorPage},
		{name: "unregistered client at the token endpoint", setup: withCode("DEVICEBBBB"),
			send: tokenForm(func(_ *badFixture, v url.Values) { v.Set("client_id", "unregistered") }), want: oauthError(401, "invalid_client")},
		{name: "unregistered client at the device authorization endpoint", send: func(t *testing.T, f *badFixture) answer {
			return form(t, f.hs, "/oauth2/device_authorization", url.Values{"client_id": {"unregistered"}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:TVDEVICE01"}})
		}, want: oauthError(400, "invalid_client")},
		{name: "code of another client", setup: func(t *testing.T, f *badFixture) {
			withCode("DEVICEBBBB")(t, f)
			f.token = register(t, f.hs, nil) // the other client
		}, send: tokenForm(func(f *badFixture, v url.Values) { v.Set("client_id", f.token) }), want: oauthError(400, "invalid_grant")},
		{name: "unsupported grant type", send: func(t *testing.T, f *badFixture) answer {
			return form(t, f.hs, "/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {f.client}, "username": {"alice"}, "password": {"wonderland"}})
		}, want: oauthError(400, "unsupported_grant_type")},
		{name: "unknown refresh token at the token endpoint", send: func(t *testing.T, f *badFixture) answer {
			return form(t, f.hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {f.client}, "refresh_token": {badPhoneAT}})
		}, want: oauthError(400, "invalid_grant")},
		{name: "a form that does not parse", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", "/oauth2/token", formHeader, "grant_type=refresh_token&client_id="+f.client+"&refresh_token=%zz")
		}, want: oauthError(400, "invalid_request")},
		{name: "a token request without Content-Type", send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "POST", "/oauth2/token", nil, "grant_type=refresh_token&client_id="+f.client+"&refresh_token="+badPhoneRT)
		}, want: oauthError(400, "invalid_request")},
		{name: "a registration that is not JSON", send: post("/oauth2/registration", "", `{"client_uri":`), want: oauthError(400, "invalid_request")},

		// Scenarios.
		{name: "scenario with an unknown key", send: scenarioError(badScenario), want: errorNaming("broken.yaml:2:3: unknown key \"acces_lifetime\"")},
		{name: "scenario that is not YAML", send: scenarioError("users: [\n"), want: errorNaming("broken.yaml:2:1: YAML syntax error")},
		{name: "scenario with a bad time", send: scenarioError("clock: {start: yesterday}\n"), want: errorNaming("broken.yaml:1:16: clock.start: bad time")},
		{name: "scenario loaded through the control API", setup: func(t *testing.T, f *badFixture) {
			f.scenario = control(t, f.hs, "GET", "/_mock/scenario", nil).raw
		}, send: func(t *testing.T, f *badFixture) answer {
			return rawRequest(t, f.hs, "PUT", "/_mock/scenario?name=broken.yaml", http.Header{"Authorization": {"Bearer " + controlToken}}, badScenario)
		}, want: func(t *testing.T, f *badFixture, a answer) {
			t.Helper()
			a.wantError(t, 400, "M_INVALID_PARAM")
			if !strings.HasPrefix(a.body["error"].(string), "broken.yaml:2:3: ") {
				t.Fatalf("error %s does not name broken.yaml:2:3", a.raw)
			}
			if now := control(t, f.hs, "GET", "/_mock/scenario", nil).raw; now != f.scenario {
				t.Fatalf("the scenario became %s, was %s", now, f.scenario)
			}
			if !f.hs.Clock().Now().Equal(epoch) {
				t.Fatalf("the clock moved to %v", f.hs.Clock().Now())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBadFixture(t)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			f.wantFixturesWork(t) // also sets their last seen time and address before the state is taken
			before := stateOf(f.hs)
			a := tt.send(t, f)
			tt.want(t, f, a)
			after := stateOf(f.hs)
			if tt.changed != nil {
				tt.changed(t, f, a, before, after)
			} else if diff := before.diff(after); diff != "" {
				t.Fatalf("the state changed: %s", diff)
			}
			f.wantFixturesWork(t)
		})
	}
}
