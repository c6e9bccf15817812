package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// The authorization endpoint (RFC 6749 §4.1, RFC 7636): a request is
// checked, then approved at once (auto-approval) or on the sign-in page,
// and a single-use code goes back to the client's redirect URI.

// Scope tokens, stable and from MSC2967.
const (
	scopeAPI           = "urn:matrix:client:api:*"
	scopeAPIUnstable   = "urn:matrix:org.matrix.msc2967.client:api:*"
	scopeDevice        = "urn:matrix:client:device:"
	scopeDeviceUnstabl = "urn:matrix:org.matrix.msc2967.client:device:"
)

// authCode is an authorization code waiting to be exchanged.
type authCode struct {
	client, redirectURI, challenge, scope string
	user, device                          string
	expires                               time.Time
}

// usedCode is a code presented once already: the session its exchange
// gave, if it succeeded, and until when it is remembered.
type usedCode struct {
	user, device string    // "" until the exchange succeeded
	exchanged    time.Time // when it succeeded
	expires      time.Time
}

// parseScope checks a Matrix scope and returns the device ID it asks for.
// It needs the client API scope and exactly one device scope, in the
// stable or the MSC2967 form; other scope tokens are refused. problem says
// what is wrong, or is empty.
func parseScope(scope string) (device, problem string) {
	api := false
	for _, tok := range strings.Fields(scope) {
		switch {
		case tok == scopeAPI || tok == scopeAPIUnstable:
			api = true
		case strings.HasPrefix(tok, scopeDevice) || strings.HasPrefix(tok, scopeDeviceUnstabl):
			id := strings.TrimPrefix(strings.TrimPrefix(tok, scopeDevice), scopeDeviceUnstabl)
			switch {
			case device != "":
				return "", "the scope holds more than one " + scopeDevice + "<device ID>"
			case !validDeviceID(id):
				return "", fmt.Sprintf("the device ID %q in the scope must be %d to %d characters of A-Z a-z 0-9 %s", id, minDeviceID, maxDeviceID, deviceIDExtra)
			}
			device = id
		default:
			return "", fmt.Sprintf("unknown scope token %q; allowed: %s and one %s<device ID> (or their MSC2967 forms)", tok, scopeAPI, scopeDevice)
		}
	}
	switch {
	case !api:
		return "", "the scope must hold " + scopeAPI
	case device == "":
		return "", "the scope must hold one " + scopeDevice + "<device ID>"
	}
	return device, ""
}

// The device IDs MSC2967 allows: minDeviceID to maxDeviceID characters
// from the base64url alphabet and deviceIDExtra.
const (
	minDeviceID   = 10
	maxDeviceID   = 255
	deviceIDExtra = "-._~!$&'()*+,;=:@/"
)

// validDeviceID accepts what MSC2967 allows in a device ID.
func validDeviceID(id string) bool { return spelled(id, minDeviceID, maxDeviceID, deviceIDExtra) }

// spelled reports whether s has from least to most characters, each a
// letter, a digit or one of extra.
func spelled(s string, least, most int, extra string) bool {
	if len(s) < least || len(s) > most {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// authParams are the parameters of an authorization request, from its
// query or from the sign-in form that carried them along.
type authParams struct {
	responseType, clientID, redirectURI, scope, state string
	challenge, challengeKind, mode, prompt, loginHint string
}

// paramsOf reads an authorization request's parameters from a query or a
// form.
func paramsOf(q url.Values) authParams {
	return authParams{
		responseType: q.Get("response_type"), clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		scope: q.Get("scope"), state: q.Get("state"), challenge: q.Get("code_challenge"),
		challengeKind: q.Get("code_challenge_method"), mode: q.Get("response_mode"),
		prompt: q.Get("prompt"), loginHint: q.Get("login_hint"),
	}
}

// hidden returns the parameters as the sign-in form's hidden fields, by
// their names in the query.
func (p authParams) hidden() map[string]string {
	return map[string]string{
		"response_type": p.responseType, "client_id": p.clientID, "redirect_uri": p.redirectURI,
		"scope": p.scope, "state": p.state, "code_challenge": p.challenge,
		"code_challenge_method": p.challengeKind, "response_mode": p.mode, "prompt": p.prompt,
		"login_hint": p.loginHint,
	}
}

// authRequest is an authorization request whose client and redirect URI
// have been checked, so that errors may go back to the client.
type authRequest struct {
	authParams
	client *client
	device string // from the scope
	issuer string // this server's issuer, sent back as iss (RFC 9207)
}

// redirect returns the URL that sends params back to the client, in the
// query or the fragment as the request asked. The redirect URI is kept as
// the client sent it, which is as it registered it: a query it has is
// neither re-encoded nor reordered (RFC 6749 §3.1.2); the parameters are
// appended.
func (a *authRequest) redirect(params url.Values) string {
	if a.state != "" {
		params.Set("state", a.state)
	}
	params.Set("iss", a.issuer) // RFC 9207: against mix-up attacks
	sep := "?"
	switch {
	case a.mode == "fragment":
		sep = "#"
	case strings.HasSuffix(a.redirectURI, "?") || strings.HasSuffix(a.redirectURI, "&"):
		sep = ""
	case strings.Contains(a.redirectURI, "?"):
		sep = "&"
	}
	return a.redirectURI + sep + params.Encode()
}

// redirectError returns the URL that reports an RFC 6749 error to the client.
func (a *authRequest) redirectError(code, description string) string {
	return a.redirect(url.Values{"error": {code}, "error_description": {description}})
}

// checkAuthRequest validates an authorization request to the server at
// base. A bad client or redirect URI is reported to the user (page is
// set); anything else goes back to the client (errURL is set).
func (s *Server) checkAuthRequest(p authParams, base string) (req *authRequest, page, errURL string) {
	c := s.client(p.clientID)
	if c == nil {
		return nil, "This application is not registered with this server (unknown client_id).", ""
	}
	if !c.redirectAllowed(p.redirectURI) {
		return nil, "The address this application asked to return to is not one it registered (redirect_uri).", ""
	}
	req = &authRequest{authParams: p, client: c, issuer: Issuer(base)}
	switch {
	case req.mode != "" && req.mode != "query" && req.mode != "fragment":
		req.mode = ""
		return nil, "", req.redirectError("invalid_request", "response_mode must be query or fragment")
	case req.responseType != "code":
		return nil, "", req.redirectError("unsupported_response_type", "response_type must be code")
	case !slices.Contains(c.grantTypes, grantAuthorizationCode):
		return nil, "", req.redirectError("unauthorized_client", "this client did not register the authorization_code grant")
	case req.challenge == "" || req.challengeKind != "S256":
		return nil, "", req.redirectError("invalid_request", "PKCE is required, with code_challenge_method S256")
	case !spelled(req.challenge, 43, 43, "-_"):
		return nil, "", req.redirectError("invalid_request", "code_challenge must be a base64url SHA-256 digest: 43 characters of A-Z a-z 0-9 - _")
	case req.prompt != "" && req.prompt != "create" && req.prompt != "login" && req.prompt != "consent":
		return nil, "", req.redirectError("invalid_request", "unsupported prompt value "+req.prompt)
	}
	var problem string
	if req.device, problem = parseScope(req.scope); problem != "" {
		return nil, "", req.redirectError("invalid_scope", problem)
	}
	return req, "", ""
}

// Authorize answers a request to the authorization endpoint of the server
// at base whose parameters the generated server read.
func (s *Server) Authorize(q oauth2.AuthorizeOAuthClientParams, base string) oauth2.AuthorizeOAuthClientResponseObject {
	p := authParams{
		responseType: q.ResponseType, clientID: q.ClientID, redirectURI: q.RedirectURI,
		scope: q.Scope, state: q.State, challenge: q.CodeChallenge, challengeKind: string(q.CodeChallengeMethod),
		prompt: str(q.Prompt), loginHint: str(q.LoginHint),
	}
	if q.ResponseMode != nil {
		p.mode = string(*q.ResponseMode)
	}
	return s.authorize(p, base)
}

// ServeAuthorizeQuery answers a request to the authorization endpoint whose
// parameters the generated server could not read: authorize checks them
// itself, as it knows when an error may go back to the client. base is
// the server's base URL.
func (s *Server) ServeAuthorizeQuery(w http.ResponseWriter, r *http.Request, base string) {
	s.authorize(paramsOf(r.URL.Query()), base).write(w)
}

// authorize answers an authorization request: an error page, an error or a
// code sent back to the client, or the sign-in page.
func (s *Server) authorize(p authParams, base string) page {
	req, problem, errURL := s.checkAuthRequest(p, base)
	switch {
	case problem != "":
		return s.errorPage(http.StatusBadRequest, problem)
	case errURL != "":
		return redirectPage(errURL)
	}
	user, err := s.autoApproveUser()
	switch {
	case err != nil:
		return redirectPage(req.redirectError("server_error", "cannot create the auto-approved user: "+err.Error()))
	case user != "":
		return redirectPage(req.redirect(url.Values{"code": {s.issueCode(req, user)}}))
	}
	return s.signInPage(req, "", http.StatusOK)
}

// ServeAuthorizeForm answers the sign-in form (POST to the authorization
// endpoint of the server at base): approve with a password, create an
// account, or deny.
func (s *Server) ServeAuthorizeForm(w http.ResponseWriter, r *http.Request, base string) {
	if !s.readForm(w, r, "The sign-in form has expired or did not come from this server. Go back and try again.") {
		return
	}
	req, problem, errURL := s.checkAuthRequest(paramsOf(r.PostForm), base)
	switch {
	case problem != "":
		s.errorPage(http.StatusBadRequest, problem).write(w)
		return
	case errURL != "":
		redirectPage(errURL).write(w)
		return
	}
	st := s.store
	user, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	switch r.PostForm.Get("action") {
	case "deny":
		redirectPage(req.redirectError("access_denied", "the user refused")).write(w)
		return
	case "create":
		if req.prompt != "create" { // the page offers sign-up only then
			s.signInPage(req, "This application did not ask to create an account: sign in instead.", http.StatusBadRequest).write(w)
			return
		}
		if password == "" {
			s.signInPage(req, "Choose a password.", http.StatusOK).write(w)
			return
		}
		id, err := st.Register(strings.TrimPrefix(user, "@"), password, false)
		if err != nil {
			msg := "Choose a username (a-z, 0-9, . _ = - /) and a password."
			if errors.Is(err, state.ErrUserInUse) {
				msg = "That username is taken."
			}
			s.signInPage(req, msg, http.StatusOK).write(w)
			return
		}
		user = id
	default:
		if problem, status := s.checkPassword(r, user, password, "Wrong username or password."); problem != "" {
			s.signInPage(req, problem, status).write(w)
			return
		}
	}
	code := s.issueCode(req, st.UserID(user))
	redirectPage(req.redirect(url.Values{"code": {code}})).write(w)
}

// issueCode makes an authorization code for user, to be exchanged once.
func (s *Server) issueCode(req *authRequest, user string) string {
	code, now := s.store.RandomString(32), s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.codes { // drop expired codes now and then
		if now.After(c.expires) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &authCode{
		client: req.client.id, redirectURI: req.redirectURI, challenge: req.challenge, scope: req.scope,
		user: user, device: req.device, expires: now.Add(authCodeLifetime),
	}
	return code
}

// redeemCode takes a code out of the store: it can be presented once.
// A code presented before is reported as replayed, with what its exchange
// gave, so that it can be revoked (RFC 6749 §4.1.2). Used codes are
// remembered until they would have expired.
func (s *Server) redeemCode(code string, now time.Time) (c authCode, found bool, replay *usedCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if used, ok := s.usedCodes[code]; ok {
		return authCode{}, true, &used
	}
	p := s.codes[code]
	if p == nil {
		return authCode{}, false, nil
	}
	for k, u := range s.usedCodes {
		if now.After(u.expires) {
			delete(s.usedCodes, k)
		}
	}
	delete(s.codes, code)
	s.usedCodes[code] = usedCode{expires: p.expires}
	return *p, true, nil
}

// codeIssued records the session a code's exchange gave.
func (s *Server) codeIssued(code string, sess state.Session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.usedCodes[code]; ok {
		u.user, u.device, u.exchanged = sess.UserID, sess.DeviceID, now
		s.usedCodes[code] = u
	}
}

// revokeReplayed ends the session a replayed code gave, with every token
// refreshed from it (RFC 6749 §4.1.2), unless the device has been signed in
// again since by another grant, or the replay comes within
// Settings.CodeReplayGrace of the exchange.
func (s *Server) revokeReplayed(code string, used usedCode, now time.Time) {
	if used.user == "" || now.Sub(used.exchanged) < s.settings.CodeReplayGrace {
		return
	}
	s.mu.Lock()
	same := s.grants[grantKey{used.user, used.device}].code == code
	s.mu.Unlock()
	if same {
		_ = s.store.DeleteDevice(used.user, used.device) // gone already: nothing to revoke
	}
}

// s256 is the PKCE S256 transformation of a code verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks a PKCE code verifier's length and alphabet (RFC 7636 §4.1).
func validVerifier(v string) bool { return spelled(v, 43, 128, "-._~") }

// equalStrings compares secrets in constant time.
func equalStrings(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
