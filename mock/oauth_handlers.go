package mock

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// oauthHandlers implements the generated OAuth 2.0 strict server
// interface. Each request works on its world's OAuth state; the routes are
// refused with 404 M_UNRECOGNIZED while the API is off (see oauthGate).
type oauthHandlers struct{}

var _ oauth2.StrictServerInterface = oauthHandlers{}

// oauthErr is an RFC 6749 error body.
func oauthErr(code, description string) oauth2.OAuthError {
	return oauth2.OAuthError{Error: code, ErrorDescription: &description}
}

func (h oauthHandlers) RegisterOAuthClient(ctx context.Context, req oauth2.RegisterOAuthClientRequestObject) (oauth2.RegisterOAuthClientResponseObject, error) {
	return oauthOf(ctx).register(*req.Body, serverOf(ctx).Clock.Now()), nil
}

func (h oauthHandlers) AuthorizeOAuthClient(ctx context.Context, req oauth2.AuthorizeOAuthClientRequestObject) (oauth2.AuthorizeOAuthClientResponseObject, error) {
	p := req.Params
	q := url.Values{
		"response_type": {p.ResponseType}, "client_id": {p.ClientID}, "redirect_uri": {p.RedirectURI},
		"scope": {p.Scope}, "state": {p.State}, "code_challenge": {p.CodeChallenge},
		"code_challenge_method": {string(p.CodeChallengeMethod)},
	}
	if p.ResponseMode != nil {
		q.Set("response_mode", string(*p.ResponseMode))
	}
	if p.Prompt != nil {
		q.Set("prompt", *p.Prompt)
	}
	if p.LoginHint != nil {
		q.Set("login_hint", *p.LoginHint)
	}
	return serverOf(ctx).authorize(ctx, q), nil
}

// authorize answers an authorization request: an error page, an error or a
// code sent back to the client, or the sign-in page.
func (s *Server) authorize(ctx context.Context, q url.Values) page {
	o, st := oauthOf(ctx), storeOf(ctx)
	req, problem, errURL := o.checkAuthRequest(q)
	switch {
	case problem != "":
		return errorPage(http.StatusBadRequest, problem)
	case errURL != "":
		return redirectPage(errURL)
	}
	if user := o.settings.autoApprove; user != "" {
		if _, err := st.AddUser(user, randomString(24)); err != nil && !errors.Is(err, state.ErrUserInUse) {
			return redirectPage(req.redirectError("server_error", "cannot create the auto-approved user: "+err.Error()))
		}
		return redirectPage(req.redirect(url.Values{"code": {o.issueCode(req, st.UserID(user), s.Clock.Now())}}))
	}
	return signInPage(req, "", http.StatusOK)
}

// authorizeForm answers the sign-in form (POST /oauth2/authorize): approve
// with a password, create an account, or deny.
func (s *Server) authorizeForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		errorPage(http.StatusBadRequest, "The form could not be read.").write(w)
		return
	}
	if !csrfOK(r) {
		errorPage(http.StatusForbidden, "The sign-in form has expired or did not come from this server. Go back and try again.").write(w)
		return
	}
	o, st := oauthOf(r.Context()), storeOf(r.Context())
	req, problem, errURL := o.checkAuthRequest(r.PostForm)
	switch {
	case problem != "":
		errorPage(http.StatusBadRequest, problem).write(w)
		return
	case errURL != "":
		redirectPage(errURL).write(w)
		return
	}
	user, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	switch r.PostForm.Get("action") {
	case "deny":
		redirectPage(req.redirectError("access_denied", "the user refused")).write(w)
		return
	case "create":
		id, err := st.Register(strings.TrimPrefix(user, "@"), password, false)
		if err != nil || password == "" {
			msg := "Choose a username (a-z, 0-9, . _ = - /) and a password."
			if errors.Is(err, state.ErrUserInUse) {
				msg = "That username is taken."
			}
			signInPage(req, msg, http.StatusOK).write(w)
			return
		}
		user = id
	default:
		if st.CheckPassword(user, password) != nil {
			signInPage(req, "Wrong username or password.", http.StatusOK).write(w)
			return
		}
	}
	code := o.issueCode(req, st.UserID(user), s.Clock.Now())
	redirectPage(req.redirect(url.Values{"code": {code}})).write(w)
}

func (h oauthHandlers) RequestOAuthToken(ctx context.Context, req oauth2.RequestOAuthTokenRequestObject) (oauth2.RequestOAuthTokenResponseObject, error) {
	b, o := req.Body, oauthOf(ctx)
	clientID := deref(b.ClientID)
	if clientID == "" {
		return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_request", "client_id is required")), nil
	}
	client := o.client(clientID)
	if client == nil {
		return oauth2.RequestOAuthToken401JSONResponse(oauthErr("invalid_client", "unknown client_id")), nil
	}
	switch string(b.GrantType) {
	case grantAuthorizationCode:
		return h.codeGrant(ctx, client, b)
	case grantRefreshToken:
		if deref(b.RefreshToken) == "" {
			return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_request", "refresh_token is required")), nil
		}
		st := storeOf(ctx)
		// RFC 6749 §6: the refresh token must have been issued to this
		// client (a legacy session's was issued to none).
		who, ok := st.RefreshOwner(*b.RefreshToken)
		if ok {
			exchangeOf(ctx).carried = who
		}
		if ok && (!who.ViaOAuth || o.grantedTo(who.UserID, who.DeviceID) != client.id) {
			return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_grant", "the refresh token was not issued to this client")), nil
		}
		sess, err := st.Refresh(*b.RefreshToken)
		if err != nil {
			return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_grant", "the refresh token is unknown, revoked or expired")), nil
		}
		return tokenAnswer(sess, ""), nil
	case grantDeviceCode:
		return h.deviceCodeGrant(ctx, client, deref(b.DeviceCode))
	case "":
		return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_request", "grant_type is required")), nil
	}
	return oauth2.RequestOAuthToken400JSONResponse(oauthErr("unsupported_grant_type", "grant_type "+string(b.GrantType)+" is not supported")), nil
}

// codeGrant exchanges an authorization code (RFC 6749 §4.1.3, RFC 7636).
func (h oauthHandlers) codeGrant(ctx context.Context, client *oauthClient, b *oauth2.RequestOAuthTokenFormdataRequestBody) (oauth2.RequestOAuthTokenResponseObject, error) {
	o, st := oauthOf(ctx), storeOf(ctx)
	invalid := func(why string) (oauth2.RequestOAuthTokenResponseObject, error) {
		return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_grant", why)), nil
	}
	if deref(b.Code) == "" || deref(b.RedirectURI) == "" || deref(b.CodeVerifier) == "" {
		return oauth2.RequestOAuthToken400JSONResponse(oauthErr("invalid_request", "code, redirect_uri and code_verifier are required")), nil
	}
	code, found, issued, replayed := o.redeemCode(*b.Code, serverOf(ctx).Clock.Now())
	switch {
	case !found:
		return invalid("unknown authorization code")
	case replayed:
		if issued != "" {
			st.RevokeToken(issued) // RFC 6749 §4.1.2: revoke what the code gave
		}
		return invalid("the authorization code was presented already")
	case serverOf(ctx).Clock.Now().After(code.expires):
		return invalid("the authorization code has expired")
	case code.client != client.id:
		return invalid("the authorization code was issued to another client")
	case *b.RedirectURI != code.redirectURI:
		return invalid("redirect_uri differs from the authorization request's")
	case !validVerifier(*b.CodeVerifier) || !equalStrings(s256(*b.CodeVerifier), code.challenge):
		return invalid("code_verifier does not match the code_challenge")
	}
	sess, err := st.Login(state.LoginRequest{UserID: code.user, DeviceID: code.device, WithRefresh: true, ViaOAuth: true})
	if err != nil {
		return invalid("the user no longer exists")
	}
	o.codeIssued(*b.Code, sess.AccessToken)
	o.grant(sess.UserID, sess.DeviceID, client.id)
	return tokenAnswer(sess, code.scope), nil
}

// tokenAnswer is the token endpoint's success answer for a session.
func tokenAnswer(sess state.Session, scope string) oauth2.RequestOAuthToken200JSONResponse {
	resp := oauth2.RequestOAuthToken200JSONResponse{AccessToken: sess.AccessToken, TokenType: "Bearer", RefreshToken: optional(sess.RefreshToken), Scope: optional(scope)}
	if sess.ExpiresIn > 0 {
		resp.ExpiresIn = ptr(int((sess.ExpiresIn + time.Second - 1) / time.Second))
	}
	return resp
}

func (h oauthHandlers) RevokeOAuthToken(ctx context.Context, req oauth2.RevokeOAuthTokenRequestObject) (oauth2.RevokeOAuthTokenResponseObject, error) {
	if req.Body.Token == "" {
		return oauth2.RevokeOAuthToken400JSONResponse(oauthErr("invalid_request", "token is required")), nil
	}
	storeOf(ctx).RevokeToken(req.Body.Token) // RFC 7009 §2.2: an unknown token is no error
	return oauth2.RevokeOAuthToken200Response{}, nil
}

// oauthRequestError answers an OAuth request whose body could not be read.
func oauthRequestError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, oauthErr("invalid_request", err.Error()))
}
