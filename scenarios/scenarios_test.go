// The tests of the scenario library: each scenario runs twice, in-process
// with mock.Start and as the mockserver binary with -scenario, and a real
// client (mautrix-go) goes through it while the test asserts what the
// client saw. Time moves only through the mock's virtual clock: hs.Clock() in
// process, the control API for the binary.
package scenarios_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/scenario"
	"github.com/mxauth/mxauth/scenarios"
)

// mockserverBin is the mockserver binary, built once by TestMain.
var mockserverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mxauth-scenarios")
	if err != nil {
		panic(err)
	}
	mockserverBin = filepath.Join(dir, "mockserver")
	build := exec.Command("go", "build", "-o", mockserverBin, "../cmd/mockserver")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building mockserver: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running mock homeserver, whichever way it was started.
type server struct {
	url     string
	advance func(t *testing.T, d time.Duration) // moves the virtual clock
	token   string                              // the binary's control token
}

// load loads a scenario into the binary through the control API.
func (srv server) load(t *testing.T, name string, data []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", srv.url+"/_mock/scenario?name="+url.QueryEscape(name), bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("loading %s: %d", name, resp.StatusCode)
	}
}

// eachWay runs test against the scenario file, once in process and once
// as the mockserver binary.
func eachWay(t *testing.T, file string, test func(t *testing.T, srv server)) {
	t.Run("mock.Start", func(t *testing.T) {
		hs := mock.Start(t, mock.WithScenario(file))
		test(t, server{url: hs.URL, advance: func(_ *testing.T, d time.Duration) { hs.Clock().Advance(d) }})
	})
	t.Run("mockserver", func(t *testing.T) {
		test(t, startBinary(t, file))
	})
}

// startBinary runs mockserver with the scenario and the control API, and
// stops it with SIGTERM when the test ends, checking that it exits 0.
func startBinary(t *testing.T, file string) server {
	t.Helper()
	const token = "scenario-test-token"
	cmd := exec.Command(mockserverBin, "-scenario", file, "-addr", "127.0.0.1:0", "-control", "-control-token", token)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("mockserver printed no URL: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("mockserver did not stop cleanly: %v\n%s", err, stderr.String())
		}
	})
	url = strings.TrimSpace(url)
	return server{url: url, token: token, advance: func(t *testing.T, d time.Duration) {
		t.Helper()
		body := strings.NewReader(`{"by":"` + d.String() + `"}`)
		req, _ := http.NewRequest("POST", url+"/_mock/clock/advance", body)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("advancing the clock: %d", resp.StatusCode)
		}
	}}
}

// client returns a mautrix client for srv that never retries and opens a
// connection per request, so that a dropped connection is seen as one.
func client(t *testing.T, srv server, userID id.UserID, accessToken string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(srv.url, userID, accessToken)
	if err != nil {
		t.Fatal(err)
	}
	cli.Client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	cli.DefaultHTTPRetries = 0
	return cli
}

// passwordLogin logs the client in as user on deviceID (empty: a new one).
func passwordLogin(t *testing.T, cli *mautrix.Client, user, password string, deviceID id.DeviceID, withRefresh bool) *mautrix.RespLogin {
	t.Helper()
	resp, err := tryLogin(t, cli, user, password, deviceID, withRefresh)
	if err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	return resp
}

func tryLogin(t *testing.T, cli *mautrix.Client, user, password string, deviceID id.DeviceID, withRefresh bool) (*mautrix.RespLogin, error) {
	t.Helper()
	return cli.Login(t.Context(), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
		Password:         password,
		DeviceID:         deviceID,
		RefreshToken:     withRefresh,
		StoreCredentials: true,
	})
}

// refreshed is the answer of POST /refresh (mautrix has no type for it).
type refreshed struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresInMS  int64  `json:"expires_in_ms"`
}

// refresh sends POST /refresh through the client's generic request method.
func refresh(t *testing.T, cli *mautrix.Client, refreshToken string) (*refreshed, error) {
	t.Helper()
	var resp *refreshed
	_, err := cli.MakeRequest(t.Context(), http.MethodPost, cli.BuildClientURL("v3", "refresh"),
		map[string]string{"refresh_token": refreshToken}, &resp)
	return resp, err
}

// wantMatrixError checks that err is a Matrix error answer with this status
// and errcode, as mautrix reports it, and returns the parsed error.
func wantMatrixError(t *testing.T, err error, status int, errcode string) *mautrix.RespError {
	t.Helper()
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.RespError == nil {
		t.Fatalf("got %v, want a Matrix error %d %s", err, status, errcode)
	}
	if httpErr.RespError.ErrCode != errcode || httpErr.RespError.StatusCode != status {
		t.Fatalf("got %d %s (%v), want %d %s", httpErr.RespError.StatusCode, httpErr.RespError.ErrCode, err, status, errcode)
	}
	return httpErr.RespError
}

// wantUnknownToken checks a 401 M_UNKNOWN_TOKEN with this soft_logout.
func wantUnknownToken(t *testing.T, err error, soft bool) {
	t.Helper()
	if !errors.Is(err, mautrix.MUnknownToken) {
		t.Fatalf("got %v, want M_UNKNOWN_TOKEN", err)
	}
	re := wantMatrixError(t, err, 401, "M_UNKNOWN_TOKEN")
	if got, _ := re.ExtraData["soft_logout"].(bool); got != soft {
		t.Fatalf("soft_logout = %v (%v), want %v", re.ExtraData["soft_logout"], err, soft)
	}
}

func whoami(t *testing.T, cli *mautrix.Client) (*mautrix.RespWhoami, error) {
	t.Helper()
	return cli.Whoami(t.Context())
}

func mustWhoami(t *testing.T, cli *mautrix.Client, user id.UserID, device id.DeviceID) {
	t.Helper()
	resp, err := whoami(t, cli)
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if resp.UserID != user || resp.DeviceID != device {
		t.Fatalf("whoami: %s on %s, want %s on %s", resp.UserID, resp.DeviceID, user, device)
	}
}

// deviceIDs lists the user's devices as the client sees them.
func deviceIDs(t *testing.T, cli *mautrix.Client) []string {
	t.Helper()
	resp, err := cli.GetDevicesInfo(t.Context())
	if err != nil {
		t.Fatalf("devices: %v", err)
	}
	var ids []string
	for _, d := range resp.Devices {
		ids = append(ids, string(d.DeviceID)+"="+d.DisplayName)
	}
	return ids
}

const (
	alice   = id.UserID("@alice:localhost")
	bob     = id.UserID("@bob:localhost")
	phone   = id.DeviceID("PHONE")
	laptop  = id.DeviceID("LAPTOP")
	alicePW = "wonderland"
)

func TestDefault(t *testing.T) {
	eachWay(t, "default.yaml", func(t *testing.T, srv server) {
		for user, password := range map[id.UserID]string{alice: alicePW, bob: "builder"} {
			cli := client(t, srv, "", "")
			resp := passwordLogin(t, cli, user.Localpart(), password, "", true)
			if resp.ExpiresInMS != 300000 || resp.RefreshToken == "" {
				t.Fatalf("login %s: expires_in_ms %d, refresh token %q", user, resp.ExpiresInMS, resp.RefreshToken)
			}
			mustWhoami(t, cli, user, resp.DeviceID)
		}
	})
}

func TestShortExpiry(t *testing.T) {
	eachWay(t, "short-expiry.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, "", "")
		resp := passwordLogin(t, cli, "alice", alicePW, "", true)
		if resp.ExpiresInMS != 60000 {
			t.Fatalf("expires_in_ms %d, want 60000", resp.ExpiresInMS)
		}
		mustWhoami(t, cli, alice, resp.DeviceID)
		srv.advance(t, time.Minute)
		_, err := whoami(t, cli)
		wantUnknownToken(t, err, true)
		r, err := refresh(t, cli, resp.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		cli.AccessToken = r.AccessToken
		mustWhoami(t, cli, alice, resp.DeviceID)
	})
}

// phoneEndsAt10m checks that alice's phone (cli, with the refresh token
// alice-phone-refresh) works until the clock moves ten minutes, after which
// its access and refresh tokens fail with this soft_logout.
func phoneEndsAt10m(t *testing.T, srv server, cli *mautrix.Client, soft bool) {
	t.Helper()
	mustWhoami(t, cli, alice, phone)
	srv.advance(t, 10*time.Minute)
	_, err := whoami(t, cli)
	wantUnknownToken(t, err, soft)
	_, err = refresh(t, cli, "alice-phone-refresh")
	wantUnknownToken(t, err, soft)
}

func TestSoftLogout(t *testing.T) {
	eachWay(t, "soft-logout.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, alice, "alice-phone")
		phoneEndsAt10m(t, srv, cli, true)

		// Log in again on the same device: it comes back, with its name.
		resp := passwordLogin(t, cli, "alice", alicePW, phone, false)
		if resp.DeviceID != phone {
			t.Fatalf("re-login answered device %s", resp.DeviceID)
		}
		mustWhoami(t, cli, alice, phone)
		if got := strings.Join(deviceIDs(t, cli), ","); got != "PHONE=Alice's phone" {
			t.Fatalf("devices %s", got)
		}
	})
}

func TestHardLogout(t *testing.T) {
	eachWay(t, "hard-logout.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, alice, "alice-phone")
		for range 3 {
			mustWhoami(t, cli, alice, phone)
		}
		_, err := whoami(t, cli)
		wantUnknownToken(t, err, false)

		resp := passwordLogin(t, cli, "alice", alicePW, "", false)
		if resp.DeviceID == phone {
			t.Fatal("a fresh login got the deleted device back")
		}
		if got := deviceIDs(t, cli); len(got) != 1 || strings.HasPrefix(got[0], "PHONE=") {
			t.Fatalf("devices %v, want only the new one", got)
		}
	})
}

func TestDeviceDeletedElsewhere(t *testing.T) {
	eachWay(t, "device-deleted-elsewhere.yaml", func(t *testing.T, srv server) {
		onPhone := client(t, srv, alice, "alice-phone")
		onLaptop := client(t, srv, alice, "alice-laptop")
		mustWhoami(t, onLaptop, alice, laptop)
		if got := strings.Join(deviceIDs(t, onPhone), ","); got != "LAPTOP=Laptop,PHONE=Phone" {
			t.Fatalf("first listing %s", got)
		}
		if got := strings.Join(deviceIDs(t, onPhone), ","); got != "PHONE=Phone" {
			t.Fatalf("second listing %s, want the laptop gone", got)
		}
		_, err := whoami(t, onLaptop)
		wantUnknownToken(t, err, false)
		_, err = refresh(t, onLaptop, "alice-laptop-refresh")
		wantUnknownToken(t, err, false)
		mustWhoami(t, onPhone, alice, phone)
	})
}

func TestRefreshTokenReuse(t *testing.T) {
	eachWay(t, "refresh-token-reuse.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, alice, "alice-phone")
		r, err := refresh(t, cli, "alice-phone-refresh")
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		_, err = whoami(t, cli) // the old access token ended with the refresh
		wantUnknownToken(t, err, false)
		cli.AccessToken = r.AccessToken
		mustWhoami(t, cli, alice, phone)

		_, err = refresh(t, cli, "alice-phone-refresh") // reused after the new pair was used
		wantUnknownToken(t, err, true)
		r2, err := refresh(t, cli, r.RefreshToken)
		if err != nil {
			t.Fatalf("refresh with the current token: %v", err)
		}
		cli.AccessToken = r2.AccessToken
		mustWhoami(t, cli, alice, phone)
	})
}

func TestRateLimitedRefresh(t *testing.T) {
	eachWay(t, "rate-limited-refresh.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, alice, "alice-phone")
		_, err := refresh(t, cli, "alice-phone-refresh")
		if !errors.Is(err, mautrix.MLimitExceeded) {
			t.Fatalf("first refresh: %v, want M_LIMIT_EXCEEDED", err)
		}
		re := wantMatrixError(t, err, 429, "M_LIMIT_EXCEEDED")
		if re.ExtraData["retry_after_ms"] != 500.0 {
			t.Fatalf("retry_after_ms %v", re.ExtraData["retry_after_ms"])
		}
		var httpErr mautrix.HTTPError
		errors.As(err, &httpErr)
		if got := httpErr.Response.Header.Get("Retry-After"); got != "1" {
			t.Fatalf("Retry-After %q", got)
		}
		r, err := refresh(t, cli, "alice-phone-refresh")
		if err != nil {
			t.Fatalf("second refresh: %v", err)
		}
		cli.AccessToken = r.AccessToken
		mustWhoami(t, cli, alice, phone)
	})
}

func TestFlakyServer(t *testing.T) {
	eachWay(t, "flaky-server.yaml", func(t *testing.T, srv server) {
		cli := client(t, srv, "", "")
		first := passwordLogin(t, cli, "alice", alicePW, "", false)

		_, err := tryLogin(t, client(t, srv, "", ""), "alice", alicePW, "", false)
		var httpErr mautrix.HTTPError
		if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != 502 || httpErr.RespError != nil {
			t.Fatalf("second login: %v, want a 502 that is no Matrix error", err)
		}
		if ct := httpErr.Response.Header.Get("Content-Type"); ct != "text/html" {
			t.Fatalf("502 Content-Type %q, want the proxy's text/html", ct)
		}

		for i := 1; i <= 6; i++ {
			_, err := whoami(t, cli)
			switch i {
			case 3, 6:
				wantMatrixError(t, err, 500, "M_UNKNOWN")
			case 5:
				var matrixErr mautrix.HTTPError
				if err == nil || errors.As(err, &matrixErr) && matrixErr.Response != nil {
					t.Fatalf("whoami %d: %v, want a dropped connection", i, err)
				}
			default:
				if err != nil {
					t.Fatalf("whoami %d: %v", i, err)
				}
			}
		}
		mustWhoami(t, cli, alice, first.DeviceID)
	})
}

func TestPasswordChangedElsewhere(t *testing.T) {
	eachWay(t, "password-changed-elsewhere.yaml", func(t *testing.T, srv server) {
		onPhone := client(t, srv, alice, "alice-phone")
		onLaptop := client(t, srv, alice, "alice-laptop")
		mustWhoami(t, onLaptop, alice, laptop)
		mustWhoami(t, onPhone, alice, phone)
		mustWhoami(t, onPhone, alice, phone) // the password changes here
		for _, cli := range []*mautrix.Client{onPhone, onLaptop} {
			_, err := whoami(t, cli)
			wantUnknownToken(t, err, false)
		}
		_, err := refresh(t, onPhone, "alice-phone-refresh")
		wantUnknownToken(t, err, false)

		_, err = tryLogin(t, client(t, srv, "", ""), "alice", alicePW, phone, false)
		wantMatrixError(t, err, 403, "M_FORBIDDEN")
		cli := client(t, srv, "", "")
		resp := passwordLogin(t, cli, "alice", "looking-glass", "", false)
		if resp.DeviceID == phone || resp.DeviceID == laptop {
			t.Fatalf("a fresh login got the deleted device %s back", resp.DeviceID)
		}
		mustWhoami(t, cli, alice, resp.DeviceID)
	})
}

func TestAccountDeactivated(t *testing.T) {
	eachWay(t, "account-deactivated.yaml", func(t *testing.T, srv server) {
		phoneEndsAt10m(t, srv, client(t, srv, alice, "alice-phone"), false)
		_, err := tryLogin(t, client(t, srv, "", ""), "alice", alicePW, "", false)
		if !errors.Is(err, mautrix.MUserDeactivated) {
			t.Fatalf("login: %v, want M_USER_DEACTIVATED", err)
		}
		wantMatrixError(t, err, 403, "M_USER_DEACTIVATED")
		_, err = client(t, srv, "", "").RegisterAvailable(t.Context(), "alice")
		wantMatrixError(t, err, 400, "M_USER_IN_USE")
	})
}

// oauthLogin runs the OAuth 2.0 login with auto-approval against srv as a
// spec-following client would, with plain HTTP, and returns the metadata
// and the token endpoint's answer.
func oauthLogin(t *testing.T, srv server) (metadata, tokens map[string]any, clientID string) {
	t.Helper()
	metadata = getJSON(t, srv.url+"/_matrix/client/v1/auth_metadata", 200)
	reg := postJSON(t, metadata["registration_endpoint"].(string), map[string]any{
		"client_name": "scenario test", "client_uri": "https://client.example.org/", "application_type": "native",
		"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
	}, 201)
	clientID = reg["client_id"].(string)
	verifier := strings.Repeat("0123456789", 5)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:40000/cb"},
		"scope": {"urn:matrix:client:api:* urn:matrix:client:device:SCENARIO01"}, "state": {"xyz"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(metadata["authorization_endpoint"].(string) + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || err != nil || loc.Query().Get("state") != "xyz" {
		t.Fatalf("authorization: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tokens = postForm(t, metadata["token_endpoint"].(string), url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:40000/cb"},
		"client_id": {clientID}, "code_verifier": {verifier},
	}, 200)
	return metadata, tokens, clientID
}

func getJSON(t *testing.T, u string, status int) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, status)
}

func postJSON(t *testing.T, u string, body any, status int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, status)
}

func postForm(t *testing.T, u string, v url.Values, status int) map[string]any {
	t.Helper()
	resp, err := http.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp, status)
}

func decode(t *testing.T, resp *http.Response, status int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %v, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, out, status)
	}
	return out
}

func TestOAuth(t *testing.T) {
	eachWay(t, "oauth.yaml", func(t *testing.T, srv server) {
		md, tokens, clientID := oauthLogin(t, srv)
		if md["account_management_uri"] != srv.url+"/account/" {
			t.Fatalf("metadata %v", md)
		}
		cli := client(t, srv, "", tokens["access_token"].(string))
		mustWhoami(t, cli, alice, "SCENARIO01")
		srv.advance(t, 5*time.Minute)
		_, err := whoami(t, cli)
		wantUnknownToken(t, err, true)
		next := postForm(t, md["token_endpoint"].(string), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)}, "client_id": {clientID}}, 200)
		cli.AccessToken = next["access_token"].(string)
		mustWhoami(t, cli, alice, "SCENARIO01")
		postForm(t, md["revocation_endpoint"].(string), url.Values{"token": {next["refresh_token"].(string)}, "client_id": {clientID}}, 200)
		_, err = whoami(t, cli)
		wantUnknownToken(t, err, false)
		// The legacy login is still on.
		passwordLogin(t, client(t, srv, "", ""), "alice", alicePW, "", false)
	})
}

func TestOAuthOnlyMSCEra(t *testing.T) {
	eachWay(t, "oauth-only-msc-era.yaml", func(t *testing.T, srv server) {
		md, tokens, _ := oauthLogin(t, srv)
		if _, ok := md["account_management_uri"]; ok || md["org.matrix.msc4191.account_management_uri"] != srv.url+"/account/" {
			t.Fatalf("metadata names %v", md)
		}
		actions := fmt.Sprint(md["org.matrix.msc4191.account_management_actions_supported"])
		if !strings.Contains(actions, "org.matrix.session_end") || strings.Contains(actions, "org.matrix.device_delete") {
			t.Fatalf("actions %s", actions)
		}
		mustWhoami(t, client(t, srv, "", tokens["access_token"].(string)), alice, "SCENARIO01")
		_, err := client(t, srv, "", "").GetLoginFlows(t.Context())
		wantMatrixError(t, err, 404, "M_UNRECOGNIZED")
		_, err = tryLogin(t, client(t, srv, "", ""), "alice", alicePW, "", false)
		wantMatrixError(t, err, 404, "M_UNRECOGNIZED")
	})
}

// refreshRetrying refreshes at the token endpoint as a careful client
// does: when the answer is lost (the connection closes, or a proxy says
// 502), it retries once with the same refresh token. It returns the last
// answer's status and body.
func refreshRetrying(t *testing.T, tokenEndpoint, clientID, refreshToken string) (int, map[string]any) {
	t.Helper()
	cli := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {clientID}}
	for attempt := 1; ; attempt++ {
		resp, err := cli.PostForm(tokenEndpoint, form)
		lost := err != nil || resp.StatusCode == http.StatusBadGateway
		if lost && attempt == 1 {
			if resp != nil {
				resp.Body.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("refresh attempt %d: %v", attempt, err)
		}
		if attempt == 1 {
			t.Fatalf("the first refresh was answered (%d): its answer should have been lost", resp.StatusCode)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		return resp.StatusCode, body
	}
}

// TestRefreshAnswerLost: the first refresh's answer is lost and the client
// retries with the refresh token it holds. As the file says (mas), the
// retry gets a working pair; with refresh_replay: strict, set through the
// Go API in process and through the control API for the binary, it is
// invalid_grant and the session is over.
func TestRefreshAnswerLost(t *testing.T) {
	const file = "refresh-answer-lost.yaml"
	eachWay(t, file, func(t *testing.T, srv server) {
		md, tokens, clientID := oauthLogin(t, srv)
		status, body := refreshRetrying(t, md["token_endpoint"].(string), clientID, tokens["refresh_token"].(string))
		if status != 200 {
			t.Fatalf("the retry: %d %v, want a new pair", status, body)
		}
		mustWhoami(t, client(t, srv, "", body["access_token"].(string)), alice, "SCENARIO01")
		srv.advance(t, 2*time.Minute) // the old access token has expired; the new pair refreshes
		postForm(t, md["token_endpoint"].(string), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {clientID}}, 200)
	})

	strict := func(t *testing.T, srv server) {
		md, tokens, clientID := oauthLogin(t, srv)
		status, body := refreshRetrying(t, md["token_endpoint"].(string), clientID, tokens["refresh_token"].(string))
		if status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("the retry: %d %v, want invalid_grant", status, body)
		}
		_, err := whoami(t, client(t, srv, "", tokens["access_token"].(string)))
		wantUnknownToken(t, err, false) // the session is revoked: sign in again
	}
	t.Run("strict/mock.Start", func(t *testing.T) {
		hs := mock.Start(t, mock.WithScenario(file), mock.WithRefreshReplay(scenario.Strict))
		strict(t, server{url: hs.URL, advance: func(_ *testing.T, d time.Duration) { hs.Clock().Advance(d) }})
	})
	t.Run("strict/mockserver", func(t *testing.T) {
		srv := startBinary(t, file)
		data, err := fs.ReadFile(scenarios.Files, file)
		if err != nil {
			t.Fatal(err)
		}
		srv.load(t, file, bytes.Replace(data, []byte("\n  refresh_replay: mas"), []byte("\n  refresh_replay: strict"), 1))
		strict(t, srv)
	})
}

// TestExpiryMidSync: alice's token expires while her /sync long-polls;
// the poll ends at the clock move, her next sync is refused with
// soft_logout true, and after a refresh she resumes from her since token
// and receives what bob wrote meanwhile.
func TestExpiryMidSync(t *testing.T) {
	eachWay(t, "expiry-mid-sync.yaml", func(t *testing.T, srv server) {
		ctx := t.Context()
		cli := client(t, srv, "", "")
		login := passwordLogin(t, cli, "alice", alicePW, "", true)
		bobCli := client(t, srv, "", "")
		passwordLogin(t, bobCli, "bob", "builder", "", false)
		room, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatalf("createRoom: %v", err)
		}
		if _, err := bobCli.JoinRoomByID(ctx, room.RoomID); err != nil {
			t.Fatalf("bob joins: %v", err)
		}
		first, err := cli.SyncRequest(ctx, 0, "", "", false, "")
		if err != nil {
			t.Fatalf("initial sync: %v", err)
		}
		polled := make(chan error, 1)
		go func() {
			_, err := cli.SyncRequest(ctx, 30000, first.NextBatch, "", false, "")
			polled <- err
		}()
		time.Sleep(50 * time.Millisecond) // the poll waits
		srv.advance(t, 2*time.Minute)
		// The poll waiting at the move ends with an empty answer (it was
		// authenticated when it began); on a loaded machine it may begin
		// only after the move, and then meets the expired token at once.
		if err := <-polled; err != nil {
			wantUnknownToken(t, err, true)
		}
		_, err = cli.SyncRequest(ctx, 30000, first.NextBatch, "", false, "")
		wantUnknownToken(t, err, true)
		if _, err := bobCli.SendText(ctx, room.RoomID, "while you refreshed"); err != nil {
			t.Fatal(err)
		}
		r, err := refresh(t, cli, login.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		cli.AccessToken = r.AccessToken
		resumed, err := cli.SyncRequest(ctx, 30000, first.NextBatch, "", false, "")
		if err != nil {
			t.Fatalf("sync after the refresh: %v", err)
		}
		var bodies []string
		for _, evt := range resumed.Rooms.Join[room.RoomID].Timeline.Events {
			if b, ok := evt.Content.Raw["body"].(string); ok {
				bodies = append(bodies, b)
			}
		}
		if strings.Join(bodies, ",") != "while you refreshed" {
			t.Fatalf("messages after resuming: %q, want bob's one", bodies)
		}
	})
}

// TestLibraryIsTested: every scenario file has a test above, parses, and
// says what it is for.
func TestLibraryIsTested(t *testing.T) {
	tested := map[string]bool{
		"default.yaml": true, "short-expiry.yaml": true, "soft-logout.yaml": true, "hard-logout.yaml": true,
		"device-deleted-elsewhere.yaml": true, "refresh-token-reuse.yaml": true,
		"rate-limited-refresh.yaml": true, "flaky-server.yaml": true,
		"oauth.yaml": true, "oauth-only-msc-era.yaml": true, "refresh-answer-lost.yaml": true,
		"password-changed-elsewhere.yaml": true, "account-deactivated.yaml": true,
		"expiry-mid-sync.yaml": true,
	}
	files, err := fs.Glob(scenarios.Files, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !tested[f] {
			t.Errorf("%s has no test", f)
		}
		data, _ := fs.ReadFile(scenarios.Files, f)
		sc, err := scenario.Parse(f, data, nil)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if sc.Description == "" || !bytes.HasPrefix(data, []byte("# ")) {
			t.Errorf("%s: give it a description and a comment at the top", f)
		}
		delete(tested, f)
	}
	for f := range tested {
		t.Errorf("%s is tested but not in the library", f)
	}
	if _, err := scenario.Parse("default.yaml", scenarios.Default, nil); err != nil {
		t.Fatal(err)
	}
}
