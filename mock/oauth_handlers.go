package mock

import (
	"context"
	"net/http"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/oauth"
)

// oauthHandlers implements the generated OAuth 2.0 strict server interface
// on the authorization server of the request's world (package
// mock/internal/oauth). The routes are refused with 404 M_UNRECOGNIZED
// while the API is off (see outer).
type oauthHandlers struct{}

var _ oauth2.StrictServerInterface = oauthHandlers{}

// oauthOf returns the request's authorization server, nil when the API is
// off.
func oauthOf(ctx context.Context) *oauth.Server { return exchangeOf(ctx).world.oauth }

func (oauthHandlers) RegisterOAuthClient(ctx context.Context, req oauth2.RegisterOAuthClientRequestObject) (oauth2.RegisterOAuthClientResponseObject, error) {
	return oauthOf(ctx).RegisterClient(req), nil
}

func (oauthHandlers) AuthorizeOAuthClient(ctx context.Context, req oauth2.AuthorizeOAuthClientRequestObject) (oauth2.AuthorizeOAuthClientResponseObject, error) {
	return oauthOf(ctx).Authorize(req.Params), nil
}

func (oauthHandlers) RequestOAuthToken(ctx context.Context, req oauth2.RequestOAuthTokenRequestObject) (oauth2.RequestOAuthTokenResponseObject, error) {
	return oauthOf(ctx).Token(req), nil
}

func (oauthHandlers) RevokeOAuthToken(ctx context.Context, req oauth2.RevokeOAuthTokenRequestObject) (oauth2.RevokeOAuthTokenResponseObject, error) {
	return oauthOf(ctx).Revoke(req), nil
}

func (oauthHandlers) RequestDeviceAuthorization(ctx context.Context, req oauth2.RequestDeviceAuthorizationRequestObject) (oauth2.RequestDeviceAuthorizationResponseObject, error) {
	ex := exchangeOf(ctx)
	return ex.world.oauth.DeviceAuthorization(req, ex.baseURL())
}

// oauthRequestError answers an OAuth request whose body could not be read.
func oauthRequestError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, oauth.ErrorBody("invalid_request", err.Error()))
}

// servePage serves one of the authorization server's HTML pages.
func servePage(page func(*oauth.Server, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { page(oauthOf(r.Context()), w, r) }
}

// CrossSigningResetApproved reports whether the user (a user ID or a bare
// localpart) approved a reset of their cross-signing keys on the account
// management page (action org.matrix.cross_signing_reset) in the last ten
// minutes: the time a homeserver gives the client to upload new keys
// without user-interactive auth. It is false while the OAuth 2.0 API is
// off.
func (s *Server) CrossSigningResetApproved(user string) bool {
	w := s.world.Load()
	if w.oauth == nil {
		return false
	}
	return w.oauth.CrossSigningResetApproved(user)
}
