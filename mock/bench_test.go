package mock_test

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// The benchmarks below send requests straight to a handler, with no
// network: each has a "mock" sub-benchmark, through the mock's whole handler
// chain (hs.Handler()), and a "baseline" one, through benchBaseline, a bare
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
)

// benchTarget is a server a benchmark measures: its handler, and a way to
// give benchUser a session on a device without going through HTTP.
type benchTarget struct {
	handler http.Handler
	login   func(device string, withRefresh bool) (access, refresh string)
}

// benchTargets returns the mock, with benchUser, and the baseline, with the
// same user, in the order the sub-benchmarks run.
func benchTargets() []struct {
	name string
	new  func(b *testing.B) benchTarget
} {
	return []struct {
		name string
		new  func(b *testing.B) benchTarget
	}{
		{"mock", func(b *testing.B) benchTarget {
			hs := newBenchMock(b)
			return benchTarget{hs.Handler(), func(device string, withRefresh bool) (string, string) {
				s, err := hs.Login(benchUser, device, withRefresh)
				if err != nil {
					b.Fatal(err)
				}
				return s.AccessToken, s.RefreshToken
			}}
		}},
		{"baseline", func(*testing.B) benchTarget {
			base := newBenchBaseline()
			user := base.addUser(benchUser, benchPassword)
			return benchTarget{base, func(device string, withRefresh bool) (string, string) {
				return base.login(user, device, withRefresh)
			}}
		}},
	}
}

// newBenchMock returns a mock with benchUser, on the real clock, as a
// client developer would run it.
func newBenchMock(b *testing.B) *mock.Server {
	hs, err := mock.New(mock.WithServerName(benchServer), mock.WithUser(benchUser, benchPassword))
	if err != nil {
		b.Fatal(err)
	}
	return hs
}

// benchRequest makes the requests of a benchmark cheaply: each is a shallow
// copy of a template (the handlers read the header map, never change it)
// with a fresh body, so that the harness costs both servers little and the
// same.
type benchRequest struct {
	tmpl *http.Request
}

func newBenchRequest(b *testing.B, method, path, token string) benchRequest {
	req, err := http.NewRequest(method, "http://"+benchServer+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:40000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
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
		base := newBenchBaseline()
		for i, token := range tokens {
			base.access[token] = benchAccess{benchDevice{fmt.Sprintf("@user%d:%s", i/perUser, benchServer), fmt.Sprint("DEVICE", i%perUser)}, time.Time{}}
		}
		benchWhoamiRotating(b, base, tokens)
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

func BenchmarkLogin(b *testing.B) {
	body, err := json.Marshal(map[string]any{
		"type":          "m.login.password",
		"identifier":    map[string]string{"type": "m.id.user", "user": benchUser},
		"password":      benchPassword,
		"device_id":     "BENCHLOGIN", // one device: each login ends the previous tokens
		"refresh_token": true,
	})
	if err != nil {
		b.Fatal(err)
	}
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

// benchBaseline is the yardstick: a bare net/http handler that gives the
// four measured requests the same answer as the mock (status, Content-Type,
// CORS headers, JSON body) with the least work that gets them right: random
// tokens as long as the mock's, a login on a device ends its previous
// tokens, a refresh rotates, access tokens expire. cmd/loadtest has its own
// copy.
type benchBaseline struct {
	mux      *http.ServeMux
	lifetime time.Duration

	mu        sync.RWMutex
	passwords map[string]string      // by user ID
	access    map[string]benchAccess // by access token
	refresh   map[string]benchDevice // by refresh token
	devices   map[benchDevice]*benchPair
}

// benchDevice names a device.
type benchDevice struct{ user, device string }

// benchAccess is who an access token belongs to, and until when.
type benchAccess struct {
	benchDevice
	expires time.Time // zero: never
}

// benchPair is a device's tokens, and the previous access token, which
// works until it expires as on the mock.
type benchPair struct{ access, refresh, prevAccess string }

func newBenchBaseline() *benchBaseline {
	b := &benchBaseline{
		mux:       http.NewServeMux(),
		lifetime:  5 * time.Minute,
		passwords: make(map[string]string),
		access:    make(map[string]benchAccess),
		refresh:   make(map[string]benchDevice),
		devices:   make(map[benchDevice]*benchPair),
	}
	b.mux.HandleFunc("GET "+benchVersionsPath, b.versions)
	b.mux.HandleFunc("GET "+benchWhoamiPath, b.whoami)
	b.mux.HandleFunc("POST "+benchLoginPath, b.serveLogin)
	b.mux.HandleFunc("POST "+benchRefreshPath, b.serveRefresh)
	return b
}

func (b *benchBaseline) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

func (b *benchBaseline) addUser(localpart, password string) string {
	id := "@" + localpart + ":" + benchServer
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passwords[id] = password
	return id
}

// login gives user a new pair on device and ends the device's old tokens.
func (b *benchBaseline) login(user, device string, withRefresh bool) (access, refresh string) {
	access = benchToken("mat_")
	var expires time.Time
	if withRefresh {
		refresh, expires = benchToken("mrt_"), time.Now().Add(b.lifetime)
	}
	key := benchDevice{user, device}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.devices[key]; old != nil {
		delete(b.access, old.access)
		delete(b.access, old.prevAccess)
		delete(b.refresh, old.refresh)
	}
	b.devices[key] = &benchPair{access: access, refresh: refresh}
	b.access[access] = benchAccess{key, expires}
	if refresh != "" {
		b.refresh[refresh] = key
	}
	return access, refresh
}

// benchToken returns prefix and 256 random bits in base64url.
func benchToken(prefix string) string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	return prefix + base64.RawURLEncoding.EncodeToString(raw[:])
}

func (b *benchBaseline) versions(w http.ResponseWriter, _ *http.Request) {
	benchWriteJSON(w, http.StatusOK, struct {
		Versions         []string        `json:"versions"`
		UnstableFeatures map[string]bool `json:"unstable_features"`
	}{mock.DefaultVersions, map[string]bool{"org.matrix.msc2918.refresh_token": true}})
}

func (b *benchBaseline) whoami(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	b.mu.RLock()
	a, known := b.access[token]
	b.mu.RUnlock()
	if !ok || !known || !a.expires.IsZero() && !time.Now().Before(a.expires) {
		benchWriteJSON(w, http.StatusUnauthorized, map[string]string{"errcode": "M_UNKNOWN_TOKEN", "error": "refused"})
		return
	}
	benchWriteJSON(w, http.StatusOK, struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
		IsGuest  bool   `json:"is_guest"`
	}{a.user, a.device, false})
}

func (b *benchBaseline) serveLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Type       string `json:"type"`
		Identifier struct {
			Type string `json:"type"`
			User string `json:"user"`
		} `json:"identifier"`
		Password     string `json:"password"`
		DeviceID     string `json:"device_id"`
		RefreshToken bool   `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil ||
		req.Type != "m.login.password" || req.Identifier.Type != "m.id.user" || req.DeviceID == "" {
		benchWriteJSON(w, http.StatusBadRequest, map[string]string{"errcode": "M_BAD_JSON", "error": "refused"})
		return
	}
	user := req.Identifier.User
	if !strings.HasPrefix(user, "@") {
		user = "@" + user + ":" + benchServer
	}
	b.mu.RLock()
	password, ok := b.passwords[user]
	b.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(password), []byte(req.Password)) != 1 {
		benchWriteJSON(w, http.StatusForbidden, map[string]string{"errcode": "M_FORBIDDEN", "error": "refused"})
		return
	}
	access, refresh := b.login(user, req.DeviceID, req.RefreshToken)
	type homeserver struct {
		BaseURL string `json:"base_url"`
	}
	resp := struct {
		UserID       string `json:"user_id"`
		AccessToken  string `json:"access_token"`
		DeviceID     string `json:"device_id"`
		RefreshToken string `json:"refresh_token,omitempty"`
		ExpiresInMs  int64  `json:"expires_in_ms,omitempty"`
		HomeServer   string `json:"home_server"`
		WellKnown    struct {
			Homeserver homeserver `json:"m.homeserver"`
		} `json:"well_known"`
	}{UserID: user, AccessToken: access, DeviceID: req.DeviceID, RefreshToken: refresh, HomeServer: benchServer}
	if refresh != "" {
		resp.ExpiresInMs = b.lifetime.Milliseconds()
	}
	resp.WellKnown.Homeserver.BaseURL = "http://" + r.Host
	benchWriteJSON(w, http.StatusOK, resp)
}

func (b *benchBaseline) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		benchWriteJSON(w, http.StatusBadRequest, map[string]string{"errcode": "M_NOT_JSON", "error": "refused"})
		return
	}
	access, refresh := benchToken("mat_"), benchToken("mrt_")
	expires := time.Now().Add(b.lifetime)
	b.mu.Lock()
	key, ok := b.refresh[req.RefreshToken]
	if !ok {
		b.mu.Unlock()
		benchWriteJSON(w, http.StatusUnauthorized, map[string]string{"errcode": "M_UNKNOWN_TOKEN", "error": "refused"})
		return
	}
	p := b.devices[key]
	delete(b.refresh, p.refresh)
	delete(b.access, p.prevAccess)
	p.prevAccess, p.access, p.refresh = p.access, access, refresh
	b.access[access] = benchAccess{key, expires}
	b.refresh[refresh] = key
	b.mu.Unlock()
	benchWriteJSON(w, http.StatusOK, struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresInMs  int64  `json:"expires_in_ms"`
	}{access, refresh, b.lifetime.Milliseconds()})
}

// benchWriteJSON sends v as JSON with the headers of every client-server
// answer.
func benchWriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
