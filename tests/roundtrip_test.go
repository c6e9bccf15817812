// Package tests holds tests that cross mxauth's packages: the generated
// client against a server built on the generated strict interface, over
// loopback HTTP.
package tests

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/operation"
	"github.com/mxauth/mxauth/operation/guard"
)

// tinyServer implements just enough of the generated strict interface for a
// round trip: one user, one access token that has expired, and one refresh
// token. Calling any other operation panics through the nil embedded
// interface, which the test would report.
type tinyServer struct {
	clientserver.StrictServerInterface
}

const (
	expiredToken = "syt_expired"
	freshToken   = "syt_fresh"
	refreshToken = "syr_one"
)

func (tinyServer) Login(_ context.Context, req clientserver.LoginRequestObject) (clientserver.LoginResponseObject, error) {
	if req.Body.Password == nil || *req.Body.Password != "wonderland" {
		return clientserver.Login403JSONResponse{Errcode: "M_FORBIDDEN", Error: ptr("Invalid username or password")}, nil
	}
	device := "PHONE"
	if req.Body.DeviceID != nil {
		device = *req.Body.DeviceID
	}
	return clientserver.Login200JSONResponse{
		UserID: "@alice:example.org", DeviceID: device,
		AccessToken: expiredToken, RefreshToken: ptr(refreshToken), ExpiresInMs: ptr(300000),
	}, nil
}

func (tinyServer) Refresh(_ context.Context, req clientserver.RefreshRequestObject) (clientserver.RefreshResponseObject, error) {
	if req.Body.RefreshToken != refreshToken {
		return clientserver.Refresh401JSONResponse{Errcode: "M_UNKNOWN_TOKEN", Error: ptr("Unknown refresh token"), SoftLogout: ptr(false)}, nil
	}
	return clientserver.Refresh200JSONResponse{AccessToken: freshToken, RefreshToken: ptr("syr_two"), ExpiresInMs: ptr(300000)}, nil
}

func (tinyServer) GetTokenOwner(context.Context, clientserver.GetTokenOwnerRequestObject) (clientserver.GetTokenOwnerResponseObject, error) {
	return clientserver.GetTokenOwner200JSONResponse{UserID: "@alice:example.org", DeviceID: ptr("PHONE")}, nil
}

// start serves tinyServer on loopback behind the generated router and a
// guard.Guard that accepts only freshToken and says soft_logout for the
// expired one.
func start(t *testing.T) *clientserver.ClientWithResponses {
	t.Helper()
	g := guard.Guard{
		Table: clientserver.Operations,
		Verify: func(r *http.Request, _ *operation.Info, token string) (*http.Request, error) {
			if token != freshToken {
				return r, errors.New(token)
			}
			return r, nil
		},
		Fail: func(w http.ResponseWriter, r *http.Request, _ *operation.Info, err error) {
			answer := clientserver.GetTokenOwner401JSONResponse{Errcode: "M_UNKNOWN_TOKEN", Error: ptr("Access token has expired"), SoftLogout: ptr(err.Error() == expiredToken)}
			if errors.Is(err, guard.ErrMissingToken) {
				answer = clientserver.GetTokenOwner401JSONResponse{Errcode: "M_MISSING_TOKEN", Error: ptr("Missing access token")}
			}
			if err := answer.VisitGetTokenOwnerResponse(w); err != nil {
				t.Error(err)
			}
		},
	}
	handler := clientserver.HandlerWithOptions(
		clientserver.NewStrictHandler(tinyServer{}, nil),
		clientserver.GorillaServerOptions{Middlewares: []clientserver.MiddlewareFunc{g.Middleware}},
	)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	client, err := clientserver.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestRoundTripLoginRefreshSoftLogout(t *testing.T) {
	ctx := context.Background()
	client := start(t)

	login, err := client.LoginWithResponse(ctx, clientserver.LoginJSONRequestBody{
		Type:         "m.login.password",
		Identifier:   &clientserver.UserIdentifier{Type: "m.id.user", AdditionalProperties: map[string]any{"user": "alice"}},
		Password:     ptr("wonderland"),
		DeviceID:     ptr("PHONE"),
		RefreshToken: ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if login.JSON200 == nil {
		t.Fatalf("login: status %d, body %s", login.StatusCode(), login.Body)
	}
	if got := *login.JSON200; got.UserID != "@alice:example.org" || got.DeviceID != "PHONE" || got.AccessToken != expiredToken || *got.RefreshToken != refreshToken || *got.ExpiresInMs != 300000 {
		t.Errorf("login answer = %+v", got)
	}

	wrong, err := client.LoginWithResponse(ctx, clientserver.LoginJSONRequestBody{Type: "m.login.password", Password: ptr("nope")})
	if err != nil {
		t.Fatal(err)
	}
	if wrong.JSON403 == nil || wrong.JSON403.Errcode != "M_FORBIDDEN" {
		t.Errorf("wrong password: status %d, JSON403 %+v", wrong.StatusCode(), wrong.JSON403)
	}

	// The expired token: a typed 401 with soft_logout true.
	withToken := func(token string) clientserver.RequestEditorFn {
		return clientserver.RequestEditorFn(clientserver.Operations.BearerToken(func(context.Context) (string, error) { return token, nil }))
	}
	owner, err := client.GetTokenOwnerWithResponse(ctx, withToken(login.JSON200.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if owner.JSON401 == nil {
		t.Fatalf("whoami with the expired token: status %d, body %s", owner.StatusCode(), owner.Body)
	}
	if owner.JSON401.Errcode != "M_UNKNOWN_TOKEN" || owner.JSON401.SoftLogout == nil || !*owner.JSON401.SoftLogout {
		t.Errorf("whoami 401 = %+v, want M_UNKNOWN_TOKEN with soft_logout true", *owner.JSON401)
	}

	// No token at all: the guard refuses before the handler.
	missing, err := client.GetTokenOwnerWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if missing.JSON401 == nil || missing.JSON401.Errcode != "M_MISSING_TOKEN" {
		t.Errorf("whoami without a token: status %d, body %s", missing.StatusCode(), missing.Body)
	}

	// Refresh, then the new token works.
	refreshed, err := client.RefreshWithResponse(ctx, clientserver.RefreshJSONRequestBody{RefreshToken: *login.JSON200.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.JSON200 == nil || refreshed.JSON200.AccessToken != freshToken || *refreshed.JSON200.RefreshToken != "syr_two" {
		t.Fatalf("refresh: status %d, body %s", refreshed.StatusCode(), refreshed.Body)
	}
	owner, err = client.GetTokenOwnerWithResponse(ctx, withToken(refreshed.JSON200.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if owner.JSON200 == nil || owner.JSON200.UserID != "@alice:example.org" || *owner.JSON200.DeviceID != "PHONE" {
		t.Errorf("whoami after refresh: status %d, body %s", owner.StatusCode(), owner.Body)
	}

	reused, err := client.RefreshWithResponse(ctx, clientserver.RefreshJSONRequestBody{RefreshToken: "syr_unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if reused.JSON401 == nil || reused.JSON401.Errcode != "M_UNKNOWN_TOKEN" || reused.JSON401.SoftLogout == nil || *reused.JSON401.SoftLogout {
		t.Errorf("unknown refresh token: status %d, body %s", reused.StatusCode(), reused.Body)
	}
}

func ptr[T any](v T) *T { return &v }
