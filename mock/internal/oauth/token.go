package oauth

import (
	"slices"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// ErrorBody is an RFC 6749 error body.
func ErrorBody(code, description string) oauth2.OAuthError {
	return oauth2.OAuthError{Error: code, ErrorDescription: &description}
}

// tokenError is the token endpoint's 400 answer with an RFC 6749 error.
func tokenError(code, description string) oauth2.RequestOAuthTokenResponseObject {
	return oauth2.RequestOAuthToken400JSONResponse(ErrorBody(code, description))
}

// RegisterClient answers client registration (RFC 7591).
func (s *Server) RegisterClient(req oauth2.RegisterOAuthClientRequestObject) oauth2.RegisterOAuthClientResponseObject {
	return s.register(*req.Body)
}

// Token answers the token endpoint: the authorization code, refresh token
// and device code grants (RFC 6749 §4.1.3 and §6, RFC 8628 §3.4).
func (s *Server) Token(req oauth2.RequestOAuthTokenRequestObject) oauth2.RequestOAuthTokenResponseObject {
	b := req.Body
	clientID := str(b.ClientID)
	if clientID == "" {
		return tokenError("invalid_request", "client_id is required")
	}
	client := s.client(clientID)
	if client == nil {
		return oauth2.RequestOAuthToken401JSONResponse(ErrorBody("invalid_client", "unknown client_id"))
	}
	switch string(b.GrantType) {
	case grantAuthorizationCode:
		return s.codeGrant(client, b)
	case grantRefreshToken:
		return s.refreshGrant(client, str(b.RefreshToken))
	case grantDeviceCode:
		return s.deviceCodeGrant(client, str(b.DeviceCode))
	case "":
		return tokenError("invalid_request", "grant_type is required")
	}
	return tokenError("unsupported_grant_type", "grant_type "+string(b.GrantType)+" is not supported")
}

// refreshGrant refreshes a session granted to client (RFC 6749 §6).
func (s *Server) refreshGrant(client *client, token string) oauth2.RequestOAuthTokenResponseObject {
	if token == "" {
		return tokenError("invalid_request", "refresh_token is required")
	}
	if !slices.Contains(client.grantTypes, grantRefreshToken) {
		return tokenError("unauthorized_client", "this client did not register the refresh_token grant")
	}
	// A refresh token used already means it leaked (Matrix spec, RFC 9700
	// §4.14.2): the session ends. The tolerant setting lets a replay through
	// while the pair its first use gave is unused, for a client whose answer
	// was lost; Refresh then replaces that pair.
	if who, replayed, unused := s.store.RefreshReplay(token); replayed && who.ViaOAuth && !(s.settings.RefreshReplayTolerant && unused) {
		_ = s.store.DeleteDevice(who.UserID, who.DeviceID) // gone already: nothing to revoke
		return tokenError("invalid_grant", "the refresh token was used already: the session is revoked")
	}
	// RFC 6749 §6: the refresh token must have been issued to this client
	// (a legacy session's was issued to none).
	if who, ok := s.store.RefreshOwner(token); ok && (!who.ViaOAuth || s.grantedTo(who.UserID, who.DeviceID) != client.id) {
		return tokenError("invalid_grant", "the refresh token was not issued to this client")
	}
	sess, err := s.store.Refresh(token)
	if err != nil {
		return tokenError("invalid_grant", "the refresh token is unknown, revoked or expired")
	}
	return tokenAnswer(sess, "")
}

// codeGrant exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636).
func (s *Server) codeGrant(client *client, b *oauth2.RequestOAuthTokenFormdataRequestBody) oauth2.RequestOAuthTokenResponseObject {
	invalid := func(why string) oauth2.RequestOAuthTokenResponseObject { return tokenError("invalid_grant", why) }
	if str(b.Code) == "" || str(b.RedirectURI) == "" || str(b.CodeVerifier) == "" {
		return tokenError("invalid_request", "code, redirect_uri and code_verifier are required")
	}
	now := s.clock.Now()
	code, found, replay := s.redeemCode(*b.Code, now)
	switch {
	case !found:
		return invalid("unknown authorization code")
	case replay != nil:
		s.revokeReplayed(*b.Code, *replay, now)
		return invalid("the authorization code was presented already")
	case now.After(code.expires):
		return invalid("the authorization code has expired")
	case code.client != client.id:
		return invalid("the authorization code was issued to another client")
	case *b.RedirectURI != code.redirectURI:
		return invalid("redirect_uri differs from the authorization request's")
	case !validVerifier(*b.CodeVerifier) || !equalStrings(s256(*b.CodeVerifier), code.challenge):
		return invalid("code_verifier does not match the code_challenge")
	}
	sess, err := s.login(client, code.user, code.device, *b.Code)
	if err != nil {
		return invalid("the user no longer exists")
	}
	s.codeIssued(*b.Code, sess, now)
	return tokenAnswer(sess, code.scope)
}

// login starts the session a grant gave client: user on device, with a
// refresh token, marked as made through OAuth 2.0. code is the
// authorization code it came from, "" for a device grant.
func (s *Server) login(client *client, user, device, code string) (state.Session, error) {
	sess, err := s.store.Login(state.LoginRequest{UserID: user, DeviceID: device, WithRefresh: true, ViaOAuth: true})
	if err != nil {
		return sess, err
	}
	s.grant(sess.UserID, sess.DeviceID, grantRecord{client: client.id, code: code})
	return sess, nil
}

// tokenAnswer is the token endpoint's success answer for a session.
func tokenAnswer(sess state.Session, scope string) oauth2.RequestOAuthToken200JSONResponse {
	resp := oauth2.RequestOAuthToken200JSONResponse{AccessToken: sess.AccessToken, TokenType: "Bearer", RefreshToken: nonEmpty(sess.RefreshToken), Scope: nonEmpty(scope)}
	if sess.ExpiresIn > 0 {
		resp.ExpiresIn = new(int((sess.ExpiresIn + time.Second - 1) / time.Second))
	}
	return resp
}

// Revoke answers token revocation (RFC 7009). The client identifies with
// its client_id, as public clients do; a token issued to another client,
// or a legacy session's, is refused and left alone (§2.1). An unknown
// token is no error (§2.2).
func (s *Server) Revoke(req oauth2.RevokeOAuthTokenRequestObject) oauth2.RevokeOAuthTokenResponseObject {
	refuse := func(code, why string) oauth2.RevokeOAuthTokenResponseObject {
		return oauth2.RevokeOAuthToken400JSONResponse(ErrorBody(code, why))
	}
	b := req.Body
	switch {
	case b.Token == "":
		return refuse("invalid_request", "token is required")
	case str(b.ClientID) == "":
		return refuse("invalid_client", "client_id is required: the client revoking a token must identify itself")
	case s.client(*b.ClientID) == nil:
		return refuse("invalid_client", "unknown client_id")
	}
	who, err := s.store.Owner(b.Token)
	if err != nil {
		var ok bool
		if who, ok = s.store.RefreshOwner(b.Token); !ok {
			return oauth2.RevokeOAuthToken200Response{}
		}
	}
	if !who.ViaOAuth || s.grantedTo(who.UserID, who.DeviceID) != *b.ClientID {
		return refuse("unauthorized_client", "the token was not issued to this client")
	}
	s.store.RevokeToken(b.Token)
	return oauth2.RevokeOAuthToken200Response{}
}
