// Package oauth2 is the OAuth 2.0 API a Matrix homeserver (or its
// authorization service) offers beside the client-server API: client
// registration (RFC 7591), authorization and the token endpoint (RFC 6749
// with PKCE), revocation (RFC 7009) and the device authorization grant
// (RFC 8628), generated from specs/oauth2. The endpoints' URLs come from
// the server's auth_metadata, so give NewAPI the issuer's base URL.
//
// As a client, call the typed API; form-encoded bodies are encoded for you,
// and an RFC 6749 error answer is a *matrixerr.Error whose Errcode is the
// "error" code:
//
//	api, err := oauth2.NewAPI(issuer)
//	tokens, err := api.RequestOAuthToken(ctx, oauth2.RequestOAuthTokenRequest{
//		GrantType: oauth2.RequestOAuthTokenRequestGrantTypeRefreshToken, RefreshToken: &refresh, ClientID: &clientID})
//	if errors.Is(err, matrixerr.ErrInvalidGrant) { ... } // the refresh token is dead
//
// As a server, implement StrictServerInterface and serve it with
// NewStrictHandler and HandlerWithOptions (gorilla/mux).
package oauth2

//go:generate go run github.com/mxauth/mxauth/cmd/generate -config mxauth.yaml
