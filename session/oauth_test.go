package session_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/matrixerr"
	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/session"
)

func TestCodeChallengeS256(t *testing.T) {
	// RFC 7636, appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	if got := session.CodeChallengeS256(verifier); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge %q", got)
	}
}

func TestNewDeviceID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := session.NewDeviceID()
		if !regexp.MustCompile(`^[A-Z]{10}$`).MatchString(id) {
			t.Fatalf("device ID %q", id)
		}
		if seen[id] {
			t.Fatalf("device ID %q twice", id)
		}
		seen[id] = true
	}
}

func TestDiscoverOAuth(t *testing.T) {
	unstableNames := func(m map[string]any) {
		m["org.matrix.msc4191.account_management_uri"] = m["account_management_uri"]
		m["org.matrix.msc4191.account_management_actions_supported"] = []string{"org.matrix.profile", "org.matrix.sessions_list", "org.matrix.session_end"}
		delete(m, "account_management_uri")
		delete(m, "account_management_actions_supported")
	}
	failing := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 500, map[string]any{"errcode": "M_UNKNOWN", "error": "boom"})
	}
	for _, tt := range []struct {
		name             string
		stable, unstable http.HandlerFunc
		edit             func(map[string]any)
		wantErr          error
		wantActions      string
	}{
		{name: "stable", wantActions: "[org.matrix.profile org.matrix.devices_list org.matrix.device_view org.matrix.device_delete org.matrix.account_deactivate org.matrix.cross_signing_reset]"},
		{name: "fallback on 404", stable: unrecognized(404), wantActions: "[org.matrix.profile org.matrix.devices_list org.matrix.device_view org.matrix.device_delete org.matrix.account_deactivate org.matrix.cross_signing_reset]"},
		{name: "fallback on a bare 404", stable: http.NotFound},
		{name: "fallback on 400 M_UNRECOGNIZED (Synapse)", stable: unrecognized(400)},
		{name: "unstable field names", edit: unstableNames, wantActions: "[org.matrix.profile org.matrix.sessions_list org.matrix.session_end]"},
		{name: "stable names first", edit: func(m map[string]any) {
			m["org.matrix.msc4191.account_management_uri"] = "https://old.example/"
			m["org.matrix.msc4191.account_management_actions_supported"] = []string{"org.matrix.session_end"}
		}, wantActions: "[org.matrix.profile org.matrix.devices_list org.matrix.device_view org.matrix.device_delete org.matrix.account_deactivate org.matrix.cross_signing_reset]"},
		{name: "no OAuth", stable: unrecognized(404), unstable: unrecognized(404), wantErr: session.ErrOAuthNotSupported},
		{name: "server error: no fallback", stable: failing, wantErr: session.ErrUnknown},
		{name: "invalid metadata", edit: func(m map[string]any) { delete(m, "token_endpoint") }, wantErr: session.ErrInvalidServerMetadata},
		{name: "metadata not JSON", stable: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>hello</html>")) }, wantErr: session.ErrInvalidServerMetadata},
		{name: "metadata of the wrong shape", edit: func(m map[string]any) { m["issuer"] = 7 }, wantErr: session.ErrInvalidServerMetadata},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			f.set(func(f *fakeAS) { f.stable, f.unstable, f.edit = tt.stable, tt.unstable, tt.edit })
			m, err := session.DiscoverOAuth(t.Context(), session.Config{HomeserverURL: f.srv.URL + "/"})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DiscoverOAuth: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Issuer != f.srv.URL+"/" || m.TokenEndpoint != f.srv.URL+"/oauth2/token" || m.AccountManagementURI != f.srv.URL+"/account/" {
				t.Fatalf("metadata %+v", m)
			}
			if tt.wantActions != "" && fmtActions(m.AccountManagementActionsSupported) != tt.wantActions {
				t.Fatalf("actions %v, want %s", m.AccountManagementActionsSupported, tt.wantActions)
			}
		})
	}
	t.Run("an empty list of actions is not an absent one", func(t *testing.T) {
		f := newFakeAS(t)
		for _, tt := range []struct {
			list    any
			wantNil bool
		}{{[]string{}, false}, {nil, true}} {
			f.set(func(f *fakeAS) {
				f.edit = func(m map[string]any) {
					delete(m, "account_management_actions_supported")
					if tt.list != nil {
						m["account_management_actions_supported"] = tt.list
					}
				}
			})
			m, err := session.DiscoverOAuth(t.Context(), session.Config{HomeserverURL: f.srv.URL})
			if err != nil || (m.AccountManagementActionsSupported == nil) != tt.wantNil || len(m.AccountManagementActionsSupported) != 0 {
				t.Fatalf("list %v: actions %#v, %v", tt.list, m.AccountManagementActionsSupported, err)
			}
		}
	})
	t.Run("no OAuth wraps the server's error", func(t *testing.T) {
		f := newFakeAS(t)
		f.set(func(f *fakeAS) { f.stable, f.unstable = unrecognized(404), unrecognized(404) })
		_, err := session.DiscoverOAuth(t.Context(), session.Config{HomeserverURL: f.srv.URL})
		var e *session.Error
		if !errors.Is(err, session.ErrUnrecognized) || !errors.As(err, &e) || e.StatusCode != 404 {
			t.Fatalf("DiscoverOAuth: %v", err)
		}
	})
}

func fmtActions(a []session.AccountManagementAction) string {
	var s []string
	for _, x := range a {
		s = append(s, string(x))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// validMetadata is metadata that passes Validate.
func validMetadata() session.ServerMetadata {
	return session.ServerMetadata{
		Issuer:                        "https://auth.example.org/",
		AuthorizationEndpoint:         "https://auth.example.org/authorize",
		TokenEndpoint:                 "https://auth.example.org/token",
		RegistrationEndpoint:          "https://auth.example.org/register",
		RevocationEndpoint:            "https://auth.example.org/revoke",
		ResponseTypesSupported:        []string{"code"},
		ResponseModesSupported:        []string{"query", "fragment"},
		GrantTypesSupported:           []string{"authorization_code", "refresh_token"},
		CodeChallengeMethodsSupported: []string{"plain", "S256"},
		PromptValuesSupported:         []string{"create"},
		AccountManagementURI:          "https://auth.example.org/account?lang=en",
	}
}

func TestValidateMetadata(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*session.ServerMetadata)
		want string // in the message; empty: valid
	}{
		{"valid", func(*session.ServerMetadata) {}, ""},
		{"no registration or revocation endpoint", func(m *session.ServerMetadata) { m.RegistrationEndpoint, m.RevocationEndpoint = "", "" }, ""},
		{"no issuer", func(m *session.ServerMetadata) { m.Issuer = "" }, "issuer is missing"},
		{"no authorization endpoint", func(m *session.ServerMetadata) { m.AuthorizationEndpoint = "" }, "authorization_endpoint is missing"},
		{"no token endpoint", func(m *session.ServerMetadata) { m.TokenEndpoint = "" }, "token_endpoint is missing"},
		{"relative token endpoint", func(m *session.ServerMetadata) { m.TokenEndpoint = "/token" }, `token_endpoint "/token" is not an absolute`},
		{"bad revocation endpoint", func(m *session.ServerMetadata) { m.RevocationEndpoint = "ftp://x/revoke" }, "revocation_endpoint"},
		{"no code", func(m *session.ServerMetadata) { m.ResponseTypesSupported = []string{"token"} }, `response_types_supported lacks "code"`},
		{"no refresh grant", func(m *session.ServerMetadata) { m.GrantTypesSupported = []string{"authorization_code"} }, `grant_types_supported lacks "refresh_token"`},
		{"no code grant", func(m *session.ServerMetadata) { m.GrantTypesSupported = nil }, `grant_types_supported lacks "authorization_code"`},
		{"no S256", func(m *session.ServerMetadata) { m.CodeChallengeMethodsSupported = []string{"plain"} }, `code_challenge_methods_supported lacks "S256"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := validMetadata()
			tt.edit(&m)
			err := m.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, session.ErrInvalidServerMetadata) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestServerMetadataJSON(t *testing.T) {
	m := validMetadata()
	m.AccountManagementActionsSupported = []session.AccountManagementAction{} // lists none: not the same as not saying
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"account_management_actions_supported":[]`) || strings.Contains(string(data), "msc4191") {
		t.Fatalf("JSON %s", data)
	}
	var back session.ServerMetadata
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.AccountManagementActionsSupported == nil || back.Issuer != m.Issuer || back.AccountManagementURI != m.AccountManagementURI {
		t.Fatalf("round trip %+v", back)
	}
	m.AccountManagementActionsSupported = nil
	data, _ = json.Marshal(m)
	back = session.ServerMetadata{}
	_ = json.Unmarshal(data, &back)
	if back.AccountManagementActionsSupported != nil {
		t.Fatalf("round trip of no list: %v", back.AccountManagementActionsSupported)
	}
}

// register discovers f's metadata and registers a native client with a
// loopback redirect.
func register(t *testing.T, f *fakeAS, cfg session.Config) *session.OAuthClient {
	t.Helper()
	meta, err := session.DiscoverOAuth(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := session.RegisterOAuthClient(t.Context(), cfg, meta, session.ClientMetadata{
		ApplicationType: session.NativeApplication,
		ClientName:      "mxauth test",
		ClientURI:       "https://mxauth.example/",
		RedirectURIs:    []string{"http://127.0.0.1/callback"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return oc
}

func TestRegisterOAuthClient(t *testing.T) {
	f := newFakeAS(t)
	cfg := session.Config{HomeserverURL: f.srv.URL}
	oc := register(t, f, cfg)
	if oc.ClientID() != "client-1" {
		t.Fatalf("client ID %q", oc.ClientID())
	}
	got, _ := json.Marshal(f.registered()[0])
	want := `{"application_type":"native","client_name":"mxauth test","client_uri":"https://mxauth.example/",` +
		`"grant_types":["authorization_code","refresh_token"],"redirect_uris":["http://127.0.0.1/callback"],` +
		`"response_types":["code"],"token_endpoint_auth_method":"none"}`
	if string(got) != want {
		t.Fatalf("registration body\n%s\nwant\n%s", got, want)
	}
	if oc.Metadata().Issuer != f.srv.URL+"/" {
		t.Fatalf("metadata %+v", oc.Metadata())
	}

	t.Run("refused", func(t *testing.T) {
		f.set(func(f *fakeAS) {
			f.registrationError = &fakeError{400, `{"error":"invalid_redirect_uri","error_description":"redirect URIs must share the client_uri's host"}`}
		})
		_, err := session.RegisterOAuthClient(t.Context(), cfg, oc.Metadata(), session.ClientMetadata{
			ApplicationType: session.WebApplication, ClientURI: "https://a.example/", RedirectURIs: []string{"https://b.example/cb"},
		})
		var e *session.Error
		if !errors.Is(err, session.ErrInvalidRedirectURI) || !errors.As(err, &e) || e.StatusCode != 400 || !strings.Contains(e.Message, "share") {
			t.Fatalf("RegisterOAuthClient: %v", err)
		}
		if errors.Is(err, session.ErrInvalidClientMetadata) {
			t.Fatal("matches another code")
		}
	})
	t.Run("checked before sending", func(t *testing.T) {
		sent := len(f.registered())
		for _, bad := range []session.ClientMetadata{
			{ApplicationType: "desktop", ClientURI: "https://a.example/", RedirectURIs: []string{"http://127.0.0.1/cb"}},
			{ApplicationType: session.NativeApplication, RedirectURIs: []string{"http://127.0.0.1/cb"}},
			{ApplicationType: session.NativeApplication, ClientURI: "https://a.example/"},
			{ApplicationType: session.NativeApplication, ClientURI: "https://a.example/", RedirectURIs: []string{"/cb"}},
		} {
			if _, err := session.RegisterOAuthClient(t.Context(), cfg, oc.Metadata(), bad); err == nil {
				t.Errorf("registered %+v", bad)
			}
		}
		m := oc.Metadata()
		m.RegistrationEndpoint = ""
		if _, err := session.RegisterOAuthClient(t.Context(), cfg, m, session.ClientMetadata{
			ApplicationType: session.NativeApplication, ClientURI: "https://a.example/", RedirectURIs: []string{"http://127.0.0.1/cb"},
		}); !errors.Is(err, session.ErrInvalidServerMetadata) {
			t.Errorf("without registration endpoint: %v", err)
		}
		if len(f.registered()) != sent {
			t.Fatal("a bad registration was sent")
		}
	})
	t.Run("restore", func(t *testing.T) {
		r, err := session.RestoreOAuthClient(cfg, oc.Metadata(), "client-1")
		if err != nil || r.ClientID() != "client-1" {
			t.Fatalf("RestoreOAuthClient: %v", err)
		}
		if _, err := session.RestoreOAuthClient(cfg, oc.Metadata(), ""); err == nil {
			t.Fatal("restored an empty client ID")
		}
	})
}

func TestAuthorizationURL(t *testing.T) {
	meta := validMetadata()
	meta.AuthorizationEndpoint = "https://auth.example.org/authorize?tenant=matrix"
	oc, err := session.RestoreOAuthClient(session.Config{HomeserverURL: "https://matrix.example.org"}, &meta, "client-7")
	if err != nil {
		t.Fatal(err)
	}
	data, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:4242/callback"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(data.URL)
	q := u.Query()
	if u.Host != "auth.example.org" || u.Path != "/authorize" || q.Get("tenant") != "matrix" {
		t.Fatalf("URL %s", data.URL)
	}
	want := map[string]string{
		"response_type": "code", "client_id": "client-7", "redirect_uri": "http://127.0.0.1:4242/callback",
		"scope":                 "urn:matrix:client:api:* urn:matrix:client:device:" + data.DeviceID,
		"state":                 data.State,
		"code_challenge":        session.CodeChallengeS256(data.CodeVerifier),
		"code_challenge_method": "S256", "response_mode": "query", "prompt": "", "login_hint": "",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if !regexp.MustCompile(`^[A-Z]{10}$`).MatchString(data.DeviceID) {
		t.Errorf("device ID %q", data.DeviceID)
	}
	if s, err := base64.RawURLEncoding.DecodeString(data.State); err != nil || len(s) < 16 {
		t.Errorf("state %q is not ≥128 bits of base64url", data.State)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`).MatchString(data.CodeVerifier) {
		t.Errorf("verifier %q", data.CodeVerifier)
	}
	if data.RedirectURI != "http://127.0.0.1:4242/callback" || data.ResponseMode != "query" || data.ClientID != "client-7" {
		t.Errorf("data %+v", data)
	}
	again, _ := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:4242/callback"})
	if again.State == data.State || again.CodeVerifier == data.CodeVerifier || again.DeviceID == data.DeviceID {
		t.Error("two logins share random values")
	}

	// The data survives being kept as JSON.
	kept, _ := json.Marshal(data)
	var back session.AuthorizationData
	if err := json.Unmarshal(kept, &back); err != nil || back != *data {
		t.Fatalf("round trip %+v, %v", back, err)
	}

	t.Run("options", func(t *testing.T) {
		data, err := oc.AuthorizationURL(session.AuthorizationRequest{
			RedirectURI: "https://app.example/cb", DeviceID: "PHONE", ResponseMode: session.ResponseModeFragment,
			Prompt: session.PromptCreate, LoginHint: "mxid:@alice:example.org",
		})
		if err != nil {
			t.Fatal(err)
		}
		q := must(url.Parse(data.URL)).Query()
		if q.Get("scope") != "urn:matrix:client:api:* urn:matrix:client:device:PHONE" || q.Get("response_mode") != "fragment" ||
			q.Get("prompt") != "create" || q.Get("login_hint") != "mxid:@alice:example.org" || data.DeviceID != "PHONE" {
			t.Fatalf("URL %s", data.URL)
		}
	})
	t.Run("refused", func(t *testing.T) {
		noPrompt := meta
		noPrompt.PromptValuesSupported = nil
		noPrompt.ResponseModesSupported = []string{"query"}
		oc2, _ := session.RestoreOAuthClient(session.Config{HomeserverURL: "https://matrix.example.org"}, &noPrompt, "client-7")
		for name, req := range map[string]session.AuthorizationRequest{
			"no redirect URI":         {},
			"relative redirect URI":   {RedirectURI: "/cb"},
			"device ID with a space":  {RedirectURI: "https://app.example/cb", DeviceID: "A B"},
			"device ID with a quote":  {RedirectURI: "https://app.example/cb", DeviceID: `ABC"DEF`},
			"device ID not ASCII":     {RedirectURI: "https://app.example/cb", DeviceID: "ÄBCDEFGHIJ"},
			"unknown response mode":   {RedirectURI: "https://app.example/cb", ResponseMode: "form_post"},
			"prompt not supported":    {RedirectURI: "https://app.example/cb", Prompt: session.PromptCreate},
			"fragment not advertised": {RedirectURI: "https://app.example/cb", ResponseMode: session.ResponseModeFragment},
		} {
			if _, err := oc2.AuthorizationURL(req); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// follow opens the authorization URL like a browser that the server
// approves at once, and returns where it was sent back to.
func follow(t *testing.T, authURL string) string {
	t.Helper()
	landed, err := followErr(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return landed
}

// followErr is follow for other goroutines than the test's.
func followErr(authURL string) (string, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorization: %s", resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

func TestFinishLoginRedirectErrors(t *testing.T) {
	f := newFakeAS(t)
	cfg := session.Config{HomeserverURL: f.srv.URL}
	oc := register(t, f, cfg)
	start := func(mode string) *session.AuthorizationData {
		data, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:9/callback", ResponseMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	t.Run("state mismatch", func(t *testing.T) {
		data := start("")
		landed := follow(t, data.URL)
		other := *data
		other.State = start("").State
		if _, err := oc.FinishLogin(t.Context(), other, landed); !errors.Is(err, session.ErrStateMismatch) {
			t.Fatalf("FinishLogin: %v", err)
		}
		for _, cb := range []string{
			"http://127.0.0.1:9/callback?code=x",
			"http://127.0.0.1:9/callback?code=x&state=" + data.State[:len(data.State)-1],
			"http://127.0.0.1:9/callback?error=access_denied&state=forged",
		} {
			if _, err := oc.FinishLogin(t.Context(), *data, cb); !errors.Is(err, session.ErrStateMismatch) {
				t.Errorf("FinishLogin(%s): %v", cb, err)
			}
		}
		if len(f.forms()) != 0 {
			t.Fatal("a code was redeemed despite the wrong state")
		}
	})
	for _, code := range []string{"access_denied", "invalid_scope", "server_error"} {
		t.Run(code, func(t *testing.T) {
			f.set(func(f *fakeAS) { f.authError = code })
			defer f.set(func(f *fakeAS) { f.authError = "" })
			data := start("")
			_, err := oc.FinishLogin(t.Context(), *data, follow(t, data.URL))
			var e *session.Error
			if !errors.As(err, &e) || e.Errcode != code || e.StatusCode != 0 || e.Message != "the user said no" {
				t.Fatalf("FinishLogin: %v", err)
			}
			if code == "access_denied" && !errors.Is(err, session.ErrAccessDenied) {
				t.Fatal("not ErrAccessDenied")
			}
		})
	}
	t.Run("no code", func(t *testing.T) {
		data := start("")
		if _, err := oc.FinishLogin(t.Context(), *data, "http://127.0.0.1:9/callback?state="+data.State); err == nil {
			t.Fatal("finished without a code")
		}
	})
	t.Run("code used twice", func(t *testing.T) {
		data := start("")
		landed := follow(t, data.URL)
		if _, err := oc.FinishLogin(t.Context(), *data, landed); err != nil {
			t.Fatal(err)
		}
		_, err := oc.FinishLogin(t.Context(), *data, landed)
		var e *session.Error
		if !errors.Is(err, session.ErrInvalidGrant) || !errors.As(err, &e) || e.StatusCode != 400 {
			t.Fatalf("second FinishLogin: %v", err)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		data := start("")
		landed := follow(t, data.URL)
		data.CodeVerifier = start("").CodeVerifier
		if _, err := oc.FinishLogin(t.Context(), *data, landed); !errors.Is(err, session.ErrInvalidGrant) {
			t.Fatalf("FinishLogin: %v", err)
		}
	})
	t.Run("fragment and bare parameters", func(t *testing.T) {
		data := start(session.ResponseModeFragment)
		landed := follow(t, data.URL)
		u := must(url.Parse(landed))
		if u.RawQuery != "" || u.Fragment == "" {
			t.Fatalf("landed on %s", landed)
		}
		if creds, err := oc.FinishLogin(t.Context(), *data, landed); err != nil || creds.DeviceID != data.DeviceID {
			t.Fatalf("FinishLogin: %+v %v", creds, err)
		}
		data = start("")
		landed = follow(t, data.URL)
		if _, err := oc.FinishLogin(t.Context(), *data, must(url.Parse(landed)).RawQuery); err != nil {
			t.Fatalf("FinishLogin with the query alone: %v", err)
		}
	})
	t.Run("token endpoint errors", func(t *testing.T) {
		for _, tt := range []struct {
			body   string
			status int
			want   error
		}{
			{`{"error":"invalid_client","error_description":"who are you"}`, 401, session.ErrInvalidClient},
			{`{"error":"unsupported_grant_type"}`, 400, session.ErrUnsupportedGrantType},
			{`{"error":"invalid_request"}`, 400, session.ErrInvalidRequest},
			{`{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":600000}`, 429, session.ErrLimitExceeded},
		} {
			f.set(func(f *fakeAS) { f.tokenError = &fakeError{tt.status, tt.body} })
			data := start("")
			_, err := oc.FinishLogin(t.Context(), *data, follow(t, data.URL))
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: %v", tt.body, err)
			}
		}
		f.set(func(f *fakeAS) { f.tokenError = nil })
	})
	t.Run("tokens for another device", func(t *testing.T) {
		f.set(func(f *fakeAS) { f.otherDevice = "INTRUDER" })
		defer f.set(func(f *fakeAS) { f.otherDevice = "" })
		data := start("")
		revoked := len(f.revoked())
		if _, err := oc.FinishLogin(t.Context(), *data, follow(t, data.URL)); err == nil || !strings.Contains(err.Error(), "INTRUDER") {
			t.Fatalf("FinishLogin: %v", err)
		}
		if len(f.revoked()) != revoked+1 {
			t.Fatal("the unwanted tokens were not revoked")
		}
	})
}

// oauthFixture is a session logged in through the fake's OAuth API.
type oauthFixture struct {
	f        *fakeAS
	oc       *session.OAuthClient
	cfg      session.Config
	s        *session.Session
	events   *events
	mu       sync.Mutex
	relogins []string
}

func newOAuthFixture(t *testing.T, edit func(*session.Config)) *oauthFixture {
	t.Helper()
	x := &oauthFixture{f: newFakeAS(t), events: &events{}}
	x.cfg = session.Config{HomeserverURL: x.f.srv.URL, Now: x.f.clock.Now, OnChange: x.events.record}
	x.oc = register(t, x.f, x.cfg)
	data, err := x.oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:8123/callback"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := x.oc.FinishLogin(t.Context(), *data, follow(t, data.URL))
	if err != nil {
		t.Fatal(err)
	}
	if creds.UserID != "@alice:fake" || creds.DeviceID != data.DeviceID || creds.AccessToken == "" || creds.RefreshToken == "" || !creds.ExpiresAt.Equal(epoch.Add(5*time.Minute)) {
		t.Fatalf("credentials %+v", creds)
	}
	x.cfg.Credentials, x.cfg.OAuth = creds, x.oc
	if edit != nil {
		edit(&x.cfg)
	}
	if x.s, err = session.New(x.cfg); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *oauthFixture) whoami(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, x.f.srv.URL+"/_matrix/client/v3/account/whoami", nil)
	resp, err := x.s.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		if e := session.ParseError(resp); e != nil {
			return e
		}
		return errors.New(resp.Status)
	}
	return nil
}

func TestOAuthConcurrentExpiry(t *testing.T) {
	for _, tt := range []struct {
		name string
		skew time.Duration
	}{{"on refusal", -1}, {"ahead of expiry", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			x := newOAuthFixture(t, func(c *session.Config) { c.RefreshSkew = tt.skew })
			x.f.set(func(f *fakeAS) { f.tokenDelay = 20 * time.Millisecond })
			if err := x.whoami(t.Context()); err != nil {
				t.Fatal(err)
			}
			old := x.s.Credentials()
			x.f.clock.Advance(5 * time.Minute)
			const n = 50
			errs := make(chan error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					<-start
					errs <- x.whoami(context.Background())
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
			if got := x.f.refreshCount(); got != 1 {
				t.Fatalf("%d refreshes, want 1", got)
			}
			forms := x.f.forms()
			last := forms[len(forms)-1]
			if last.Get("grant_type") != "refresh_token" || last.Get("refresh_token") != old.RefreshToken || last.Get("client_id") != x.oc.ClientID() {
				t.Fatalf("refresh form %v", last)
			}
			now := x.s.Credentials()
			if now.RefreshToken == old.RefreshToken || now.AccessToken == old.AccessToken || !now.ExpiresAt.Equal(epoch.Add(10*time.Minute)) || now.DeviceID != old.DeviceID {
				t.Fatalf("credentials after refresh %+v (before %+v)", now, old)
			}
			if evs := x.events.list(); len(evs) != 1 || evs[0].Kind != session.Refreshed || evs[0].Credentials != now {
				t.Fatalf("events %+v", evs)
			}
		})
	}
}

func TestOAuthRefreshWithoutRotation(t *testing.T) {
	x := newOAuthFixture(t, nil)
	x.f.set(func(f *fakeAS) { f.noRotation = true })
	old := x.s.Credentials()
	if err := x.s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if now := x.s.Credentials(); now.RefreshToken != old.RefreshToken || now.AccessToken == old.AccessToken {
		t.Fatalf("credentials %+v, want the old refresh token kept", now)
	}
	if err := x.whoami(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOAuthRefreshRefused(t *testing.T) {
	t.Run("relogin", func(t *testing.T) {
		var x *oauthFixture
		x = newOAuthFixture(t, func(c *session.Config) {
			c.Relogin = func(ctx context.Context, deviceID string) (session.Credentials, error) {
				x.mu.Lock()
				x.relogins = append(x.relogins, deviceID)
				x.mu.Unlock()
				data, err := x.oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:8123/callback", DeviceID: deviceID})
				if err != nil {
					return session.Credentials{}, err
				}
				landed, err := followErr(data.URL)
				if err != nil {
					return session.Credentials{}, err
				}
				return x.oc.FinishLogin(ctx, *data, landed)
			}
		})
		device := x.s.Credentials().DeviceID
		x.f.killRefreshTokens()
		x.f.clock.Advance(5 * time.Minute)
		if err := x.whoami(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(x.relogins) != 1 || x.relogins[0] != device {
			t.Fatalf("re-logins %v", x.relogins)
		}
		if got := x.events.kinds(); got != "relogged" {
			t.Fatalf("events %s", got)
		}
	})
	t.Run("logged out", func(t *testing.T) {
		x := newOAuthFixture(t, nil)
		x.f.killRefreshTokens()
		x.f.clock.Advance(5 * time.Minute)
		err := x.whoami(t.Context())
		var out *session.LoggedOutError
		if !errors.As(err, &out) || !out.Soft || !errors.Is(err, session.ErrInvalidGrant) {
			t.Fatalf("whoami: %v, want a soft logout caused by invalid_grant", err)
		}
		if got := x.events.kinds(); got != "logged out" {
			t.Fatalf("events %s", got)
		}
	})
	t.Run("server error is passing", func(t *testing.T) {
		x := newOAuthFixture(t, func(c *session.Config) { c.RefreshSkew = -1 })
		x.f.set(func(f *fakeAS) { f.tokenError = &fakeError{500, `{"error":"server_error","error_description":"down"}`} })
		x.f.clock.Advance(5 * time.Minute)
		if err := x.whoami(t.Context()); !errors.Is(err, session.ErrServerError) || errors.Is(err, session.ErrLoggedOut) {
			t.Fatalf("whoami: %v", err)
		}
		x.f.set(func(f *fakeAS) { f.tokenError = nil })
		if err := x.whoami(t.Context()); err != nil {
			t.Fatalf("whoami once the token endpoint is back: %v", err)
		}
		if got := x.events.kinds(); got != "refreshed" {
			t.Fatalf("events %s", got)
		}
	})
}

func TestOAuthLogout(t *testing.T) {
	x := newOAuthFixture(t, nil)
	if err := x.whoami(t.Context()); err != nil {
		t.Fatal(err)
	}
	creds := x.s.Credentials()
	if err := x.s.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	revoked := x.f.revoked()
	if len(revoked) != 1 {
		t.Fatalf("revocations %v", revoked)
	}
	r := revoked[0]
	if r.Get("token") != creds.RefreshToken || r.Get("token_type_hint") != "refresh_token" || r.Get("client_id") != x.oc.ClientID() {
		t.Fatalf("revocation %v", r)
	}
	if err := x.whoami(t.Context()); !errors.Is(err, session.ErrLoggedOut) {
		t.Fatalf("whoami after Logout: %v", err)
	}
	evs := x.events.list()
	if len(evs) != 1 || evs[0].Kind != session.LoggedOut || evs[0].Credentials != creds {
		t.Fatalf("events %+v", evs)
	}
	// The server has ended the tokens too.
	req, _ := http.NewRequest(http.MethodGet, x.f.srv.URL+"/_matrix/client/v3/account/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if e := session.ParseError(resp); e == nil || !errors.Is(e, session.ErrUnknownToken) || e.SoftLogout {
		t.Fatalf("old token after Logout: %v", e)
	}

	t.Run("revocation refused", func(t *testing.T) {
		x := newOAuthFixture(t, nil)
		m := x.oc.Metadata()
		m.RevocationEndpoint = x.f.srv.URL + "/nowhere"
		oc, _ := session.RestoreOAuthClient(x.cfg, m, x.oc.ClientID())
		cfg := x.cfg
		cfg.OAuth = oc
		s, _ := session.New(cfg)
		if err := s.Logout(t.Context()); err == nil {
			t.Fatal("Logout succeeded though the revocation failed")
		}
		if _, err := s.HTTPClient().Get(x.f.srv.URL + "/_matrix/client/v3/account/whoami"); err != nil {
			t.Fatalf("the session ended though the revocation failed: %v", err)
		}
	})
}

func TestAccountManagementURL(t *testing.T) {
	const (
		stable = "stable"
		msc    = "msc"
		none   = "none"
		empty  = "empty"
	)
	lists := map[string][]session.AccountManagementAction{
		stable: {session.ActionProfile, session.ActionDevicesList, session.ActionDeviceView, session.ActionDeviceDelete, session.ActionAccountDeactivate, session.ActionCrossSigningReset},
		msc:    {session.ActionProfile, session.ActionSessionsList, session.ActionSessionView, session.ActionSessionEnd},
		none:   nil,
		empty:  {},
	}
	for _, tt := range []struct {
		list   string
		req    session.AccountManagementRequest
		action string // sent; empty: an error wrapping ErrActionNotSupported
	}{
		{stable, session.AccountManagementRequest{Action: session.ActionDeviceDelete, DeviceID: "PHONE"}, "org.matrix.device_delete"},
		{stable, session.AccountManagementRequest{Action: session.ActionSessionEnd, DeviceID: "PHONE"}, "org.matrix.device_delete"},
		{stable, session.AccountManagementRequest{Action: session.ActionSessionsList}, "org.matrix.devices_list"},
		{stable, session.AccountManagementRequest{Action: session.ActionSessionView, DeviceID: "PHONE"}, "org.matrix.device_view"},
		{msc, session.AccountManagementRequest{Action: session.ActionDeviceDelete, DeviceID: "PHONE"}, "org.matrix.session_end"},
		{msc, session.AccountManagementRequest{Action: session.ActionDevicesList}, "org.matrix.sessions_list"},
		{msc, session.AccountManagementRequest{Action: session.ActionDeviceView, DeviceID: "PHONE"}, "org.matrix.session_view"},
		{msc, session.AccountManagementRequest{Action: session.ActionProfile}, "org.matrix.profile"},
		{msc, session.AccountManagementRequest{Action: session.ActionCrossSigningReset}, ""},
		{msc, session.AccountManagementRequest{Action: session.ActionAccountDeactivate}, ""},
		{none, session.AccountManagementRequest{Action: session.ActionCrossSigningReset}, "org.matrix.cross_signing_reset"},
		{none, session.AccountManagementRequest{Action: session.ActionSessionEnd, DeviceID: "PHONE"}, "org.matrix.session_end"},
		{none, session.AccountManagementRequest{Action: "com.example.custom"}, "com.example.custom"},
		{empty, session.AccountManagementRequest{Action: session.ActionProfile}, ""},
	} {
		m := validMetadata()
		m.AccountManagementActionsSupported = lists[tt.list]
		got, err := m.AccountManagementURL(tt.req)
		if tt.action == "" {
			if !errors.Is(err, session.ErrActionNotSupported) || m.SupportsAction(tt.req.Action) {
				t.Errorf("%s %+v: %q, %v; want ErrActionNotSupported", tt.list, tt.req, got, err)
			}
			continue
		}
		if err != nil || !m.SupportsAction(tt.req.Action) {
			t.Errorf("%s %+v: %v", tt.list, tt.req, err)
			continue
		}
		u := must(url.Parse(got))
		q := u.Query()
		if u.Host != "auth.example.org" || u.Path != "/account" || q.Get("lang") != "en" || q.Get("action") != tt.action || q.Get("device_id") != tt.req.DeviceID {
			t.Errorf("%s %+v: %s, want action %s", tt.list, tt.req, got, tt.action)
		}
	}

	m := validMetadata()
	got, err := m.AccountManagementURL(session.AccountManagementRequest{Action: session.ActionProfile, IDTokenHint: "eyJ.x.y"})
	if err != nil || got != "https://auth.example.org/account?action=org.matrix.profile&id_token_hint=eyJ.x.y&lang=en" {
		t.Fatalf("with id_token_hint: %q, %v", got, err)
	}
	if got, err := m.AccountManagementURL(session.AccountManagementRequest{}); err != nil || got != "https://auth.example.org/account?lang=en" {
		t.Fatalf("no action: %q, %v", got, err)
	}
	for _, bad := range []session.AccountManagementRequest{
		{Action: session.ActionDeviceDelete},
		{Action: session.ActionSessionView},
		{Action: session.ActionProfile, DeviceID: "PHONE"},
		{DeviceID: "PHONE"},
	} {
		if _, err := m.AccountManagementURL(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	m.AccountManagementURI = ""
	if _, err := m.AccountManagementURL(session.AccountManagementRequest{Action: session.ActionProfile}); !errors.Is(err, session.ErrActionNotSupported) || m.SupportsAction(session.ActionProfile) {
		t.Fatalf("without a page: %v", err)
	}
}

// TestOneErrorType: an OAuth 2.0 error and a Matrix one are the same type,
// matrixerr's, and the session's codes are matrixerr's.
func TestOneErrorType(t *testing.T) {
	e := &session.Error{StatusCode: 400, Errcode: "invalid_grant", Message: "expired"}
	var m *matrixerr.Error = e
	if !errors.Is(m, session.ErrInvalidGrant) || !errors.Is(m, matrixerr.ErrInvalidGrant) || errors.Is(e, session.ErrInvalidClient) || errors.Is(e, session.ErrUnknownToken) {
		t.Fatal("Error.Is does not match on the code")
	}
	if session.ErrUnknownToken != matrixerr.ErrUnknownToken || session.ErrInvalidGrant != matrixerr.ErrInvalidGrant {
		t.Fatal("the session's codes are not matrixerr's")
	}
	if got := e.Error(); got != "invalid_grant (HTTP 400): expired" {
		t.Fatalf("message %q", got)
	}
}

// TestOAuthNotOnLegacyMock: the mock without OAuth says so, on both paths.
func TestOAuthNotOnLegacyMock(t *testing.T) {
	hs := mock.Start(t)
	if _, err := session.DiscoverOAuth(t.Context(), session.Config{HomeserverURL: hs.URL}); !errors.Is(err, session.ErrOAuthNotSupported) {
		t.Fatalf("DiscoverOAuth: %v", err)
	}
	if got := hs.Journal().Count(journal.Filter{Errcode: "M_UNRECOGNIZED"}); got != 2 {
		t.Fatalf("%d requests answered M_UNRECOGNIZED, want 2 (stable, then unstable)", got)
	}
}

// TestOAuthEndpointsFromMetadata: registration, the token grants and
// revocation go to the URLs the server metadata names, here on another
// origin and under other paths than gen/oauth2's, as with an
// authorization service beside the homeserver.
func TestOAuthEndpointsFromMetadata(t *testing.T) {
	f := newFakeAS(t)
	var mu sync.Mutex
	var paths []string
	seen := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.Method+" "+r.URL.Path)
			mu.Unlock()
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /as/clients", seen(f.register))
	mux.HandleFunc("POST /as/token", seen(f.token))
	mux.HandleFunc("POST /as/revoke", seen(f.revoke))
	as := httptest.NewServer(mux)
	defer as.Close()
	f.set(func(f *fakeAS) {
		f.edit = func(m map[string]any) {
			m["registration_endpoint"] = as.URL + "/as/clients"
			m["token_endpoint"] = as.URL + "/as/token"
			m["revocation_endpoint"] = as.URL + "/as/revoke"
		}
	})
	cfg := session.Config{HomeserverURL: f.srv.URL, Now: f.clock.Now}
	oc := register(t, f, cfg)
	data, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: "http://127.0.0.1:8123/callback"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Credentials, err = oc.FinishLogin(t.Context(), *data, follow(t, data.URL)); err != nil {
		t.Fatal(err)
	}
	cfg.OAuth = oc
	s, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := "[POST /as/clients POST /as/token POST /as/token POST /as/revoke]"
	if got := fmt.Sprint(paths); got != want {
		t.Fatalf("the authorization service saw %s, want %s", got, want)
	}
	if forms := f.forms(); len(forms) != 2 || forms[1].Get("grant_type") != "refresh_token" || forms[1].Get("client_id") != oc.ClientID() {
		t.Fatalf("token forms %v", forms)
	}
}
