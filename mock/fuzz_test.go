package mock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// The fuzz targets send fuzzed input through the real handler chain
// (hs.Handler, in process) of one server per target and worker process,
// and check after every input that the server answered as the protocol
// says and that the fixture sessions, whose tokens are fixed, still work
// unless the input itself legitimately ended them. Run one for long with
//
//	go test -run '^$' -fuzz '^FuzzRequestBody$' -fuzztime 3m ./mock
//
// Seeds are the f.Add calls below and testdata/fuzz/<target>/; go test
// runs them as ordinary tests.

// fuzzSession is a fixture session with fixed tokens.
type fuzzSession struct {
	user, device, access, refresh string
}

func (s fuzzSession) String() string { return s.user + "/" + s.device }

// fuzzResetEvery bounds the state a long fuzz run builds up (devices from
// successful logins, users, clients, codes): the server is reset and the
// fixtures made again after this many inputs.
const fuzzResetEvery = 256

// fuzzServer is a server for a fuzz target with fixture sessions.
type fuzzServer struct {
	hs       *mock.Server
	sessions []fuzzSession
	inputs   int
	restock  func(tb testing.TB) // after a reset: what else the target needs (clients)
}

func newFuzzServer(tb testing.TB, sessions []fuzzSession, opts ...mock.Option) *fuzzServer {
	tb.Helper()
	hs, err := mock.New(append([]mock.Option{
		mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder"), mock.WithVirtualClock(epoch),
	}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	fs := &fuzzServer{hs: hs, sessions: sessions}
	for _, s := range sessions {
		fs.restore(tb, s)
	}
	return fs
}

// restore (re)creates a fixture session with its fixed tokens, on a new
// device of the same ID.
func (fs *fuzzServer) restore(tb testing.TB, s fuzzSession) {
	tb.Helper()
	_ = fs.hs.HardLogout(s.user, s.device) // ErrNotFound when it is gone already
	if _, err := fs.hs.AddSession(s.user, s.device, s.access, s.refresh, 0); err != nil {
		tb.Fatalf("fixture %s: %v", s, err)
	}
}

// next counts an input and resets the server now and then.
func (fs *fuzzServer) next(tb testing.TB) {
	tb.Helper()
	fs.inputs++
	if fs.inputs%fuzzResetEvery != 0 {
		return
	}
	if err := fs.hs.Reset(); err != nil {
		tb.Fatal(err)
	}
	for _, s := range fs.sessions {
		fs.restore(tb, s)
	}
	if fs.restock != nil {
		fs.restock(tb)
	}
}

// serve sends one request through the handler chain. A body of nil sends
// none; contentType "" sends no Content-Type.
func (fs *fuzzServer) serve(method, target, token, contentType string, body []byte) *httptest.ResponseRecorder {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	fs.hs.Handler().ServeHTTP(rec, req)
	return rec
}

// whoami returns the answer to GET /account/whoami with token.
func (fs *fuzzServer) whoami(token string) (int, map[string]any) {
	rec := fs.serve("GET", whoami, token, "", nil)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// wantWorks checks that an access token issued by the fuzzed request
// works, for user and device when given.
func (fs *fuzzServer) wantWorks(t *testing.T, what, token, user, device string) {
	t.Helper()
	status, body := fs.whoami(token)
	if status != 200 || (user != "" && body["user_id"] != user) || (device != "" && body["device_id"] != device) {
		t.Fatalf("%s: the access token it gave answers whoami with %d %v, want 200 for %s %s", what, status, body, user, device)
	}
}

// checkFixtures checks every fixture session after an input: the ones the
// input legitimately ended must answer 401 M_UNKNOWN_TOKEN (not soft) and
// are made again; the others must still work.
func (fs *fuzzServer) checkFixtures(t *testing.T, input string, ended map[fuzzSession]bool) {
	t.Helper()
	for _, s := range fs.sessions {
		status, body := fs.whoami(s.access)
		switch {
		case ended[s]:
			if status != 401 || body["errcode"] != "M_UNKNOWN_TOKEN" || body["soft_logout"] != false {
				t.Fatalf("%s legitimately ended fixture %s, whose token then answers %d %v, want 401 M_UNKNOWN_TOKEN soft_logout false", input, s, status, body)
			}
			fs.restore(t, s)
		case status != 200 || body["user_id"] != fs.hs.UserID(s.user) || body["device_id"] != s.device:
			t.Fatalf("after %s the fixture %s answers whoami with %d %v, want 200", input, s, status, body)
		}
	}
}

// decodeObject decodes a JSON object answer, failing the test when the
// answer is not one or is sent as another Content-Type.
func decodeObject(t *testing.T, what string, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: answer %d has Content-Type %q, want application/json: %q", what, rec.Code, ct, rec.Body.String())
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body == nil {
		t.Fatalf("%s: answer %d is not a JSON object (%v): %q", what, rec.Code, err, rec.Body.String())
	}
	return body
}

var errcodePattern = regexp.MustCompile(`^M_[A-Z_]+$`)

// wantMatrixError checks a well-formed Matrix error: a 4xx status and
// string errcode and error.
func wantMatrixError(t *testing.T, what string, status int, body map[string]any) {
	t.Helper()
	code, _ := body["errcode"].(string)
	_, hasMessage := body["error"].(string)
	if status < 400 || status > 499 || !errcodePattern.MatchString(code) || !hasMessage {
		t.Fatalf("%s: got %d %v, want a 4xx Matrix error with string errcode and error", what, status, body)
	}
}

// A body operation of FuzzRequestBody. Authenticated ones are sent with
// the actor's token; the device ones act on alice's phone.
type bodyOperation struct {
	name, method, path string
	auth               bool
}

var bodyOperations = []bodyOperation{
	{"login", "POST", "/_matrix/client/v3/login", false},
	{"register", "POST", "/_matrix/client/v3/register", false},
	{"refresh", "POST", "/_matrix/client/v3/refresh", false},
	{"delete_devices", "POST", "/_matrix/client/v3/delete_devices", true},
	{"delete_device", "DELETE", "/_matrix/client/v3/devices/ALICEPHONE", true},
	{"update_device", "PUT", "/_matrix/client/v3/devices/ALICEPHONE", true},
	{"get_token", "POST", "/_matrix/client/v1/login/get_token", true},
	{"oauth_registration", "POST", "/oauth2/registration", false},
}

// The fixtures of FuzzRequestBody: the actor sends the authenticated
// requests; alice's phone and bob's laptop are bystanders with refresh
// tokens. Seeds name these tokens, passwords and devices.
var (
	fuzzActor      = fuzzSession{"alice", "ALICEACTOR", "fuzz-actor-at", ""}
	fuzzAlicePhone = fuzzSession{"alice", "ALICEPHONE", "fuzz-phone-at", "fuzz-phone-rt"}
	fuzzBobLaptop  = fuzzSession{"bob", "BOBLAPTOP", "fuzz-bob-at", "fuzz-bob-rt"}
)

// registrationErrors are the RFC 7591 error codes the registration
// endpoint may answer, and invalid_request for a body of the wrong shape.
var registrationErrors = []string{"invalid_redirect_uri", "invalid_client_metadata", "invalid_request"}

// FuzzRequestBody sends fuzzed bodies to every operation that takes one.
func FuzzRequestBody(f *testing.F) {
	for i, body := range []string{
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wonderland","refresh_token":true}`,
		`{"username":"carol","password":"pw","auth":{"type":"m.login.dummy"}}`,
		`{"refresh_token":"fuzz-phone-rt"}`,
		`{"devices":["ALICEPHONE","NOPE"],"auth":{"type":"m.login.password","user":"alice","password":"wonderland"}}`,
		`{"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@alice:localhost"},"password":"wonderland"}}`,
		`{"display_name":"Fuzzed phone"}`,
		`{}`,
		`{"client_uri":"https://client.example.org/","application_type":"native","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["authorization_code","refresh_token"]}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(0), []byte(`{"type":"m.login.password","user":"bob","password":"builder","device_id":"BOBLAPTOP"}`))
	f.Add(uint8(2), []byte(`{"refresh_token":"fuzz-phone-at"}`))
	f.Add(uint8(3), []byte(`{"devices":[1]}`))
	f.Add(uint8(4), []byte(`{"auth":{"type":"m.login.dummy","session":"made-up"}}`))
	f.Add(uint8(1), []byte("{\"username\":\"\xff\"}"))
	f.Add(uint8(7), []byte(`{"client_uri":5}`))

	fs := newFuzzServer(f, []fuzzSession{fuzzActor, fuzzAlicePhone, fuzzBobLaptop}, mock.WithOAuth())
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		fs.next(t)
		op := bodyOperations[int(which)%len(bodyOperations)]
		input := fmt.Sprintf("%s %s %q", op.method, op.path, body)
		token := ""
		if op.auth {
			token = fuzzActor.access
			fs.whoami(token) // its last seen time and address, so that the snapshot has them
		}
		before := stateOf(fs.hs)
		rec := fs.serve(op.method, op.path, token, "application/json", body)
		if rec.Code >= 500 {
			t.Fatalf("%s: got %d %q", input, rec.Code, rec.Body.String())
		}
		answer := decodeObject(t, input, rec)
		ended := map[fuzzSession]bool{}
		var renew []fuzzSession
		switch {
		case rec.Code == 401 && answer["flows"] != nil && (op.name == "register" || op.name == "delete_device" || op.name == "delete_devices"):
			wantUIAChallenge(t, input, answer)
		case op.name == "oauth_registration" && rec.Code == 400 && answer["errcode"] == nil:
			if code, _ := answer["error"].(string); !slices.Contains(registrationErrors, code) {
				t.Fatalf("%s: got 400 %v, want an RFC 7591 error", input, answer)
			}
		case rec.Code >= 400:
			wantMatrixError(t, input, rec.Code, answer)
		case rec.Code == 201 && op.name == "oauth_registration":
			fs.wantClientKnown(t, input, answer)
		case rec.Code != 200:
			t.Fatalf("%s: got %d %v, want 200, a UIA challenge or an error", input, rec.Code, answer)
		default:
			renew = fs.checkSuccess(t, op, input, body, answer, ended)
		}
		if rec.Code >= 400 {
			if diff := before.diff(stateOf(fs.hs)); diff != "" {
				t.Fatalf("%s: refused (%d %v), yet the state changed: %s", input, rec.Code, answer, diff)
			}
		}
		fs.checkFixtures(t, input, ended)
		for _, s := range renew {
			fs.restore(t, s)
		}
	})
}

// wantUIAChallenge checks a 401 user-interactive auth answer.
func wantUIAChallenge(t *testing.T, what string, body map[string]any) {
	t.Helper()
	flows, _ := body["flows"].([]any)
	session, _ := body["session"].(string)
	if len(flows) == 0 || session == "" {
		t.Fatalf("%s: UIA answer %v without flows or session", what, body)
	}
	if code, ok := body["errcode"]; ok {
		if s, _ := code.(string); !errcodePattern.MatchString(s) {
			t.Fatalf("%s: UIA answer %v with a bad errcode", what, body)
		}
		if _, ok := body["error"].(string); !ok {
			t.Fatalf("%s: UIA answer %v with an errcode but no error", what, body)
		}
	}
}

// checkSuccess checks a 200 answer of FuzzRequestBody and notes the
// fixture sessions it legitimately ended. It returns the fixtures it
// refreshed, to be made again once checked.
func (fs *fuzzServer) checkSuccess(t *testing.T, op bodyOperation, input string, body []byte, answer map[string]any, ended map[fuzzSession]bool) (refreshed []fuzzSession) {
	t.Helper()
	var req struct {
		Devices     []string `json:"devices"`
		DisplayName *string  `json:"display_name"`
	}
	_ = json.Unmarshal(body, &req) // the server decoded it already
	str := func(key string) string {
		s, _ := answer[key].(string)
		if s == "" {
			t.Fatalf("%s: 200 answer %v without %s", input, answer, key)
		}
		return s
	}
	switch op.name {
	case "login", "register":
		user := str("user_id")
		if _, ok := answer["access_token"]; !ok && op.name == "register" {
			return nil // inhibit_login
		}
		device := str("device_id")
		fs.wantWorks(t, input, str("access_token"), user, device)
		for _, s := range fs.sessions { // a login on a fixture's device ends its tokens
			if fs.hs.UserID(s.user) == user && s.device == device {
				ended[s] = true
			}
		}
	case "refresh":
		fs.wantWorks(t, input, str("access_token"), "", "")
		// A refreshed fixture keeps its access token (until it expires, as
		// on Synapse): checkFixtures checks it, then it is made again so
		// that its refresh token works for the next input.
		for _, s := range fs.sessions {
			if s.refresh != "" && strings.Contains(string(body), s.refresh) {
				refreshed = append(refreshed, s)
			}
		}
	case "delete_devices", "delete_device":
		gone := req.Devices
		if op.name == "delete_device" {
			gone = []string{fuzzAlicePhone.device}
		}
		for _, d := range fs.hs.Devices(fuzzActor.user) {
			if slices.Contains(gone, d.ID) {
				t.Fatalf("%s: answered 200 but device %s is still there", input, d.ID)
			}
		}
		for _, s := range fs.sessions {
			if s.user == fuzzActor.user && slices.Contains(gone, s.device) {
				ended[s] = true
			}
		}
	case "update_device":
		d, err := fs.deviceOf(fuzzAlicePhone)
		if err != nil {
			t.Fatalf("%s: %v", input, err)
		}
		if req.DisplayName != nil && d.DisplayName != *req.DisplayName {
			t.Fatalf("%s: answered 200 but the device is named %q", input, d.DisplayName)
		}
	case "get_token":
		str("login_token")
		if _, ok := answer["expires_in_ms"].(float64); !ok {
			t.Fatalf("%s: answer %v without expires_in_ms", input, answer)
		}
	}
	return refreshed
}

// deviceOf returns a fixture's device.
func (fs *fuzzServer) deviceOf(s fuzzSession) (mock.Device, error) {
	for _, d := range fs.hs.Devices(s.user) {
		if d.ID == s.device {
			return d, nil
		}
	}
	return mock.Device{}, fmt.Errorf("device %s is gone", s)
}

// wantClientKnown checks that the client_id a registration answered is
// one the token endpoint knows.
func (fs *fuzzServer) wantClientKnown(t *testing.T, what string, answer map[string]any) {
	t.Helper()
	id, _ := answer["client_id"].(string)
	if id == "" {
		t.Fatalf("%s: 201 answer %v without client_id", what, answer)
	}
	rec := fs.serve("POST", "/oauth2/token", "", "application/x-www-form-urlencoded",
		[]byte(url.Values{"client_id": {id}, "grant_type": {"x-unknown"}}.Encode()))
	if got := decodeObject(t, what, rec); rec.Code != 400 || got["error"] != "unsupported_grant_type" {
		t.Fatalf("%s: the token endpoint answers %d %v for the registered client_id %q", what, rec.Code, got, id)
	}
}

// The OAuth 2.0 endpoints of FuzzOAuthForm: three take a form, the
// authorization endpoint a query.
var oauthEndpoints = []string{"/oauth2/token", "/oauth2/revoke", "/oauth2/device_authorization", "/oauth2/authorize"}

// tokenErrors are the error codes of RFC 6749 §5.2 and RFC 8628 §3.5.
var tokenErrors = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
	"invalid_scope", "authorization_pending", "slow_down", "access_denied", "expired_token",
}

// authorizeErrors are the error codes of RFC 6749 §4.1.2.1.
var authorizeErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
	"invalid_scope", "server_error", "temporarily_unavailable",
}

// The fixtures of FuzzOAuthForm. The redirect URIs are what the clients
// register; fuzzed input names the clients and grants with placeholders,
// which each input gets fresh: $CLIENT (a native client with every grant),
// $WEB (a web client without the device grant), $CODE (an authorization
// code for $CLIENT, redirect_uri http://127.0.0.1/callback, the test's
// PKCE pair, and alice's phone's device: a client signing in again on its
// device), $DEVCODE (an approved device code for $CLIENT, device
// FUZZGRANTDEVICE), $AT and $RT (alice's phone's tokens).
var (
	fuzzNativeRedirects = []string{loopback, "org.example.client:/cb", "http://[::1]/cb"}
	fuzzWebRedirects    = []string{"https://app.client.example.org/cb", "https://client.example.org/done?x=1"}
	fuzzOAuthPhone      = fuzzAlicePhone
)

// oauthFuzz is FuzzOAuthForm's server with its registered clients.
type oauthFuzz struct {
	*fuzzServer
	native, web string
	redirects   map[string][]string // by client ID
}

func (o *oauthFuzz) registerClients(tb testing.TB) {
	tb.Helper()
	reg := func(md map[string]any) string {
		body, _ := json.Marshal(md)
		rec := o.serve("POST", "/oauth2/registration", "", "application/json", body)
		var a map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		id, _ := a["client_id"].(string)
		if rec.Code != 201 || id == "" {
			tb.Fatalf("registration: %d %s", rec.Code, rec.Body.String())
		}
		return id
	}
	o.native = reg(map[string]any{
		"client_uri": "https://client.example.org/", "application_type": "native", "redirect_uris": fuzzNativeRedirects,
		"grant_types": []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
	})
	o.web = reg(map[string]any{
		"client_uri": "https://client.example.org/", "application_type": "web", "redirect_uris": fuzzWebRedirects,
		"grant_types": []string{"authorization_code", "refresh_token"},
	})
	o.redirects = map[string][]string{o.native: fuzzNativeRedirects, o.web: fuzzWebRedirects}
}

// fill replaces the placeholders of a fuzzed input.
func (o *oauthFuzz) fill(t *testing.T, data string) string {
	t.Helper()
	if strings.Contains(data, "$CODE") {
		q := authorizeQuery(o.native, loopback, fuzzOAuthPhone.device)
		rec := o.serve("GET", "/oauth2/authorize?"+q.Encode(), "", "", nil)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != 302 || loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("fixture code: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		data = strings.ReplaceAll(data, "$CODE", loc.Query().Get("code"))
	}
	if strings.Contains(data, "$DEVCODE") {
		rec := o.serve("POST", "/oauth2/device_authorization", "", "application/x-www-form-urlencoded", []byte(url.Values{
			"client_id": {o.native}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:FUZZGRANTDEVICE"},
		}.Encode()))
		var a map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		code, _ := a["device_code"].(string)
		if rec.Code != 200 || code == "" {
			t.Fatalf("fixture device code: %d %s", rec.Code, rec.Body.String())
		}
		data = strings.ReplaceAll(data, "$DEVCODE", code)
	}
	return strings.NewReplacer("$CLIENT", o.native, "$WEB", o.web, "$AT", fuzzOAuthPhone.access, "$RT", fuzzOAuthPhone.refresh).Replace(data)
}

// FuzzOAuthForm sends fuzzed forms to the token, revocation and device
// authorization endpoints and fuzzed queries to the authorization
// endpoint.
func FuzzOAuthForm(f *testing.F) {
	pkce := "&redirect_uri=" + url.QueryEscape(loopback) + "&code_verifier=" + verifier
	for _, seed := range []struct {
		endpoint uint8
		data     string
	}{
		{0, "grant_type=authorization_code&client_id=$CLIENT&code=$CODE" + pkce},
		{0x80, "grant_type=authorization_code&client_id=$CLIENT&code=$CODE" + pkce}, // exchanged, then replayed
		{0x80, "grant_type=authorization_code&client_id=$CLIENT&code=$CODE&redirect_uri=" + url.QueryEscape(loopback) + "&code_verifier=" + strings.Repeat("a", 43)},
		{0, "grant_type=refresh_token&client_id=$CLIENT&refresh_token=$RT"},
		{0x80, "grant_type=refresh_token&client_id=$CLIENT&refresh_token=$RT"},
		{0, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=$CLIENT&device_code=$DEVCODE"},
		{0, "grant_type=authorization_code&client_id=$WEB&code=$CODE" + pkce},
		{0, "grant_type=password&client_id=$CLIENT&username=alice&password=wonderland"},
		{0, "grant_type=%zz"},
		{1, "token=$AT&token_type_hint=access_token&client_id=$CLIENT"},
		{1, "token=unknown"},
		{2, "client_id=$CLIENT&scope=urn%3Amatrix%3Aclient%3Aapi%3A*+urn%3Amatrix%3Aclient%3Adevice%3AFUZZDEVICE01"},
		{2, "client_id=$WEB&scope=openid"},
		{3, seedQuery("$CLIENT", loopback, nil)},
		{3, seedQuery("$WEB", fuzzWebRedirects[1], url.Values{"response_mode": {"fragment"}})},
		{3, seedQuery("$CLIENT", "http://127.0.0.1:8080/callback", url.Values{"code_challenge_method": {"plain"}})},
		{3, seedQuery("$CLIENT", "org.example.client:/cb", url.Values{"scope": {"openid"}, "state": {""}})},
		{3, seedQuery("$WEB", "https://evil.example.com/cb", nil)},
		{3, "client_id=$CLIENT&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%40evil.example.com%2Fcallback&response_type=code"},
	} {
		f.Add(seed.endpoint, seed.data)
	}

	o := &oauthFuzz{fuzzServer: newFuzzServer(f, []fuzzSession{fuzzOAuthPhone}, mock.WithOAuthAutoApprove("alice"))}
	o.registerClients(f)
	o.restock = o.registerClients
	f.Fuzz(func(t *testing.T, which uint8, data string) {
		o.next(t)
		endpoint := oauthEndpoints[int(which&0x7f)%len(oauthEndpoints)]
		sends := 1
		if which&0x80 != 0 {
			sends = 2 // the same request again: a replay
		}
		filled := o.fill(t, data)
		input := fmt.Sprintf("%s %q", endpoint, filled)
		ended := map[fuzzSession]bool{}
		var refreshed bool
		var first oauthOutcome
		for i := range sends {
			before := stateOf(o.hs)
			var rec *httptest.ResponseRecorder
			if endpoint == "/oauth2/authorize" {
				rec = o.serveQuery(endpoint, filled)
			} else {
				rec = o.serve("POST", endpoint, "", "application/x-www-form-urlencoded", []byte(filled))
			}
			if rec.Code >= 500 {
				t.Fatalf("%s: got %d %q", input, rec.Code, rec.Body.String())
			}
			var out oauthOutcome
			switch endpoint {
			case "/oauth2/token":
				out = o.checkToken(t, input, filled, rec)
				refreshed = refreshed || out.refreshed
				if out.device == fuzzOAuthPhone.device {
					ended[fuzzOAuthPhone] = true // a code for the phone's device logs in there again
				}
			case "/oauth2/revoke":
				out.granted = o.checkRevoke(t, input, filled, rec, ended)
			case "/oauth2/device_authorization":
				out.granted = o.checkDeviceAuthorization(t, input, rec)
			default:
				o.checkAuthorize(t, input, filled, rec) // changes no session either way
			}
			if !out.granted {
				after := stateOf(o.hs)
				switch diff := before.diff(after); {
				case diff == "":
				case i == 1 && first.granted && first.device != "" && before.without(o.hs.UserID("alice"), first.device).diff(after) == "":
					// RFC 6749 §4.1.2: a replayed code revokes what its first use gave.
					o.wantEnded(t, input, first.accessToken)
				default:
					t.Fatalf("%s: refused (%d %q), yet the state changed: %s", input, rec.Code, rec.Body.String(), diff)
				}
			}
			if i == 0 {
				first = out
			}
		}
		o.checkFixtures(t, input, ended)
		if refreshed {
			o.restore(t, fuzzOAuthPhone)
		}
	})
}

// oauthOutcome is what an answer of FuzzOAuthForm did.
type oauthOutcome struct {
	granted     bool   // a 200: the request was carried out
	errcode     string // the RFC 6749 error of a refusal
	accessToken string // the token endpoint's
	device      string // the device the token endpoint logged in on
	refreshed   bool   // the fixture was refreshed
}

// wantEnded checks that an access token no longer works.
func (fs *fuzzServer) wantEnded(t *testing.T, what, token string) {
	t.Helper()
	if status, body := fs.whoami(token); status != 401 || body["errcode"] != "M_UNKNOWN_TOKEN" {
		t.Fatalf("%s: the access token of the first use still answers %d %v, want 401 M_UNKNOWN_TOKEN", what, status, body)
	}
}

// seedQuery is a seed for the authorization endpoint: a valid request for
// client (a placeholder) and device FUZZDEVICE01, with set applied.
func seedQuery(client, redirect string, set url.Values) string {
	q := authorizeQuery(client, redirect, "FUZZDEVICE01")
	for k, v := range set {
		q[k] = v
	}
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

// serveQuery sends GET path with a raw query, which may hold bytes
// httptest.NewRequest would refuse.
func (o *oauthFuzz) serveQuery(path, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	req.URL.RawQuery = query
	rec := httptest.NewRecorder()
	o.hs.Handler().ServeHTTP(rec, req)
	return rec
}

// wantOAuthErrorIn checks an RFC 6749 error answer with one of codes.
func wantOAuthErrorIn(t *testing.T, what string, rec *httptest.ResponseRecorder, codes []string) map[string]any {
	t.Helper()
	body := decodeObject(t, what, rec)
	code, _ := body["error"].(string)
	if !slices.Contains(codes, code) || rec.Code != 400 && !(rec.Code == 401 && code == "invalid_client") {
		t.Fatalf("%s: got %d %v, want 400 (401 for invalid_client) with error one of %v", what, rec.Code, body, codes)
	}
	if d, ok := body["error_description"]; ok {
		if _, isString := d.(string); !isString {
			t.Fatalf("%s: error_description %v is not a string", what, d)
		}
	}
	return body
}

// checkToken checks an answer of the token endpoint.
func (o *oauthFuzz) checkToken(t *testing.T, input, form string, rec *httptest.ResponseRecorder) oauthOutcome {
	t.Helper()
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("%s: Cache-Control %q, want no-store", input, cc)
	}
	if rec.Code != 200 {
		body := wantOAuthErrorIn(t, input, rec, tokenErrors)
		return oauthOutcome{errcode: body["error"].(string)}
	}
	body := decodeObject(t, input, rec)
	at, _ := body["access_token"].(string)
	if at == "" || body["token_type"] != "Bearer" {
		t.Fatalf("%s: 200 answer %v without access_token or token type Bearer", input, body)
	}
	_, who := o.whoami(at)
	if who["user_id"] != "@alice:localhost" {
		t.Fatalf("%s: the access token it gave answers whoami with %v", input, who)
	}
	// A refreshed phone keeps its old access token (checkFixtures checks
	// it); it is made again for the next input.
	values, _ := url.ParseQuery(form)
	refreshed := slices.Contains(values["refresh_token"], fuzzOAuthPhone.refresh)
	device, _ := who["device_id"].(string)
	if refreshed {
		device = "" // the same session, refreshed
	}
	return oauthOutcome{granted: true, accessToken: at, device: device, refreshed: refreshed}
}

func (o *oauthFuzz) checkRevoke(t *testing.T, input, form string, rec *httptest.ResponseRecorder, ended map[fuzzSession]bool) (granted bool) {
	t.Helper()
	if rec.Code != 200 {
		wantOAuthErrorIn(t, input, rec, []string{"invalid_request", "invalid_client", "unauthorized_client", "unsupported_token_type"})
		return false
	}
	values, _ := url.ParseQuery(form)
	for _, tok := range values["token"] {
		if tok == fuzzOAuthPhone.access || tok == fuzzOAuthPhone.refresh {
			ended[fuzzOAuthPhone] = true // RFC 7009: revoking either token ends the session
		}
	}
	return true
}

func (o *oauthFuzz) checkDeviceAuthorization(t *testing.T, input string, rec *httptest.ResponseRecorder) (granted bool) {
	t.Helper()
	if rec.Code != 200 {
		wantOAuthErrorIn(t, input, rec, []string{"invalid_request", "invalid_client", "unauthorized_client", "invalid_scope"})
		return false
	}
	body := decodeObject(t, input, rec)
	for _, key := range []string{"device_code", "user_code", "verification_uri"} {
		if s, _ := body[key].(string); s == "" {
			t.Fatalf("%s: 200 answer %v without %s", input, body, key)
		}
	}
	return true
}

// checkAuthorize checks an answer of the authorization endpoint: a page,
// or a redirect to one of the named client's registered redirect URIs
// carrying a code or an error, and the state. The parameters are read as a
// browser client reads them: the raw query or fragment, decoded once.
func (o *oauthFuzz) checkAuthorize(t *testing.T, input, query string, rec *httptest.ResponseRecorder) {
	t.Helper()
	location := rec.Header().Get("Location")
	if rec.Code != http.StatusFound {
		if location != "" || (rec.Code != 200 && rec.Code != 400) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: got %d Location %q Content-Type %q, want a redirect or an HTML page", input, rec.Code, location, rec.Header().Get("Content-Type"))
		}
		return
	}
	q, _ := url.ParseQuery(query) // as the server reads it
	registered, ok := o.redirects[q.Get("client_id")]
	if !ok {
		t.Fatalf("%s: redirect to %q for an unregistered client", input, location)
	}
	to, err := url.Parse(location)
	if err != nil || !slices.ContainsFunc(registered, func(r string) bool { return sameRedirectTarget(r, to) }) {
		t.Fatalf("%s: open redirect to %q, which is none of the client's redirect URIs %v", input, location, registered)
	}
	raw := to.RawQuery
	if q.Get("response_mode") == "fragment" {
		raw = to.EscapedFragment()
	}
	params, _ := url.ParseQuery(raw)
	if !carries(params, q) {
		t.Fatalf("%s: redirect %q carries neither a code nor an RFC 6749 error, or not the state %q", input, location, q.Get("state"))
	}
}

// carries reports whether the parameters of a redirect hold a code or an
// RFC 6749 error, and the state of the request q.
func carries(params, q url.Values) bool {
	code := params.Get("error")
	if code != "" && !slices.Contains(authorizeErrors, code) || code == "" && params.Get("code") == "" {
		return false
	}
	return params.Get("state") == q.Get("state")
}

// sameRedirectTarget reports whether to goes where the registered redirect
// URI goes: the same scheme, host and path; a loopback http URI may change
// port (RFC 8252 §7.3).
func sameRedirectTarget(registered string, to *url.URL) bool {
	r, err := url.Parse(registered)
	if err != nil || r.Scheme != to.Scheme || r.Path != to.Path || r.Opaque != to.Opaque {
		return false
	}
	if r.Scheme == "http" {
		return r.Hostname() == to.Hostname()
	}
	return r.Host == to.Host
}
