package mock_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// TestProtocolErrors covers the answers every endpoint shares: unknown
// routes, bodies that are not JSON objects, missing fields and tokens.
func TestProtocolErrors(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"))
	token := login(t, hs, "alice", "wonderland", nil).str(t, "access_token")
	big := `{"type":"m.login.password","password":"` + strings.Repeat("x", mock.MaxBodyBytes) + `"}`
	tests := []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		errcode      string
	}{
		{"unknown endpoint", "GET", "/_matrix/client/v3/nope", "", nil, 404, "M_UNRECOGNIZED"},
		{"unknown prefix", "GET", "/", "", nil, 404, "M_UNRECOGNIZED"},
		{"wrong method", "DELETE", "/_matrix/client/v3/login", "", nil, 405, "M_UNRECOGNIZED"},
		{"wrong method with token", "PUT", "/_matrix/client/v3/account/whoami", token, "{}", 405, "M_UNRECOGNIZED"},
		{"not JSON", "POST", "/_matrix/client/v3/login", "", "{bad", 400, "M_NOT_JSON"},
		{"truncated JSON", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password"`, 400, "M_NOT_JSON"},
		{"invalid UTF-8", "POST", "/_matrix/client/v3/login", "", "{\"type\":\"\xff\xfe\"}", 400, "M_NOT_JSON"},
		{"empty body", "POST", "/_matrix/client/v3/login", "", "", 400, "M_NOT_JSON"},
		{"JSON array", "POST", "/_matrix/client/v3/login", "", `["m.login.password"]`, 400, "M_BAD_JSON"},
		{"JSON string", "POST", "/_matrix/client/v3/refresh", "", `"token"`, 400, "M_BAD_JSON"},
		{"wrong type", "POST", "/_matrix/client/v3/login", "", `{"type":5}`, 400, "M_BAD_JSON"},
		{"refresh_token not a bool", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","refresh_token":"yes"}`, 400, "M_BAD_JSON"},
		{"nested wrong type", "POST", "/_matrix/client/v3/delete_devices", token, `{"devices":[1]}`, 400, "M_BAD_JSON"},
		{"too large", "POST", "/_matrix/client/v3/login", "", big, 413, "M_TOO_LARGE"},
		{"missing type", "POST", "/_matrix/client/v3/login", "", `{"password":"x"}`, 400, "M_MISSING_PARAM"},
		{"missing identifier", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","password":"x"}`, 400, "M_MISSING_PARAM"},
		{"missing password", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice"}`, 400, "M_MISSING_PARAM"},
		{"missing login token", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.token"}`, 400, "M_MISSING_PARAM"},
		{"unknown login type", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.sso"}`, 400, "M_UNKNOWN"},
		{"unknown identifier type", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.nope"},"password":"x"}`, 400, "M_UNKNOWN"},
		{"missing refresh token", "POST", "/_matrix/client/v3/refresh", "", `{}`, 400, "M_MISSING_PARAM"},
		{"missing devices", "POST", "/_matrix/client/v3/delete_devices", token, `{}`, 400, "M_MISSING_PARAM"},
		{"missing username query", "GET", "/_matrix/client/v3/register/available", "", nil, 400, "M_MISSING_PARAM"},
		{"bad kind", "POST", "/_matrix/client/v3/register?kind=robot", "", `{}`, 400, "M_INVALID_PARAM"},
		{"no token", "GET", "/_matrix/client/v3/account/whoami", "", nil, 401, "M_MISSING_TOKEN"},
		{"garbage token", "GET", "/_matrix/client/v3/devices", "garbage", nil, 401, "M_UNKNOWN_TOKEN"},
		{"wrong password", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"alice","password":"nope"}`, 403, "M_FORBIDDEN"},
		{"unknown user", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"nobody","password":"wonderland"}`, 403, "M_FORBIDDEN"},
		{"user of another server", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","user":"@alice:elsewhere","password":"wonderland"}`, 403, "M_FORBIDDEN"},
		{"third-party login", "POST", "/_matrix/client/v3/login", "", `{"type":"m.login.password","identifier":{"type":"m.id.thirdparty","medium":"email","address":"a@b"},"password":"x"}`, 403, "M_FORBIDDEN"},
		{"unknown device", "GET", "/_matrix/client/v3/devices/NOPE", token, nil, 404, "M_NOT_FOUND"},
		{"rename unknown device", "PUT", "/_matrix/client/v3/devices/NOPE", token, `{"display_name":"x"}`, 404, "M_NOT_FOUND"},
		{"delete unknown device", "DELETE", "/_matrix/client/v3/devices/NOPE", token, nil, 404, "M_NOT_FOUND"},
		{"email validation", "POST", "/_matrix/client/v3/register/email/requestToken", "", `{"client_secret":"s","email":"a@example.org","send_attempt":1}`, 403, "M_THREEPID_DENIED"},
		{"phone validation", "POST", "/_matrix/client/v3/register/msisdn/requestToken", "", `{"client_secret":"s","country":"GB","phone_number":"1","send_attempt":1}`, 403, "M_THREEPID_DENIED"},
		{"OAuth off", "GET", "/_matrix/client/v1/auth_metadata", "", nil, 404, "M_UNRECOGNIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hs.Users()
			a := call(t, hs, tt.method, tt.path, tt.token, tt.body)
			a.wantError(t, tt.status, tt.errcode)
			if a.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("error answer without CORS headers")
			}
			if _, ok := a.body["soft_logout"]; ok != (tt.errcode == "M_UNKNOWN_TOKEN") {
				t.Errorf("soft_logout present = %v in %s", ok, a.raw)
			}
			if after := hs.Users(); len(after) != len(before) {
				t.Errorf("users changed from %v to %v", before, after)
			}
			last := hs.Journal().Entries(journal.Filter{})
			if e := last[len(last)-1]; e.Status != tt.status || e.Errcode != tt.errcode || e.Method != tt.method {
				t.Errorf("journal entry %+v, want status %d errcode %s", e, tt.status, tt.errcode)
			}
		})
	}
	// Nothing above ended alice's session.
	call(t, hs, "GET", "/_matrix/client/v3/account/whoami", token, nil).wantStatus(t, 200)
}

func TestCORS(t *testing.T) {
	hs := mock.Start(t)
	req, _ := http.NewRequest(http.MethodOptions, hs.URL+"/_matrix/client/v3/login", nil)
	req.Header.Set("Origin", "https://app.example.org")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight headers: %v", h)
	}
	a := call(t, hs, "GET", "/_matrix/client/versions", "", nil)
	if a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("no CORS header on a plain answer: %v", a.header)
	}
}

func TestDiscoveryEndpoints(t *testing.T) {
	hs := mock.Start(t, mock.WithVersions("v1.2", "v1.18"))
	a := call(t, hs, "GET", "/_matrix/client/versions", "", nil)
	a.wantStatus(t, 200)
	if v := a.body["versions"].([]any); len(v) != 2 || v[0] != "v1.2" || v[1] != "v1.18" {
		t.Errorf("versions %v", v)
	}
	if f := a.body["unstable_features"].(map[string]any); f["org.matrix.msc2918.refresh_token"] != true {
		t.Errorf("unstable_features %v", f)
	}
	a = call(t, hs, "GET", "/.well-known/matrix/client", "", nil)
	a.wantStatus(t, 200)
	if got := a.body["m.homeserver"].(map[string]any)["base_url"]; got != hs.URL {
		t.Errorf("well-known base_url %v, want %s", got, hs.URL)
	}
	all := call(t, mock.Start(t), "GET", "/_matrix/client/versions", "", nil)
	if v := all.body["versions"].([]any); len(v) != 18 || v[17] != "v1.18" {
		t.Errorf("default versions %v", v)
	}
	a = call(t, hs, "GET", "/_matrix/client/v3/login", "", nil)
	a.wantStatus(t, 200)
	if !strings.Contains(a.raw, `{"type":"m.login.password"}`) || !strings.Contains(a.raw, `{"get_login_token":true,"type":"m.login.token"}`) {
		t.Errorf("login flows %s", a.raw)
	}
	if _, err := hs.AddUser("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	token := login(t, hs, "alice", "pw", nil).str(t, "access_token")
	a = call(t, hs, "GET", "/_matrix/client/v3/capabilities", token, nil)
	a.wantStatus(t, 200)
	if !strings.Contains(a.raw, `"m.change_password":{"enabled":true}`) {
		t.Errorf("capabilities %s", a.raw)
	}
}

func TestPublicURL(t *testing.T) {
	hs := mock.Start(t, mock.WithPublicURL("https://matrix.example.org"), mock.WithUser("alice", "pw"))
	a := login(t, hs, "alice", "pw", nil)
	if got := a.body["well_known"].(map[string]any)["m.homeserver"].(map[string]any)["base_url"]; got != "https://matrix.example.org" {
		t.Errorf("login well_known base_url %v", got)
	}
}
