package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs the command with args on a free loopback port and
// returns its URL, its log, and a stop function that ends it and returns
// the exit code.
func startServer(t *testing.T, args ...string) (url string, log *lockedBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, outW := io.Pipe()
	log = &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), outW, log)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no URL printed: %v; log: %s", err, log)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	stopped := false
	stop = func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		return <-code
	}
	t.Cleanup(func() { stop() })
	return strings.TrimSpace(line), log, stop
}

// post sends a JSON body and decodes the JSON answer.
func post(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	method := http.MethodPost
	if body == nil {
		method = http.MethodGet
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func loginBody(user, password string) map[string]any {
	return map[string]any{
		"type":          "m.login.password",
		"identifier":    map[string]any{"type": "m.id.user", "user": user},
		"password":      password,
		"refresh_token": true,
	}
}

func TestServesDefaultUsersAndStopsCleanly(t *testing.T) {
	url, log, stop := startServer(t, "-log-format", "json")
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed URL %q, want http://127.0.0.1:PORT", url)
	}
	defaultUsers := []string{"alice:wonderland", "bob:builder"} // scenarios/default.yaml
	for _, u := range defaultUsers {
		name, password, _ := strings.Cut(u, ":")
		status, body := post(t, url+"/_matrix/client/v3/login", "", loginBody(name, password))
		if status != 200 || body["user_id"] != "@"+name+":localhost" {
			t.Fatalf("login %s: %d %v", name, status, body)
		}
		token := body["access_token"].(string)
		if status, body := post(t, url+"/_matrix/client/v3/account/whoami", token, nil); status != 200 || body["user_id"] != "@"+name+":localhost" {
			t.Fatalf("whoami %s: %d %v", name, status, body)
		}
		if strings.Contains(log.String(), token) || strings.Contains(log.String(), password) {
			t.Fatalf("the log holds a token or password:\n%s", log)
		}
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d after cancel, want 0; log: %s", code, log)
	}
	// One JSON object per line, each request logged with its operation.
	var logins int
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["operation"] == "login" && rec["status"] == 200.0 {
			logins++
		}
	}
	if logins != len(defaultUsers) {
		t.Errorf("log has %d successful logins, want %d:\n%s", logins, len(defaultUsers), log)
	}
}

func TestFlags(t *testing.T) {
	url, _, _ := startServer(t, "-server-name", "example.org", "-user", "carol:secret:with:colons")
	status, body := post(t, url+"/_matrix/client/v3/login", "", loginBody("carol", "secret:with:colons"))
	if status != 200 || body["user_id"] != "@carol:example.org" {
		t.Fatalf("login: %d %v", status, body)
	}
	// The default scenario's users are there too, on the new server name.
	if status, body := post(t, url+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland")); status != 200 || body["user_id"] != "@alice:example.org" {
		t.Fatalf("default user: %d %v", status, body)
	}
}

// TestRealClockExpiry runs the server on the real clock with a short
// access-token lifetime: once it has passed, the token is refused with
// soft_logout true, and the refresh token gets a working one.
func TestRealClockExpiry(t *testing.T) {
	const lifetime = 300 * time.Millisecond
	url, _, _ := startServer(t, "-access-token-lifetime", lifetime.String())
	status, body := post(t, url+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland"))
	if status != 200 || body["expires_in_ms"] != float64(lifetime.Milliseconds()) {
		t.Fatalf("login: %d %v", status, body)
	}
	token, refresh := body["access_token"].(string), body["refresh_token"].(string)
	time.Sleep(lifetime + 50*time.Millisecond) // the real clock is what this test is about
	status, body = post(t, url+"/_matrix/client/v3/account/whoami", token, nil)
	if status != 401 || body["errcode"] != "M_UNKNOWN_TOKEN" || body["soft_logout"] != true {
		t.Fatalf("whoami after expiry: %d %v, want 401 M_UNKNOWN_TOKEN soft_logout true", status, body)
	}
	status, body = post(t, url+"/_matrix/client/v3/refresh", "", map[string]any{"refresh_token": refresh})
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if status, body := post(t, url+"/_matrix/client/v3/account/whoami", body["access_token"].(string), nil); status != 200 {
		t.Fatalf("whoami after refresh: %d %v", status, body)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-log-format", "xml"},
		{"-user", "nopassword"},
		{"-user", ":x"},
		{"-access-token-lifetime", "soon"},
		{"-user", "Bad Name:x"},
		{"-public-url", "matrix.example.org"},
		{"-public-url", "https://user@matrix.example.org"},
		{"extra"},
	} {
		var stderr lockedBuffer
		if code := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
		if stderr.String() == "" {
			t.Errorf("%v: nothing on stderr", args)
		}
	}
}

func TestAddressInUse(t *testing.T) {
	url, _, _ := startServer(t)
	var stderr lockedBuffer
	addr := strings.TrimPrefix(url, "http://")
	if code := run(context.Background(), []string{"-addr", addr}, io.Discard, &stderr); code != exitFailed {
		t.Fatalf("exit %d on a busy port, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("stderr %q does not say the address is in use", stderr.String())
	}
}

func TestScenarioAndControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sc.yaml")
	const sc = "server: {name: example.org}\nusers: [{id: carol, password: pw, devices: [{id: PHONE, access_token: carol-phone}]}]\n"
	if err := os.WriteFile(path, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-addr", "127.0.0.1:0", "-scenario", path, "-server-name", "override.org", "-control", "-control-token", "sesame"}, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewReader(out)
	url, _ := lines.ReadString('\n')
	tokenLine, _ := lines.ReadString('\n')
	url = strings.TrimSpace(url)
	if strings.TrimSpace(tokenLine) != "control-token sesame" {
		t.Fatalf("second line %q, want the control token", tokenLine)
	}
	// The scenario's device works; -server-name overrode the scenario's name;
	// the default users are not there.
	if status, body := post(t, url+"/_matrix/client/v3/account/whoami", "carol-phone", nil); status != 200 || body["user_id"] != "@carol:override.org" {
		t.Fatalf("whoami: %d %v", status, body)
	}
	if status, _ := post(t, url+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland")); status != 403 {
		t.Fatalf("alice exists with a scenario: %d", status)
	}
	if status, body := post(t, url+"/_mock/users", "sesame", nil); status != 200 || fmt.Sprint(body["users"]) != "[@carol:override.org]" {
		t.Fatalf("control users: %d %v", status, body)
	}
	if status, _ := post(t, url+"/_mock/users", "wrong", nil); status != 403 {
		t.Fatalf("control with a wrong token: %d", status)
	}
	cancel()
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d", c)
	}
}

func TestRandomControlToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	go func() { run(ctx, []string{"-addr", "127.0.0.1:0", "-control"}, outW, io.Discard); outW.Close() }()
	lines := bufio.NewReader(out)
	url, _ := lines.ReadString('\n')
	tokenLine, _ := lines.ReadString('\n')
	token, ok := strings.CutPrefix(strings.TrimSpace(tokenLine), "control-token ")
	if !ok || len(token) != 43 {
		t.Fatalf("token line %q, want a 256-bit token", tokenLine)
	}
	if status, _ := post(t, strings.TrimSpace(url)+"/_mock/clock", token, nil); status != 200 {
		t.Fatalf("control with the printed token: %d", status)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
}

func TestBadScenarioFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("clock: {mode: sideways}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	if code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-scenario", path}, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), path+":1:15: ") {
		t.Fatalf("stderr %q does not name the place", stderr.String())
	}
	if code := run(context.Background(), []string{"-control-token", "x"}, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("-control-token without -control: exit %d", code)
	}
}

// TestOAuthAutoApprove: with -oauth-auto-approve a client that follows the
// spec discovers, registers, logs in, calls whoami, refreshes and revokes
// with no browser.
func TestOAuthAutoApprove(t *testing.T) {
	base, _, _ := startServer(t, "-oauth-auto-approve", "alice")
	status, md := post(t, base+"/_matrix/client/v1/auth_metadata", "", nil)
	if status != 200 {
		t.Fatalf("metadata: %d %v", status, md)
	}
	clientID := registerClient(t, md["registration_endpoint"].(string), "authorization_code", "refresh_token")
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:5555/cb"},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:CLIDEVICE1"}, "state": {"s"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(md["authorization_endpoint"].(string) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorization: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	token := func(v url.Values) map[string]any {
		resp, err := http.PostForm(md["token_endpoint"].(string), v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("token endpoint: %d %v", resp.StatusCode, out)
		}
		return out
	}
	tok := token(url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:5555/cb"}, "client_id": {clientID}, "code_verifier": {verifier}})
	if status, who := post(t, base+"/_matrix/client/v3/account/whoami", tok["access_token"].(string), nil); status != 200 || who["user_id"] != "@alice:localhost" || who["device_id"] != "CLIDEVICE1" {
		t.Fatalf("whoami: %d %v", status, who)
	}
	tok = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {clientID}})
	resp, err = http.PostForm(md["revocation_endpoint"].(string), url.Values{"token": {tok["access_token"].(string)}, "client_id": {clientID}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	resp.Body.Close()
	if status, _ := post(t, base+"/_matrix/client/v3/account/whoami", tok["access_token"].(string), nil); status != 401 {
		t.Fatalf("whoami after revocation: %d", status)
	}
}

// TestWarnsBeyondLoopback: binding to every address is allowed, with a
// warning in the log; binding to loopback (the default, 127.0.0.1:8008)
// gives none.
func TestWarnsBeyondLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	var log lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-addr", "0.0.0.0:0"}, outW, &log); outW.Close() }()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	cancel()
	<-code
	if !strings.Contains(log.String(), "listening beyond loopback") {
		t.Fatalf("no warning for 0.0.0.0:\n%s", log.String())
	}
	url, quiet, _ := startServer(t)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.Contains(quiet.String(), "beyond loopback") {
		t.Fatalf("default bind %s warned: %s", url, quiet.String())
	}
}

// registerClient registers a native client with a loopback redirect URI
// and the grants at endpoint, and returns its client_id.
func registerClient(t *testing.T, endpoint string, grants ...string) string {
	t.Helper()
	reg, _ := json.Marshal(map[string]any{
		"client_name": "cli", "client_uri": "https://cli.example.org/", "application_type": "native",
		"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none",
		"grant_types": grants, "response_types": []string{"code"},
	})
	resp, err := http.Post(endpoint, "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var client map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&client)
	resp.Body.Close()
	clientID, _ := client["client_id"].(string)
	if resp.StatusCode != 201 || clientID == "" {
		t.Fatalf("registration: %d %v", resp.StatusCode, client)
	}
	return clientID
}

// TestPublicURL: with -public-url every URL the server advertises is built
// on it, whatever Host the request names: well_known, the OAuth 2.0
// metadata, the authorization response's iss (RFC 9207) and the device
// verification URI.
func TestPublicURL(t *testing.T) {
	const public = "https://matrix.example.org"
	base, _, _ := startServer(t, "-oauth-auto-approve", "alice", "-public-url", public+"/")
	status, md := post(t, base+"/_matrix/client/v1/auth_metadata", "", nil)
	if status != 200 {
		t.Fatalf("metadata: %d %v", status, md)
	}
	for key, want := range map[string]string{
		"issuer": public + "/", "authorization_endpoint": public + "/oauth2/authorize", "token_endpoint": public + "/oauth2/token",
		"registration_endpoint": public + "/oauth2/registration", "revocation_endpoint": public + "/oauth2/revoke",
		"device_authorization_endpoint": public + "/oauth2/device_authorization", "account_management_uri": public + "/account/",
	} {
		if md[key] != want {
			t.Errorf("%s = %v, want %s", key, md[key], want)
		}
	}
	status, login := post(t, base+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland"))
	if wk, _ := login["well_known"].(map[string]any); status != 200 || fmt.Sprint(wk["m.homeserver"]) != "map[base_url:"+public+"]" {
		t.Fatalf("login: %d %v, want well_known on %s", status, login, public)
	}
	clientID := registerClient(t, base+"/oauth2/registration", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code")
	sum := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:5555/cb"},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:PUBLICDEV1"}, "state": {"s"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("iss") != public+"/" || loc.Query().Get("code") == "" {
		t.Fatalf("authorization response %q, want iss=%s/", resp.Header.Get("Location"), public)
	}
	resp, err = http.PostForm(base+"/oauth2/device_authorization", url.Values{"client_id": {clientID}, "scope": {"urn:matrix:client:api:* urn:matrix:client:device:PUBLICDEV2"}})
	if err != nil {
		t.Fatal(err)
	}
	var device map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&device)
	resp.Body.Close()
	if device["verification_uri"] != public+"/oauth2/device" {
		t.Fatalf("device authorization %v", device)
	}
}

func TestLogLevel(t *testing.T) {
	url, log, stop := startServer(t, "-log-level", "warn", "-log-format", "json")
	if status, body := post(t, url+"/_matrix/client/v3/login", "", loginBody("alice", "wonderland")); status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	if status, body := post(t, url+"/_matrix/client/v3/account/whoami", "not-a-token", nil); status != 401 {
		t.Fatalf("whoami with a bad token: %d %v", status, body)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("exit code %d, want 0; log: %s", code, log)
	}
	// Only the refused whoami is left: the login, the ready and the
	// shutdown lines are info.
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["level"] != "WARN" {
			t.Errorf("line below warn with -log-level warn: %q", line)
		}
		ops = append(ops, fmt.Sprint(rec["operation"], " ", rec["status"]))
	}
	if want := []string{"getTokenOwner 401"}; !slices.Equal(ops, want) {
		t.Errorf("logged %q, want %q; log:\n%s", ops, want, log)
	}
}

func TestBadLogLevel(t *testing.T) {
	for _, value := range []string{"verbose", "WARN", "warn+1", ""} {
		var stderr lockedBuffer
		code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-log-level", value}, io.Discard, &stderr)
		if code != exitUsage {
			t.Errorf("-log-level %q: exit %d, want %d", value, code, exitUsage)
		}
		if want := fmt.Sprintf("-log-level %q: want debug, info, warn or error", value); !strings.Contains(stderr.String(), want) {
			t.Errorf("-log-level %q: stderr %q, want it to say %q", value, stderr.String(), want)
		}
	}
}
