package clientserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/matrixerr"
	"github.com/mxauth/mxauth/operation"
)

// homeserver answers a few endpoints the way a homeserver does, each with
// the answer a test needs.
func homeserver(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, header http.Header, body string) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	mux.HandleFunc("POST /_matrix/client/v3/login", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req["type"] != "m.login.password" {
			answer(w, 400, nil, `{"errcode":"M_BAD_JSON","error":"bad login"}`)
			return
		}
		answer(w, 200, nil, `{"user_id":"@alice:example.org","access_token":"tok","device_id":"PHONE","expires_in_ms":60000,"refresh_token":"ref"}`)
	})
	mux.HandleFunc("GET /_matrix/client/v3/account/whoami", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer tok":
			answer(w, 200, nil, `{"user_id":"@alice:example.org","device_id":"PHONE"}`)
		case "Bearer slow":
			answer(w, 429, http.Header{"Retry-After": {"2"}}, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests"}`)
		default:
			answer(w, 401, nil, `{"errcode":"M_UNKNOWN_TOKEN","error":"Access token has expired","soft_logout":true}`)
		}
	})
	mux.HandleFunc("POST /_matrix/client/v3/delete_devices", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 401, nil, `{"flows":[{"stages":["m.login.password"]}],"params":{},"session":"uia-1"}`)
	})
	mux.HandleFunc("GET /_matrix/client/v3/devices", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, nil, `{"devices":[{"device_id":"PHONE","display_name":"Phone"}]}`)
	})
	mux.HandleFunc("POST /_matrix/client/v3/logout", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, nil, `{}`)
	})
	mux.HandleFunc("GET /_matrix/client/versions", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 502, http.Header{"Content-Type": {"text/html"}}, `<html>Bad gateway</html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newAPI(t *testing.T, token string) *clientserver.API {
	t.Helper()
	api, err := clientserver.NewAPI(homeserver(t).URL, clientserver.WithRequestEditorFn(clientserver.RequestEditorFn(
		clientserver.Operations.BearerToken(func(context.Context) (string, error) { return token, nil }))))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestAPISuccessDecodesIntoNamedTypes(t *testing.T) {
	ctx := context.Background()
	api := newAPI(t, "tok")
	var login *clientserver.LoginResponse
	login, err := api.Login(ctx, clientserver.LoginRequest{Type: "m.login.password", Password: ptr("wonderland"), RefreshToken: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	// Required fields are values, optional ones pointers.
	if login.UserID != "@alice:example.org" || login.AccessToken != "tok" || login.DeviceID != "PHONE" ||
		login.ExpiresInMs == nil || *login.ExpiresInMs != 60000 || login.RefreshToken == nil || *login.RefreshToken != "ref" {
		t.Errorf("login = %+v", login)
	}
	var who *clientserver.GetTokenOwnerResponse
	if who, err = api.GetTokenOwner(ctx); err != nil || who.UserID != "@alice:example.org" || *who.DeviceID != "PHONE" {
		t.Errorf("whoami = %+v, %v", who, err)
	}
	devices, err := api.GetDevices(ctx)
	if err != nil || devices.Devices == nil || len(*devices.Devices) != 1 || (*devices.Devices)[0].DeviceID != "PHONE" {
		t.Errorf("devices = %+v, %v", devices, err)
	}
	if err := api.Logout(ctx); err != nil {
		t.Errorf("logout: %v", err)
	}
	_, err = api.Login(ctx, clientserver.LoginRequest{Type: "m.login.token"})
	if !errors.Is(err, matrixerr.ErrBadJSON) {
		t.Errorf("bad login: %v, want M_BAD_JSON", err)
	}
}

func TestAPISoftLogout(t *testing.T) {
	_, err := newAPI(t, "expired").GetTokenOwner(context.Background())
	if !errors.Is(err, matrixerr.ErrUnknownToken) {
		t.Fatalf("err = %v, want M_UNKNOWN_TOKEN", err)
	}
	var e *matrixerr.Error
	if !errors.As(err, &e) || !e.SoftLogout || e.StatusCode != 401 || e.Message != "Access token has expired" {
		t.Errorf("err = %+v, want a 401 with SoftLogout", e)
	}
}

func TestAPIRateLimited(t *testing.T) {
	_, err := newAPI(t, "slow").GetTokenOwner(context.Background())
	var e *matrixerr.Error
	if !errors.Is(err, matrixerr.ErrLimitExceeded) || !errors.As(err, &e) || e.RetryAfter != 2*time.Second {
		t.Errorf("err = %v (%+v), want M_LIMIT_EXCEEDED with RetryAfter 2s", err, e)
	}
}

func TestAPIUserInteractiveAuth(t *testing.T) {
	err := newAPI(t, "tok").DeleteDevices(context.Background(), clientserver.DeleteDevicesRequest{Devices: []string{"PHONE"}})
	var e *matrixerr.Error
	if !errors.As(err, &e) || e.UIA == nil {
		t.Fatalf("err = %v, want a UIA 401", err)
	}
	if e.UIA.Session != "uia-1" || len(e.UIA.Flows) != 1 || e.UIA.Flows[0].Stages[0] != "m.login.password" {
		t.Errorf("UIA = %+v", e.UIA)
	}
}

func TestAPINotJSONError(t *testing.T) {
	_, err := newAPI(t, "").GetVersions(context.Background())
	var e *matrixerr.Error
	if !errors.As(err, &e) || e.StatusCode != 502 || e.Errcode != "" || string(e.Body) != "<html>Bad gateway</html>" {
		t.Errorf("err = %+v", e)
	}
}

// tagReader is a RoundTripper that records the operation each request's
// context was tagged with, as a session would read it.
type tagReader struct{ seen []*operation.Info }

func (r *tagReader) RoundTrip(req *http.Request) (*http.Response, error) {
	info, _ := operation.InfoFrom(req.Context())
	r.seen = append(r.seen, info)
	return http.DefaultTransport.RoundTrip(req)
}

func TestAPITagsTheContext(t *testing.T) {
	tags := &tagReader{}
	api, err := clientserver.NewAPI(homeserver(t).URL, clientserver.WithHTTPClient(&http.Client{Transport: tags}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	api.Login(ctx, clientserver.LoginRequest{Type: "m.login.password"})
	api.GetTokenOwner(ctx)
	if len(tags.seen) != 2 || tags.seen[0] == nil || tags.seen[1] == nil {
		t.Fatalf("tags = %v", tags.seen)
	}
	if got := tags.seen[0]; got.ID != "login" || got.Auth != operation.AuthNone {
		t.Errorf("login tagged %+v", got)
	}
	if got := tags.seen[1]; got.ID != "getTokenOwner" || got.Auth != operation.AuthRequired {
		t.Errorf("whoami tagged %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }
