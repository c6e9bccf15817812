package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/session"
)

// TestOAuthAgainstMock is the whole life of an OAuth 2.0 session against
// the mock homeserver: discover, register a native client with a loopback
// redirect, log in through the authorization URL (auto-approved), use the
// session, refresh once for 50 requests across the expiry, link to the
// account management page, log out by revocation.
func TestOAuthAgainstMock(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch), mock.WithOAuth(), mock.WithOAuthAutoApprove("alice"))
	evs := &events{}
	cfg := session.Config{HomeserverURL: hs.URL, Now: hs.Clock().Now, OnChange: evs.record}

	meta, err := session.DiscoverOAuth(t.Context(), cfg)
	if err != nil {
		t.Fatalf("DiscoverOAuth: %v", err)
	}
	for got, want := range map[string]string{
		meta.Issuer:                      hs.URL + "/",
		meta.AuthorizationEndpoint:       hs.URL + "/oauth2/authorize",
		meta.TokenEndpoint:               hs.URL + "/oauth2/token",
		meta.RegistrationEndpoint:        hs.URL + "/oauth2/registration",
		meta.RevocationEndpoint:          hs.URL + "/oauth2/revoke",
		meta.DeviceAuthorizationEndpoint: hs.URL + "/oauth2/device_authorization",
		meta.AccountManagementURI:        hs.URL + "/account/",
	} {
		if got != want {
			t.Errorf("metadata has %q, want %q", got, want)
		}
	}
	if !meta.SupportsAction(session.ActionDeviceDelete) || !meta.SupportsAction(session.ActionSessionEnd) {
		t.Errorf("actions %v", meta.AccountManagementActionsSupported)
	}

	oc, err := session.RegisterOAuthClient(t.Context(), cfg, meta, session.ClientMetadata{
		ApplicationType: session.NativeApplication,
		ClientName:      "mxauth integration test",
		ClientURI:       "https://mxauth.example/",
		RedirectURIs:    []string{"http://127.0.0.1/callback"}, // any port (RFC 8252 §7.3)
	})
	if err != nil {
		t.Fatalf("RegisterOAuthClient: %v", err)
	}

	const redirect = "http://127.0.0.1:53682/callback"
	data, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	landed := follow(t, data.URL)
	if !strings.HasPrefix(landed, redirect+"?") {
		t.Fatalf("sent back to %s", landed)
	}
	creds, err := oc.FinishLogin(t.Context(), *data, landed)
	if err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if creds.UserID != "@alice:localhost" || creds.DeviceID != data.DeviceID || creds.RefreshToken == "" || !creds.ExpiresAt.Equal(epoch.Add(5*time.Minute)) {
		t.Fatalf("credentials %+v", creds)
	}
	codeExchanges := hs.Journal().Count(journal.Filter{Path: "/oauth2/token"})
	if codeExchanges != 1 {
		t.Fatalf("%d token requests for the login, want 1", codeExchanges)
	}

	cfg.Credentials, cfg.OAuth = creds, oc
	s, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := clientserver.NewAPI(hs.URL, clientserver.WithHTTPClient(s.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	whoami := func(ctx context.Context) error {
		who, err := api.GetTokenOwner(ctx)
		if err != nil {
			return err
		}
		if who.UserID != creds.UserID || who.DeviceID == nil || *who.DeviceID != creds.DeviceID {
			return fmt.Errorf("whoami: %+v", who)
		}
		return nil
	}
	if err := whoami(t.Context()); err != nil {
		t.Fatal(err)
	}

	// 50 requests across the expiry: one refresh at the token endpoint.
	hs.Clock().Advance(5 * time.Minute)
	const n = 50
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			errs <- whoami(context.Background())
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := hs.Journal().Count(journal.Filter{Path: "/oauth2/token"}) - codeExchanges; got != 1 {
		t.Fatalf("%d refreshes at the token endpoint, want 1", got)
	}
	if got := hs.Journal().Count(journal.Filter{Path: "/oauth2/token", Status: 200}); got != 2 {
		t.Fatalf("%d successful token requests, want 2", got)
	}
	refreshed := s.Credentials()
	if refreshed.RefreshToken == creds.RefreshToken || refreshed.AccessToken == creds.AccessToken || !refreshed.ExpiresAt.Equal(epoch.Add(10*time.Minute)) {
		t.Fatalf("credentials after the refresh %+v", refreshed)
	}
	if got := evs.kinds(); got != "refreshed" {
		t.Fatalf("events %s", got)
	}

	// The account management page, to delete this device.
	link, err := oc.AccountManagementURL(session.AccountManagementRequest{Action: session.ActionDeviceDelete, DeviceID: creds.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	if want := hs.URL + "/account/?action=org.matrix.device_delete&device_id=" + creds.DeviceID; link != want {
		t.Fatalf("account management URL %s, want %s", link, want)
	}

	// Log out: the refresh token is revoked, the session ends here and there.
	if err := s.Logout(t.Context()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if got := hs.Journal().Count(journal.Filter{Path: "/oauth2/revoke", Status: 200}); got != 1 {
		t.Fatalf("%d revocations, want 1", got)
	}
	if err := whoami(t.Context()); !errors.Is(err, session.ErrLoggedOut) {
		t.Fatalf("whoami after Logout: %v, want ErrLoggedOut", err)
	}
	if got := evs.kinds(); got != "refreshed,logged out" {
		t.Fatalf("events %s", got)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+"/_matrix/client/v3/account/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+refreshed.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if e := session.ParseError(resp); e == nil || e.StatusCode != 401 || !errors.Is(e, session.ErrUnknownToken) || e.SoftLogout {
		t.Fatalf("the revoked access token: %v, want 401 M_UNKNOWN_TOKEN without soft logout", e)
	}
	if d := hs.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices after the revocation %+v", d)
	}
}

// TestOAuthAgainstMockErrors: what the mock refuses comes back typed.
func TestOAuthAgainstMockErrors(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithVirtualClock(epoch), mock.WithOAuth(), mock.WithOAuthAutoApprove("alice"))
	cfg := session.Config{HomeserverURL: hs.URL, Now: hs.Clock().Now}
	meta, err := session.DiscoverOAuth(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := session.RegisterOAuthClient(t.Context(), cfg, meta, session.ClientMetadata{
		ApplicationType: session.NativeApplication, ClientURI: "https://mxauth.example/", RedirectURIs: []string{"http://127.0.0.1/callback"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:1234/callback"})
	if err != nil {
		t.Fatal(err)
	}
	landed := follow(t, data.URL)
	if _, err := oc.FinishLogin(t.Context(), *data, landed); err != nil {
		t.Fatal(err)
	}
	// A code is good once.
	if _, err := oc.FinishLogin(t.Context(), *data, landed); !errors.Is(err, session.ErrInvalidGrant) {
		t.Fatalf("second FinishLogin: %v, want invalid_grant", err)
	}
	// An unknown client.
	stranger, err := session.RestoreOAuthClient(cfg, meta, "no-such-client")
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := stranger.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:1234/callback"})
	if _, err := stranger.FinishLogin(t.Context(), *data2, "http://127.0.0.1:1234/callback?code=x&state="+data2.State); !errors.Is(err, session.ErrInvalidClient) && !errors.Is(err, session.ErrInvalidGrant) {
		t.Fatalf("FinishLogin of an unknown client: %v", err)
	}
}

// TestOAuthAgainstMockMSCNames: a server of the MSC era, with the unstable
// metadata field names and the old action names; and a registration the
// mock refuses.
func TestOAuthAgainstMockMSCNames(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("msc.yaml", []byte(`
server: {auth: [oauth]}
oauth: {auto_approve: alice, metadata_names: unstable, action_names: msc}
users: [{id: alice, password: pw}]
`)))
	cfg := session.Config{HomeserverURL: hs.URL}
	meta, err := session.DiscoverOAuth(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if meta.AccountManagementURI != hs.URL+"/account/" || fmtActions(meta.AccountManagementActionsSupported) !=
		"[org.matrix.profile org.matrix.sessions_list org.matrix.session_view org.matrix.session_end org.matrix.account_deactivate org.matrix.cross_signing_reset]" {
		t.Fatalf("metadata %+v", meta)
	}
	link, err := meta.AccountManagementURL(session.AccountManagementRequest{Action: session.ActionDeviceDelete, DeviceID: "ABCDEFGHIJ"})
	if want := hs.URL + "/account/?action=org.matrix.session_end&device_id=ABCDEFGHIJ"; err != nil || link != want {
		t.Fatalf("account management URL %q, %v; want %s", link, err, want)
	}

	_, err = session.RegisterOAuthClient(t.Context(), cfg, meta, session.ClientMetadata{
		ApplicationType: session.NativeApplication, ClientURI: "http://insecure.example/", RedirectURIs: []string{"http://127.0.0.1/callback"},
	})
	var e *session.Error
	if !errors.Is(err, session.ErrInvalidClientMetadata) || !errors.As(err, &e) || e.StatusCode != 400 || e.Message == "" {
		t.Fatalf("RegisterOAuthClient with an http client_uri: %v", err)
	}
}
