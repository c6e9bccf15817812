package mautrix_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/mxauth/mxauth/mock"
)

// TestDiscovery: mautrix's well-known discovery always asks
// https://<server name>/.well-known/matrix/client, so the mock's handler is
// served here over TLS (httptest) and the library is given the test
// server's trusting HTTP client through DiscoverClientAPIWithClient; plain
// DiscoverClientAPI cannot be used, as it builds its own http.Client that
// does not trust the test certificate. The discovered base URL then serves
// a login whose well_known the library stores with StoreHomeserverURL.
func TestDiscovery(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	serverName := ts.Listener.Addr().String() // host:port
	base := "https://" + serverName
	hs, err := mock.New(mock.WithUser(alice, alicePassword), mock.WithVirtualClock(epoch), mock.WithPublicURL(base))
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = hs.Handler()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ctx := t.Context()

	wk, err := mautrix.DiscoverClientAPIWithClient(ctx, ts.Client(), serverName)
	if err != nil {
		t.Fatalf("DiscoverClientAPIWithClient(%s): %v", serverName, err)
	}
	if wk == nil || wk.Homeserver.BaseURL != base {
		t.Fatalf("discovered %+v, want m.homeserver base_url %s", wk, base)
	}

	cli, err := mautrix.NewClient(wk.Homeserver.BaseURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cli.Client = ts.Client()
	v, err := cli.Versions(ctx)
	if err != nil {
		t.Fatalf("Versions over TLS: %v", err)
	}
	if !v.Contains(mautrix.MustParseSpecVersion("v1.18")) {
		t.Errorf("versions over TLS = %v, want v1.18 among them", v.Versions)
	}

	req := passwordLogin("", false)
	req.StoreHomeserverURL = true
	resp, err := cli.Login(ctx, req)
	if err != nil {
		t.Fatalf("Login over TLS: %v", err)
	}
	if resp.WellKnown == nil || resp.WellKnown.Homeserver.BaseURL != base {
		t.Errorf("login well_known = %+v, want base_url %s", resp.WellKnown, base)
	}
	if cli.HomeserverURL.String() != base {
		t.Errorf("StoreHomeserverURL: client URL %s, want %s", cli.HomeserverURL, base)
	}
	whoami(t, cli, resp.DeviceID)

	// The plain-HTTP server of mock.Start answers the same document, with
	// its own URL, to a client that fetches it itself.
	plain := startHS(t)
	pc := newClient(t, plain, "")
	var doc mautrix.ClientWellKnown
	if _, err := pc.MakeRequest(ctx, http.MethodGet, pc.BuildURL(mautrix.BaseURLPath{".well-known", "matrix", "client"}), nil, &doc); err != nil {
		t.Fatalf("GET /.well-known/matrix/client: %v", err)
	}
	if doc.Homeserver.BaseURL != plain.URL {
		t.Errorf("well-known base_url = %q, want %q", doc.Homeserver.BaseURL, plain.URL)
	}
}
