package oauth2_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/matrixerr"
)

// tokenEndpoint answers the token endpoint as an authorization server
// does: a form-encoded grant in, JSON out, RFC 6749 errors.
func tokenEndpoint(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/oauth2/token" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_request","error_description":"not a form"}`)
			return
		}
		if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "good" || r.PostForm.Get("client_id") != "c1" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant","error_description":"The refresh token is not valid"}`)
			return
		}
		io.WriteString(w, `{"access_token":"at2","token_type":"Bearer","expires_in":300,"refresh_token":"rt2"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIFormBodyAndOAuthErrors(t *testing.T) {
	api, err := oauth2.NewAPI(tokenEndpoint(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	grant := func(refresh string) oauth2.RequestOAuthTokenRequest {
		return oauth2.RequestOAuthTokenRequest{GrantType: oauth2.RequestOAuthTokenRequestGrantTypeRefreshToken, RefreshToken: &refresh, ClientID: ptr("c1")}
	}
	var tok *oauth2.TokenResponse
	tok, err = api.RequestOAuthToken(ctx, grant("good"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at2" || tok.RefreshToken == nil || *tok.RefreshToken != "rt2" || tok.ExpiresIn == nil || *tok.ExpiresIn != 300 {
		t.Errorf("token = %+v", tok)
	}
	_, err = api.RequestOAuthToken(ctx, grant("dead"))
	var e *matrixerr.Error
	if !errors.Is(err, matrixerr.ErrInvalidGrant) || !errors.As(err, &e) || e.StatusCode != 400 || e.Message != "The refresh token is not valid" {
		t.Errorf("err = %v (%+v), want invalid_grant", err, e)
	}
}

func ptr[T any](v T) *T { return &v }
