package api

import (
	"context"
	"net/http"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/oauth"
)

// The OAuth 2.0 API: each operation is answered by the authorization
// server of the request's world (package oauth). The routes are refused
// with 404 M_UNRECOGNIZED while the API is off (see ServeHTTP).

func (Handlers) RegisterOAuthClient(ctx context.Context, req oauth2.RegisterOAuthClientRequestObject) (oauth2.RegisterOAuthClientResponseObject, error) {
	return From(ctx).World.OAuth.RegisterClient(req), nil
}

func (Handlers) AuthorizeOAuthClient(ctx context.Context, req oauth2.AuthorizeOAuthClientRequestObject) (oauth2.AuthorizeOAuthClientResponseObject, error) {
	x := From(ctx)
	return x.World.OAuth.Authorize(req.Params, x.BaseURL()), nil
}

func (Handlers) RequestOAuthToken(ctx context.Context, req oauth2.RequestOAuthTokenRequestObject) (oauth2.RequestOAuthTokenResponseObject, error) {
	x := From(ctx)
	if req.Body != nil && req.Body.RefreshToken != nil {
		x.carryRefresh(*req.Body.RefreshToken)
	}
	return x.World.OAuth.Token(req), nil
}

func (Handlers) RevokeOAuthToken(ctx context.Context, req oauth2.RevokeOAuthTokenRequestObject) (oauth2.RevokeOAuthTokenResponseObject, error) {
	return From(ctx).World.OAuth.Revoke(req), nil
}

func (Handlers) RequestDeviceAuthorization(ctx context.Context, req oauth2.RequestDeviceAuthorizationRequestObject) (oauth2.RequestDeviceAuthorizationResponseObject, error) {
	x := From(ctx)
	return x.World.OAuth.DeviceAuthorization(req, x.BaseURL())
}

// servePage serves one of the authorization server's HTML pages, which
// are not operations of the spec.
func servePage(page func(*oauth.Server, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { page(writerExchange(w).World.OAuth, w, r) }
}

// oauthRequestError answers an OAuth request whose body could not be read
// (RFC 6749 §5.2, RFC 7591 §3.2.2).
func oauthRequestError(w http.ResponseWriter, status int, description string) {
	if x := writerExchange(w); x != nil {
		x.Errcode = "invalid_request"
	}
	WriteJSON(w, status, oauth.ErrorBody("invalid_request", description))
}
