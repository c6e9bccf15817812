package mautrix_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// epoch is where every virtual clock of this suite starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The fixture user, and what the mock's defaults make of it.
const (
	alice         = "alice"
	alicePassword = "wonderland"
	aliceID       = id.UserID("@alice:localhost")
	// accessLifetimeMS is the mock's default access token lifetime (5m).
	accessLifetimeMS = int64(5 * time.Minute / time.Millisecond)
	// refreshFeature is the unstable feature flag of refresh tokens (MSC2918).
	refreshFeature = "org.matrix.msc2918.refresh_token"
)

// startHS runs a mock homeserver with alice and a virtual clock at epoch,
// plus opts.
func startHS(t *testing.T, opts ...mock.Option) *mock.Server {
	t.Helper()
	base := []mock.Option{mock.WithUser(alice, alicePassword), mock.WithVirtualClock(epoch)}
	return mock.Start(t, append(base, opts...)...)
}

// newClient returns a mautrix client for hs with the given access token
// (empty: none). It never retries.
func newClient(t *testing.T, hs *mock.Server, accessToken string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(hs.URL, "", accessToken)
	if err != nil {
		t.Fatalf("mautrix.NewClient(%q): %v", hs.URL, err)
	}
	return cli
}

// passwordLogin is alice's m.login.password login request on deviceID
// (empty: a new device), storing the credentials in the client.
func passwordLogin(deviceID id.DeviceID, withRefresh bool) *mautrix.ReqLogin {
	return &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: alice},
		Password:         alicePassword,
		DeviceID:         deviceID,
		RefreshToken:     withRefresh,
		StoreCredentials: true,
	}
}

// login logs alice in through a new mautrix client and returns the client
// (credentials stored) and the login answer.
func login(t *testing.T, hs *mock.Server, deviceID id.DeviceID, withRefresh bool) (*mautrix.Client, *mautrix.RespLogin) {
	t.Helper()
	cli := newClient(t, hs, "")
	resp, err := cli.Login(t.Context(), passwordLogin(deviceID, withRefresh))
	if err != nil {
		t.Fatalf("Login(device %q, refresh %v): %v", deviceID, withRefresh, err)
	}
	if resp.UserID != aliceID || resp.AccessToken == "" || resp.DeviceID == "" {
		t.Fatalf("Login: user %q, device %q, access token %q; want %q and both set", resp.UserID, resp.DeviceID, resp.AccessToken, aliceID)
	}
	if deviceID != "" && resp.DeviceID != deviceID {
		t.Fatalf("Login on device %q answered device %q", deviceID, resp.DeviceID)
	}
	return cli, resp
}

// respRefresh is the answer of POST /refresh; mautrix v0.26.0 has no type
// for it.
type respRefresh struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresInMS  int64  `json:"expires_in_ms"`
}

// refresh exchanges refreshToken through the client's generic request
// method, as mautrix v0.26.0 has no refresh method. The client sends its
// access token too (it always does); /refresh must ignore it.
func refresh(t *testing.T, cli *mautrix.Client, refreshToken string) (*respRefresh, error) {
	t.Helper()
	var resp *respRefresh
	_, err := cli.MakeRequest(t.Context(), http.MethodPost, cli.BuildClientURL("v3", "refresh"),
		map[string]string{"refresh_token": refreshToken}, &resp)
	return resp, err
}

// mustRefresh refreshes and checks that a new, expiring pair came back.
func mustRefresh(t *testing.T, cli *mautrix.Client, refreshToken string) *respRefresh {
	t.Helper()
	resp, err := refresh(t, cli, refreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if resp.AccessToken == "" || resp.RefreshToken == "" || resp.RefreshToken == refreshToken {
		t.Fatalf("refresh: access token %q, refresh token %q (old %q): want both set and a new refresh token", resp.AccessToken, resp.RefreshToken, refreshToken)
	}
	if resp.ExpiresInMS != accessLifetimeMS {
		t.Fatalf("refresh: expires_in_ms = %d, want %d", resp.ExpiresInMS, accessLifetimeMS)
	}
	return resp
}

// matrixError returns the library's view of a Matrix error answer: the
// HTTPError and its parsed RespError. It fails the test if err is anything
// else.
func matrixError(t *testing.T, err error) (mautrix.HTTPError, *mautrix.RespError) {
	t.Helper()
	if err == nil {
		t.Fatal("got success, want a Matrix error")
	}
	var he mautrix.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not a mautrix.HTTPError", err, err)
	}
	if he.Response == nil {
		t.Fatalf("HTTPError without a response: %v", err)
	}
	if he.RespError == nil {
		t.Fatalf("HTTPError (HTTP %d) without a parsed RespError: %v", he.Response.StatusCode, err)
	}
	return he, he.RespError
}

// wantError checks that err is the Matrix error errcode with HTTP status,
// as mautrix reports it, and that errors.Is matches target.
func wantError(t *testing.T, err error, target mautrix.RespError, status int) *mautrix.RespError {
	t.Helper()
	he, re := matrixError(t, err)
	if re.ErrCode != target.ErrCode {
		t.Errorf("errcode = %q, want %q (error %v)", re.ErrCode, target.ErrCode, err)
	}
	if !errors.Is(err, target) {
		t.Errorf("errors.Is(%v, mautrix.%s) = false", err, target.ErrCode)
	}
	if he.Response.StatusCode != status || re.StatusCode != status || !he.IsStatus(status) {
		t.Errorf("HTTP status = %d (RespError.StatusCode %d), want %d", he.Response.StatusCode, re.StatusCode, status)
	}
	return re
}

// softLogout reads soft_logout from a parsed error: mautrix v0.26.0 keeps
// it in RespError.ExtraData. Missing means false, as the spec says.
func softLogout(t *testing.T, re *mautrix.RespError) bool {
	t.Helper()
	v, ok := re.ExtraData["soft_logout"]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		t.Fatalf("soft_logout = %#v (%T), want a JSON boolean", v, v)
	}
	return b
}

// wantUnknownToken checks that err is 401 M_UNKNOWN_TOKEN with the given
// soft_logout, as the library reports it.
func wantUnknownToken(t *testing.T, err error, soft bool) {
	t.Helper()
	re := wantError(t, err, mautrix.MUnknownToken, http.StatusUnauthorized)
	if got := softLogout(t, re); got != soft {
		t.Errorf("soft_logout = %v, want %v (error %v)", got, soft, err)
	}
}

// whoami checks that the client's access token belongs to alice on device.
func whoami(t *testing.T, cli *mautrix.Client, device id.DeviceID) {
	t.Helper()
	resp, err := cli.Whoami(t.Context())
	if err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	if resp.UserID != aliceID || resp.DeviceID != device {
		t.Fatalf("Whoami = %s on %q, want %s on %q", resp.UserID, resp.DeviceID, aliceID, device)
	}
}

// deviceIDs returns the IDs of the devices the client's GetDevicesInfo
// lists, in the order listed.
func deviceIDs(t *testing.T, cli *mautrix.Client) []id.DeviceID {
	t.Helper()
	resp, err := cli.GetDevicesInfo(t.Context())
	if err != nil {
		t.Fatalf("GetDevicesInfo: %v", err)
	}
	out := make([]id.DeviceID, len(resp.Devices))
	for i, d := range resp.Devices {
		out[i] = d.DeviceID
	}
	return out
}

// mockDeviceIDs returns the IDs of alice's devices as the mock's Go API
// sees them, sorted.
func mockDeviceIDs(hs *mock.Server) []id.DeviceID {
	var out []id.DeviceID
	for _, d := range hs.Devices(alice) {
		out = append(out, id.DeviceID(d.ID))
	}
	return out
}

// count returns how many journal entries match f.
func count(hs *mock.Server, f journal.Filter) int { return hs.Journal().Count(f) }

// uiaChallenge sends req to method url without auth through the client's
// generic request method and decodes the 401 challenge into the library's
// RespUserInteractive. mautrix's DeleteDevice and DeleteDevices drop the
// 401 body, so the session could not be read from them.
func uiaChallenge(t *testing.T, cli *mautrix.Client, method, url string, req any) *mautrix.RespUserInteractive {
	t.Helper()
	body, err := cli.MakeRequest(t.Context(), method, url, req, nil)
	var he mautrix.HTTPError
	if !errors.As(err, &he) || !he.IsStatus(http.StatusUnauthorized) {
		t.Fatalf("%s %s without auth: %v; want HTTP 401", method, url, err)
	}
	if he.RespError != nil {
		t.Errorf("UIA challenge carries errcode %q; the first 401 of a UIA flow has none", he.RespError.ErrCode)
	}
	var uia mautrix.RespUserInteractive
	if err := json.Unmarshal(body, &uia); err != nil {
		t.Fatalf("UIA challenge %q: %v", body, err)
	}
	return &uia
}

// authPassword is the m.login.password UIA stage with an m.id.user
// identifier, which mautrix v0.26.0 has no type for (its ReqUIAuthLogin
// uses the deprecated top-level "user").
type authPassword struct {
	mautrix.BaseAuthData
	Identifier mautrix.UserIdentifier `json:"identifier"`
	Password   string                 `json:"password"`
}

func passwordStage(session, password string) authPassword {
	return authPassword{
		BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: session},
		Identifier:   mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: alice},
		Password:     password,
	}
}
