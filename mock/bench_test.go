package mock_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/internal/baseline"
	"github.com/mxauth/mxauth/mock"
)

// The benchmarks below send requests straight to a handler, with no
// network: each has a "mock" sub-benchmark, through the mock's whole handler
// chain (hs.Handler()), and a "baseline" one, through internal/baseline, a bare
// net/http handler that gives the same answer with the least work. The
// ratio of their ns/op, measured in the same run, is the mock's overhead.
// cmd/loadtest measures the same over real connections.

// The user the benchmarks log in as, and the endpoints they call.
const (
	benchUser     = "alice"
	benchPassword = "wonderland"
	benchServer   = "localhost"

	benchVersionsPath = "/_matrix/client/versions"
	benchWhoamiPath   = "/_matrix/client/v3/account/whoami"
	benchLoginPath    = "/_matrix/client/v3/login"
	benchRefreshPath  = "/_matrix/client/v3/refresh"
	benchOAuthToken   = "/oauth2/token"

	formContentType = "application/x-www-form-urlencoded"
)

// benchTarget is a server a benchmark measures: its handler, a way to give
// benchUser a session on a device without going through HTTP, a way to
// give benchUser an OAuth 2.0 session on a device: a registered client and
// the refresh token the token endpoint rotates, and a room benchUser may
// send messages to.
type benchTarget struct {
	handler    http.Handler
	login      func(device string, withRefresh bool) (access, refresh string)
	oauthLogin func(device string) (clientID, refresh string)
	room       func() string
}

// benchTargets returns the mock, with benchUser, and the baseline, with the
// same user, in the order the sub-benchmarks run.
func benchTargets() []struct {
	name string
	new  func(tb testing.TB) benchTarget
} {
	return []struct {
		name string
		new  func(tb testing.TB) benchTarget
	}{
		{"mock", func(tb testing.TB) benchTarget {
			hs := newBenchMock(tb)
			return benchTarget{
				handler: hs.Handler(),
				login: func(device string, withRefresh bool) (string, string) {
					s, err := hs.Login(benchUser, device, withRefresh)
					if err != nil {
						tb.Fatal(err)
					}
					return s.AccessToken, s.RefreshToken
				},
				oauthLogin: func(device string) (string, string) { return benchOAuthSession(tb, hs.Handler(), device) },
				room: func() string {
					room, err := hs.CreateRoom(benchUser, mock.CreateRoomRequest{})
					if err != nil {
						tb.Fatal(err)
					}
					return room
				},
			}
		}},
		{"baseline", func(testing.TB) benchTarget {
			base := baseline.New(benchServer, "", mock.DefaultVersions())
			user := base.AddUser(benchUser, benchPassword)
			return benchTarget{
				handler: base.Handler(),
				login: func(device string, withRefresh bool) (string, string) {
					return base.Login(user, device, withRefresh)
				},
				oauthLogin: func(device string) (string, string) {
					_, refresh := base.Login(user, device, true)
					return base.AddClient(), refresh
				},
				room: func() string { return "!anyroom:" + benchServer }, // the baseline takes any
			}
		}},
	}
}

// newBenchMock returns a mock with benchUser, on the real clock, as a
// client developer would run it, with the OAuth 2.0 API on and every
// authorization approved as benchUser.
func newBenchMock(tb testing.TB) *mock.Server {
	hs, err := mock.New(mock.WithServerName(benchServer), mock.WithUser(benchUser, benchPassword), mock.WithOAuthAutoApprove(benchUser))
	if err != nil {
		tb.Fatal(err)
	}
	return hs
}

// The PKCE pair and the redirect URI of the benchmarks' OAuth 2.0 client.
const (
	benchVerifier = "bench-verifier-0123456789-0123456789-0123456789"
	benchRedirect = "http://127.0.0.1/callback"
)

// benchOAuthSession gives benchUser an OAuth 2.0 session on device through
// the mock's own endpoints, as a client would: it registers a client,
// follows the authorization URL (auto-approved: the answer is a redirect
// with a code) and exchanges the code. It returns the client's ID and the
// refresh token.
func benchOAuthSession(tb testing.TB, h http.Handler, device string) (clientID, refresh string) {
	tb.Helper()
	serve := func(req *http.Request, want int) *httptest.ResponseRecorder {
		tb.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			tb.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, rec.Code, rec.Body, want)
		}
		return rec
	}
	metadata, err := json.Marshal(map[string]any{
		"client_name": "mock benchmarks", "client_uri": "https://bench.example.org/",
		"application_type": "native", "redirect_uris": []string{benchRedirect},
		"grant_types":    []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "token_endpoint_auth_method": "none",
	})
	if err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/registration", bytes.NewReader(metadata))
	req.Header.Set("Content-Type", "application/json")
	var client struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(serve(req, http.StatusCreated).Body.Bytes(), &client); err != nil || client.ClientID == "" {
		tb.Fatalf("registration answer without a client_id: %v", err)
	}

	sum := sha256.Sum256([]byte(benchVerifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {client.ClientID}, "redirect_uri": {benchRedirect},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:" + device},
		"state": {"bench"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	rec := serve(httptest.NewRequest(http.MethodGet, "/oauth2/authorize?"+q.Encode(), nil), http.StatusFound)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		tb.Fatalf("authorization redirect %q without a code", rec.Header().Get("Location"))
	}

	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {benchRedirect},
		"client_id": {client.ClientID}, "code_verifier": {benchVerifier},
	}
	req = httptest.NewRequest(http.MethodPost, benchOAuthToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", formContentType)
	rec = serve(req, http.StatusOK)
	if refresh = benchRefreshToken(rec.Body.Bytes()); refresh == "" {
		tb.Fatalf("code exchange answer without a refresh token: %s", rec.Body)
	}
	return client.ClientID, refresh
}

// benchRequest makes the requests of a benchmark cheaply: each is a shallow
// copy of a template (the handlers read the header map, never change it)
// with a fresh body, so that the harness costs both servers little and the
// same.
type benchRequest struct {
	tmpl *http.Request
}

func newBenchRequest(tb testing.TB, method, path, token string) benchRequest {
	req, err := http.NewRequest(method, "http://"+benchServer+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	switch {
	case path == benchOAuthToken:
		req.Header.Set("Content-Type", formContentType)
	case method == http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
	}
	return benchRequest{req}
}

// next returns a request to send, with body (nil: none).
func (r benchRequest) next(body []byte) *http.Request {
	req := new(http.Request)
	*req = *r.tmpl
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	return req
}

// benchServe sends req to h and fails the benchmark unless the answer is
// 200 OK.
func benchServe(b *testing.B, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, rec.Code, rec.Body)
	}
	return rec
}

func BenchmarkVersions(b *testing.B) {
	for _, tt := range benchTargets() {
		b.Run(tt.name, func(b *testing.B) {
			t := tt.new(b)
			req := newBenchRequest(b, http.MethodGet, benchVersionsPath, "")
			b.ReportAllocs()
			for b.Loop() {
				benchServe(b, t.handler, req.next(nil))
			}
		})
	}
}

func BenchmarkWhoami(b *testing.B) {
	for _, tt := range benchTargets() {
		b.Run(tt.name, func(b *testing.B) {
			t := tt.new(b)
			access, _ := t.login("WHOAMI", false)
			req := newBenchRequest(b, http.MethodGet, benchWhoamiPath, access)
			b.ReportAllocs()
			for b.Loop() {
				benchServe(b, t.handler, req.next(nil))
			}
		})
	}
}

// benchLiveSessions is the number of live sessions of BenchmarkWhoami100k.
const benchLiveSessions = 100_000

// BenchmarkWhoami100k is BenchmarkWhoami with benchLiveSessions live
// sessions, ten devices per user, each request with the next one's token.
func BenchmarkWhoami100k(b *testing.B) {
	const perUser = 10
	// Tokens as long as generated ones (47 bytes), so that hashing them
	// costs the same.
	tokens := make([]string, benchLiveSessions)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("mat_%043d", i)
	}
	b.Run("mock", func(b *testing.B) {
		hs := newBenchMock(b)
		for i, token := range tokens {
			user := fmt.Sprint("user", i/perUser)
			if i%perUser == 0 {
				if _, err := hs.AddUser(user, "pw"); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := hs.AddSession(user, fmt.Sprint("DEVICE", i%perUser), token, "", 0); err != nil {
				b.Fatal(err)
			}
		}
		benchWhoamiRotating(b, hs.Handler(), tokens)
	})
	b.Run("baseline", func(b *testing.B) {
		base := baseline.New(benchServer, "", mock.DefaultVersions())
		for i, token := range tokens {
			base.AddAccessToken(token, fmt.Sprintf("@user%d:%s", i/perUser, benchServer), fmt.Sprint("DEVICE", i%perUser))
		}
		benchWhoamiRotating(b, base.Handler(), tokens)
	})
}

// benchWhoamiRotating sends whoami requests to h with each of tokens in
// turn.
func benchWhoamiRotating(b *testing.B, h http.Handler, tokens []string) {
	reqs := make([]benchRequest, len(tokens))
	for i, token := range tokens {
		reqs[i] = newBenchRequest(b, http.MethodGet, benchWhoamiPath, token)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		benchServe(b, h, reqs[i].next(nil))
		i = (i + 1) % len(reqs)
	}
}

// benchLoginBody is the body of BenchmarkLogin's requests: a password
// login of benchUser with a refresh token, always on the same device, so
// that each login ends the previous one's tokens.
func benchLoginBody(tb testing.TB) []byte {
	body, err := json.Marshal(map[string]any{
		"type":          "m.login.password",
		"identifier":    map[string]string{"type": "m.id.user", "user": benchUser},
		"password":      benchPassword,
		"device_id":     "BENCHLOGIN",
		"refresh_token": true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

func BenchmarkLogin(b *testing.B) {
	body := benchLoginBody(b)
	for _, tt := range benchTargets() {
		b.Run(tt.name, func(b *testing.B) {
			t := tt.new(b)
			req := newBenchRequest(b, http.MethodPost, benchLoginPath, "")
			b.ReportAllocs()
			for b.Loop() {
				benchServe(b, t.handler, req.next(body))
			}
		})
	}
}

// BenchmarkRefresh follows a rotation: each request sends the refresh token
// the previous answer gave.
func BenchmarkRefresh(b *testing.B) {
	for _, tt := range benchTargets() {
		b.Run(tt.name, func(b *testing.B) {
			t := tt.new(b)
			_, rt := t.login("BENCHREFRESH", true)
			req := newBenchRequest(b, http.MethodPost, benchRefreshPath, "")
			var body []byte
			b.ReportAllocs()
			for b.Loop() {
				body = append(append(append(body[:0], `{"refresh_token":"`...), rt...), `"}`...)
				rec := benchServe(b, t.handler, req.next(body))
				if rt = benchRefreshToken(rec.Body.Bytes()); rt == "" {
					b.Fatalf("no refresh token in %s", rec.Body)
				}
			}
		})
	}
}

// BenchmarkOAuthRefresh follows a rotation at the OAuth 2.0 token endpoint:
// each request is a refresh_token grant, form-encoded, with the refresh
// token the previous answer gave.
func BenchmarkOAuthRefresh(b *testing.B) {
	for _, tt := range benchTargets() {
		b.Run(tt.name, func(b *testing.B) {
			t := tt.new(b)
			clientID, rt := t.oauthLogin("BENCHOAUTHREFRESH")
			req := newBenchRequest(b, http.MethodPost, benchOAuthToken, "")
			var body []byte
			b.ReportAllocs()
			for b.Loop() {
				// Client IDs and tokens are base64url: nothing to escape.
				body = append(append(append(append(body[:0], "grant_type=refresh_token&client_id="...), clientID...), "&refresh_token="...), rt...)
				rec := benchServe(b, t.handler, req.next(body))
				if rt = benchRefreshToken(rec.Body.Bytes()); rt == "" {
					b.Fatalf("no refresh token in %s", rec.Body)
				}
			}
		})
	}
}

// benchRefreshToken returns the refresh_token of a JSON answer, found by
// search rather than decoding so as to cost the harness little. Tokens are
// base64url with a prefix: they hold no escapes.
func benchRefreshToken(answer []byte) string {
	const key = `"refresh_token":"`
	i := bytes.Index(answer, []byte(key))
	if i < 0 {
		return ""
	}
	rest := answer[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// TestBenchBaselineAnswersAlike checks the premise of the benchmarks: to
// each measured request, the baseline answers with the mock's status and
// headers, and a JSON object with the same fields holding the same values,
// the random tokens, event IDs and /sync's stream position excepted.
func TestBenchBaselineAnswersAlike(t *testing.T) {
	var got [2]map[string]*httptest.ResponseRecorder // by endpoint, for the mock and the baseline
	for i, tt := range benchTargets() {
		target := tt.new(t)
		access, _ := target.login("ALIKE", false)
		_, refresh := target.login("ALIKEREFRESH", true)
		clientID, oauthRefresh := target.oauthLogin("ALIKEOAUTHREFRESH")
		sendPath := "/_matrix/client/v3/rooms/" + url.PathEscape(target.room()) + "/send/m.room.message/alike1"
		first := httptest.NewRecorder()
		target.handler.ServeHTTP(first, newBenchRequest(t, http.MethodGet, "/_matrix/client/v3/sync?timeout=0", access).next(nil))
		var initial struct {
			NextBatch string `json:"next_batch"`
		}
		if err := json.Unmarshal(first.Body.Bytes(), &initial); err != nil || initial.NextBatch == "" {
			t.Fatalf("%s: initial sync %d %s", tt.name, first.Code, first.Body)
		}
		got[i] = make(map[string]*httptest.ResponseRecorder)
		// In this order: the sync with nothing new comes before the send.
		for _, r := range []struct {
			name string
			req  *http.Request
		}{
			{"sync", newBenchRequest(t, http.MethodGet, "/_matrix/client/v3/sync?timeout=0&since="+url.QueryEscape(initial.NextBatch), access).next(nil)},
			{"send", newBenchRequest(t, http.MethodPut, sendPath, access).next([]byte(`{"msgtype":"m.text","body":"alike"}`))},
			{"versions", newBenchRequest(t, http.MethodGet, benchVersionsPath, "").next(nil)},
			{"whoami", newBenchRequest(t, http.MethodGet, benchWhoamiPath, access).next(nil)},
			{"login", newBenchRequest(t, http.MethodPost, benchLoginPath, "").next(benchLoginBody(t))},
			{"refresh", newBenchRequest(t, http.MethodPost, benchRefreshPath, "").next([]byte(`{"refresh_token":"` + refresh + `"}`))},
			{"oauth-refresh", newBenchRequest(t, http.MethodPost, benchOAuthToken, "").next(
				[]byte("grant_type=refresh_token&client_id=" + clientID + "&refresh_token=" + oauthRefresh))},
		} {
			rec := httptest.NewRecorder()
			target.handler.ServeHTTP(rec, r.req)
			got[i][r.name] = rec
		}
	}
	// Random on both, or stream positions each server counts its own way.
	tokens := []string{"access_token", "refresh_token", "event_id", "next_batch"}
	for _, name := range slices.Sorted(maps.Keys(got[0])) {
		m, base := got[0][name], got[1][name]
		if m.Code != http.StatusOK || base.Code != m.Code {
			t.Errorf("%s: status %d from the mock, %d from the baseline", name, m.Code, base.Code)
		}
		if !maps.EqualFunc(m.Header(), base.Header(), slices.Equal) {
			t.Errorf("%s: headers differ:\nmock     %v\nbaseline %v", name, m.Header(), base.Header())
		}
		var mb, bb map[string]any
		if err := json.Unmarshal(m.Body.Bytes(), &mb); err != nil {
			t.Fatalf("%s: mock answer %s: %v", name, m.Body, err)
		}
		if err := json.Unmarshal(base.Body.Bytes(), &bb); err != nil {
			t.Fatalf("%s: baseline answer %s: %v", name, base.Body, err)
		}
		for _, k := range tokens {
			if _, ok := mb[k]; ok {
				if _, ok := bb[k].(string); ok {
					mb[k], bb[k] = "token", "token"
				}
			}
		}
		if !reflect.DeepEqual(mb, bb) {
			t.Errorf("%s: bodies differ:\nmock     %s\nbaseline %s", name, m.Body, base.Body)
		}
	}
}

// TestAnswersAsGenerated checks that the answers the mock writes itself,
// for speed, rather than through the generated Visit methods (versions,
// whoami, login, refresh), are what those methods would have written: the
// answer, decoded into the generated type and sent by its Visit method,
// gives the same bytes and the same Content-Type.
func TestAnswersAsGenerated(t *testing.T) {
	hs := newBenchMock(t)
	h := hs.Handler()
	s, err := hs.Login(benchUser, "ASGENERATED", true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		req   *http.Request
		visit func(body []byte, w http.ResponseWriter) error // decodes body and sends it again
	}{
		{"versions", newBenchRequest(t, http.MethodGet, benchVersionsPath, "").next(nil), func(body []byte, w http.ResponseWriter) error {
			var v clientserver.GetVersions200JSONResponse
			if err := json.Unmarshal(body, &v); err != nil {
				return err
			}
			return v.VisitGetVersionsResponse(w)
		}},
		{"whoami", newBenchRequest(t, http.MethodGet, benchWhoamiPath, s.AccessToken).next(nil), func(body []byte, w http.ResponseWriter) error {
			var v clientserver.GetTokenOwner200JSONResponse
			if err := json.Unmarshal(body, &v); err != nil {
				return err
			}
			return v.VisitGetTokenOwnerResponse(w)
		}},
		{"refresh", newBenchRequest(t, http.MethodPost, benchRefreshPath, "").next([]byte(`{"refresh_token":"` + s.RefreshToken + `"}`)), func(body []byte, w http.ResponseWriter) error {
			var v clientserver.Refresh200JSONResponse
			if err := json.Unmarshal(body, &v); err != nil {
				return err
			}
			return v.VisitRefreshResponse(w)
		}},
		{"login", newBenchRequest(t, http.MethodPost, benchLoginPath, "").next(benchLoginBody(t)), func(body []byte, w http.ResponseWriter) error {
			var v clientserver.Login200JSONResponse
			if err := json.Unmarshal(body, &v); err != nil {
				return err
			}
			return v.VisitLoginResponse(w)
		}},
	}
	for _, tt := range tests {
		got := httptest.NewRecorder()
		h.ServeHTTP(got, tt.req)
		if got.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.name, got.Code, got.Body)
		}
		want := httptest.NewRecorder()
		if err := tt.visit(got.Body.Bytes(), want); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s: the mock sends %q (%s), the generated code %q (%s)", tt.name,
				got.Body, got.Header().Get("Content-Type"), want.Body, want.Header().Get("Content-Type"))
		}
	}
}

// BenchmarkNew is how long mock.New takes to return a server with two
// users, ready to serve.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mock.New(mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder")); err != nil {
			b.Fatal(err)
		}
	}
}

// startTB is the testing.TB that BenchmarkStart hands mock.Start: it keeps
// the cleanups, which stop the server, for the benchmark to run after each
// iteration rather than at its end.
type startTB struct {
	testing.TB
	cleanups []func()
}

// Cleanup keeps f for runCleanups.
func (t *startTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// runCleanups runs the cleanups, last added first.
func (t *startTB) runCleanups() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

// BenchmarkStart is how long mock.Start takes to return a server with two
// users, listening on a loopback port. Stopping it is not timed.
func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	tb := &startTB{TB: b}
	for b.Loop() {
		hs := mock.Start(tb, mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder"))
		b.StopTimer()
		if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
			b.Fatalf("URL %q", hs.URL)
		}
		tb.runCleanups()
		b.StartTimer()
	}
}
