package guard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/operation"
)

type callerKey struct{}

var table = operation.NewTable(
	operation.Info{ID: "getDevice", Method: "GET", Path: "/_matrix/client/v3/devices/{deviceId}", Auth: operation.AuthRequired, QueryToken: true},
	operation.Info{ID: "getDevices", Method: "GET", Path: "/_matrix/client/v3/devices", Auth: operation.AuthRequired},
	operation.Info{ID: "loginVia", Method: "POST", Path: "/_matrix/client/v1/login/{how}", Auth: operation.AuthNone},
	operation.Info{ID: "getVersions", Method: "GET", Path: "/_matrix/client/versions", Auth: operation.AuthOptional},
)

// guardedRouter serves every operation of table behind a Guard that accepts
// the token "good", as a generated router with the guard installed would:
// as a middleware that looks each request's operation up, or, perRoute,
// with Guard.Operation in front of each route.
func guardedRouter(perRoute bool) http.Handler {
	g := Guard{
		Table: table,
		Verify: func(r *http.Request, op *operation.Info, token string) (*http.Request, error) {
			if token != "good" {
				return r, errors.New("bad token")
			}
			return r.WithContext(context.WithValue(r.Context(), callerKey{}, "@alice:example.org")), nil
		},
		Fail: func(w http.ResponseWriter, r *http.Request, op *operation.Info, err error) {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrMissingToken) {
				status = http.StatusForbidden // distinct, so the test can tell the cases apart
			}
			http.Error(w, err.Error(), status)
		},
	}
	router := mux.NewRouter()
	for _, op := range table.All() {
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			caller, _ := r.Context().Value(callerKey{}).(string)
			w.Write([]byte(op.ID + " " + caller))
		})
		if perRoute {
			h = g.Operation(op, h)
		}
		router.Handle(op.Path, h).Methods(op.Method)
	}
	if !perRoute {
		router.Use(g.Middleware)
	}
	return router
}

func TestGuard(t *testing.T) {
	for _, perRoute := range []bool{false, true} {
		t.Run(map[bool]string{false: "Middleware", true: "Operation"}[perRoute], func(t *testing.T) {
			testGuard(t, guardedRouter(perRoute))
		})
	}
}

func testGuard(t *testing.T, h http.Handler) {
	for _, tc := range []struct {
		name, method, target, token string
		status                      int
		body                        string
	}{
		{"required, good token", "GET", "/_matrix/client/v3/devices", "good", 200, "getDevices @alice:example.org"},
		{"required, missing", "GET", "/_matrix/client/v3/devices", "", 403, ""},
		{"required, bad token", "GET", "/_matrix/client/v3/devices", "bad", 401, ""},
		{"required, query token", "GET", "/_matrix/client/v3/devices/D1?access_token=good", "", 200, "getDevice @alice:example.org"},
		{"query token not allowed", "GET", "/_matrix/client/v3/devices?access_token=good", "", 403, ""},
		{"optional, none", "GET", "/_matrix/client/versions", "", 200, "getVersions "},
		{"optional, good", "GET", "/_matrix/client/versions", "good", 200, "getVersions @alice:example.org"},
		{"optional, bad", "GET", "/_matrix/client/versions", "bad", 401, ""},
		{"none, token ignored", "POST", "/_matrix/client/v1/login/sso", "bad", 200, "loginVia "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body = %q, want %q", w.Body, tc.body)
			}
		})
	}
}
