package mock

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/scenario"
)

// The OAuth 2.0 API of Matrix v1.15 (MSC3861): the mock is its own
// authorization server. Clients discover it through auth_metadata,
// register (RFC 7591), send the user to the authorization endpoint (PKCE
// S256), exchange the code at the token endpoint (RFC 6749), refresh there,
// and revoke (RFC 7009). Tokens issued this way are the same tokens as the
// legacy API's: they work on every Matrix endpoint, expire and rotate by
// the same rules, and scenario effects apply to them.

// Where the authorization server's endpoints live, below the base URL.
const (
	oauthAuthorizePath    = "/oauth2/authorize"
	oauthTokenPath        = "/oauth2/token"
	oauthRegistrationPath = "/oauth2/registration"
	oauthRevocationPath   = "/oauth2/revoke"
	oauthDevicePath       = "/oauth2/device_authorization"
	oauthVerifyPath       = "/oauth2/device"
	accountPath           = "/account/"
	authMetadataUnstable  = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"
	authMetadataStable    = "/_matrix/client/v1/auth_metadata"
)

// Lifetimes of the authorization server's own grants.
const (
	authCodeLifetime   = 2 * time.Minute
	deviceCodeLifetime = 10 * time.Minute
	devicePollInterval = 5 * time.Second
)

// Scope tokens, stable and from MSC2967.
const (
	scopeAPI           = "urn:matrix:client:api:*"
	scopeAPIUnstable   = "urn:matrix:org.matrix.msc2967.client:api:*"
	scopeDevice        = "urn:matrix:client:device:"
	scopeDeviceUnstabl = "urn:matrix:org.matrix.msc2967.client:device:"
)

// The grant types the server supports.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Account management actions (MSC4191), stable names and the MSC's older
// ones where they differ.
var (
	stableActions = []string{
		"org.matrix.profile", "org.matrix.devices_list", "org.matrix.device_view",
		"org.matrix.device_delete", "org.matrix.account_deactivate", "org.matrix.cross_signing_reset",
	}
	mscActionNames = map[string]string{
		"org.matrix.devices_list":  "org.matrix.sessions_list",
		"org.matrix.device_view":   "org.matrix.session_view",
		"org.matrix.device_delete": "org.matrix.session_end",
	}
)

// oauthSettings is what a scenario or the options say about the OAuth 2.0
// API.
type oauthSettings struct {
	enabled     bool
	autoApprove string // a user to approve every authorization as; created if missing
	fieldNames  string // metadata field names: scenario.Stable, Unstable or Both
	actionNames string // account management action names: scenario.Stable or MSC
}

// oauthClient is a registered client.
type oauthClient struct {
	id           string
	native       bool
	redirectURIs []string
	grantTypes   []string
	info         oauth2.ClientInformation
}

// authCode is an authorization code waiting to be exchanged.
type authCode struct {
	client, redirectURI, challenge, scope string
	user, device                          string
	expires                               time.Time
}

// usedCode is a code presented once already: the access token it gave, if
// its exchange succeeded, and until when it is remembered.
type usedCode struct {
	issued  string
	expires time.Time
}

// deviceGrant is a device authorization (RFC 8628) waiting for the user.
type deviceGrant struct {
	client, scope, device string
	userCode              string
	expires, nextPoll     time.Time
	interval              time.Duration
	user                  string // set once approved
	denied                bool
}

// oauthState is the authorization server's state in a world.
type oauthState struct {
	settings oauthSettings

	mu          sync.Mutex
	clients     map[string]*oauthClient
	codes       map[string]*authCode
	usedCodes   map[string]usedCode // to refuse a replayed code and revoke what it gave
	deviceCodes map[string]*deviceGrant
	userCodes   map[string]string   // user code → device code
	grants      map[grantKey]string // the client each OAuth session was granted to
	account     accountState        // the account management page's (account.go)
}

func newOAuthState(set oauthSettings) *oauthState {
	return &oauthState{
		settings:    set,
		clients:     map[string]*oauthClient{},
		codes:       map[string]*authCode{},
		usedCodes:   map[string]usedCode{},
		deviceCodes: map[string]*deviceGrant{},
		userCodes:   map[string]string{},
		grants:      map[grantKey]string{},
	}
}

// grantKey names an OAuth session: a user's device.
type grantKey struct{ User, Device string }

// grant records that the session on device was granted to client, so that
// only that client may refresh it.
func (o *oauthState) grant(user, device, client string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.grants[grantKey{user, device}] = client
}

// grantedTo returns the client a session was granted to; "" when none.
func (o *oauthState) grantedTo(user, device string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.grants[grantKey{user, device}]
}

// randomString returns n random bytes in base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthOf returns the request's OAuth state, nil when the API is off.
func oauthOf(ctx context.Context) *oauthState { return exchangeOf(ctx).world.oauth }

// advertisedAction returns the name auth_metadata gives an account
// management action, given by its stable name.
func (o *oauthState) advertisedAction(action string) string {
	if old, ok := mscActionNames[action]; ok && o.settings.actionNames == scenario.MSC {
		return old
	}
	return action
}

// metadata is the auth_metadata answer for a server at base.
func (o *oauthState) metadata(base string) clientserver.GetAuthMetadata200JSONResponse {
	actions := make([]string, len(stableActions))
	for i, a := range stableActions {
		actions[i] = o.advertisedAction(a)
	}
	m := clientserver.GetAuthMetadata200JSONResponse{
		Issuer:                        base + "/",
		AuthorizationEndpoint:         base + oauthAuthorizePath,
		TokenEndpoint:                 base + oauthTokenPath,
		RegistrationEndpoint:          base + oauthRegistrationPath,
		RevocationEndpoint:            base + oauthRevocationPath,
		DeviceAuthorizationEndpoint:   ptr(base + oauthDevicePath),
		ResponseTypesSupported:        []string{"code"},
		ResponseModesSupported:        []string{"query", "fragment"},
		GrantTypesSupported:           []string{grantAuthorizationCode, grantRefreshToken, grantDeviceCode},
		CodeChallengeMethodsSupported: []string{"S256"},
		PromptValuesSupported:         ptr([]string{"create"}),
	}
	uri := base + accountPath
	if o.settings.fieldNames != scenario.Unstable {
		typed := make([]clientserver.GetAuthMetadata200JSONResponseBodyAccountManagementActionsSupported, len(actions))
		for i, a := range actions {
			typed[i] = clientserver.GetAuthMetadata200JSONResponseBodyAccountManagementActionsSupported(a)
		}
		m.AccountManagementURI, m.AccountManagementActionsSupported = &uri, &typed
	}
	if o.settings.fieldNames != scenario.Stable {
		m.OrgMatrixMsc4191AccountManagementURI, m.OrgMatrixMsc4191AccountManagementActionsSupported = &uri, &actions
	}
	return m
}

// registrationError is an RFC 7591 error answer.
func registrationError(code oauth2.RegistrationErrorError, description string) oauth2.RegisterOAuthClient400JSONResponse {
	return oauth2.RegisterOAuthClient400JSONResponse{Error: code, ErrorDescription: &description}
}

// register validates client metadata as a strict server does and stores
// the client.
func (o *oauthState) register(md oauth2.ClientMetadata, now time.Time) oauth2.RegisterOAuthClientResponseObject {
	native := md.ApplicationType != nil && *md.ApplicationType == oauth2.ClientMetadataApplicationTypeNative
	if md.ApplicationType != nil && !md.ApplicationType.Valid() {
		return registrationError(oauth2.InvalidClientMetadata, "application_type must be web or native")
	}
	clientURI, err := url.Parse(deref(md.ClientURI))
	if md.ClientURI == nil || err != nil || clientURI.Scheme != "https" || clientURI.Host == "" {
		return registrationError(oauth2.InvalidClientMetadata, "client_uri must be an https URL")
	}
	if m := deref(md.TokenEndpointAuthMethod); m != "" && m != "none" {
		return registrationError(oauth2.InvalidClientMetadata, "token_endpoint_auth_method must be none: clients are public")
	}
	grants := []string{grantAuthorizationCode}
	if md.GrantTypes != nil {
		grants = *md.GrantTypes
	}
	for _, g := range grants {
		if g != grantAuthorizationCode && g != grantRefreshToken && g != grantDeviceCode {
			return registrationError(oauth2.InvalidClientMetadata, "unsupported grant type "+g)
		}
	}
	responses := []string{"code"}
	if md.ResponseTypes != nil {
		responses = *md.ResponseTypes
	}
	for _, r := range responses {
		if r != "code" {
			return registrationError(oauth2.InvalidClientMetadata, "unsupported response type "+r)
		}
	}
	if slices.Contains(grants, grantAuthorizationCode) && !slices.Contains(responses, "code") {
		return registrationError(oauth2.InvalidClientMetadata, "the authorization_code grant needs the code response type")
	}
	var redirects []string
	if md.RedirectUris != nil {
		redirects = *md.RedirectUris
	}
	if slices.Contains(grants, grantAuthorizationCode) && len(redirects) == 0 {
		return registrationError(oauth2.InvalidRedirectURI, "redirect_uris is required for the authorization_code grant")
	}
	for _, r := range redirects {
		if msg := checkRedirectURI(r, native, clientURI); msg != "" {
			return registrationError(oauth2.InvalidRedirectURI, r+": "+msg)
		}
	}
	for key, value := range clientURIFields(md) {
		if msg := checkClientPage(value, clientURI); msg != "" {
			return registrationError(oauth2.InvalidClientMetadata, key+": "+msg)
		}
	}
	c := &oauthClient{id: randomString(16), native: native, redirectURIs: redirects, grantTypes: grants}
	appType := oauth2.ClientInformationApplicationTypeWeb
	if native {
		appType = oauth2.ClientInformationApplicationTypeNative
	}
	c.info = oauth2.ClientInformation{
		ClientID: c.id, ClientIDIssuedAt: ptr(now.Unix()), ApplicationType: &appType,
		ClientName: md.ClientName, ClientURI: md.ClientURI, LogoURI: md.LogoURI, TosURI: md.TosURI, PolicyURI: md.PolicyURI,
		RedirectUris: &redirects, GrantTypes: &grants, ResponseTypes: &responses, TokenEndpointAuthMethod: ptr("none"),
		AdditionalProperties: md.AdditionalProperties,
	}
	o.mu.Lock()
	o.clients[c.id] = c
	o.mu.Unlock()
	return oauth2.RegisterOAuthClient201JSONResponse(c.info)
}

// clientURIFields returns the URL fields of the metadata that must point
// at the client's own site: logo_uri, tos_uri, policy_uri and their
// localized variants ("tos_uri#fr").
func clientURIFields(md oauth2.ClientMetadata) map[string]string {
	out := map[string]string{}
	for key, p := range map[string]*string{"logo_uri": md.LogoURI, "tos_uri": md.TosURI, "policy_uri": md.PolicyURI} {
		if p != nil {
			out[key] = *p
		}
	}
	for key, v := range md.AdditionalProperties {
		base, _, localized := strings.Cut(key, "#")
		if localized && (base == "logo_uri" || base == "tos_uri" || base == "policy_uri" || base == "client_uri") {
			s, _ := v.(string)
			out[key] = s
		}
	}
	return out
}

// checkClientPage checks a URL of the client's: https, on the client_uri's
// host or a subdomain of it. It returns what is wrong, or "".
func checkClientPage(raw string, clientURI *url.URL) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "must be an https URL"
	}
	if !sameSite(u.Hostname(), clientURI.Hostname()) {
		return "must be on the host of client_uri, " + clientURI.Hostname()
	}
	return ""
}

func sameSite(host, site string) bool { return host == site || strings.HasSuffix(host, "."+site) }

// checkRedirectURI checks a redirect URI as RFC 8252 and MSC2966 ask: a web
// client's are https on its own site; a native client's are http on a
// loopback address (127.0.0.1 or [::1], not "localhost"), or a private-use
// scheme that is its site's host name reversed. It returns what is wrong,
// or "".
func checkRedirectURI(raw string, native bool, clientURI *url.URL) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return "not an absolute URI"
	case u.Fragment != "":
		return "must not have a fragment"
	case !native:
		if u.Scheme != "https" || !sameSite(u.Hostname(), clientURI.Hostname()) {
			return "a web client's redirect URIs must be https on the host of client_uri"
		}
	case u.Scheme == "http":
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return "a native client's http redirect URI must be on 127.0.0.1 or [::1]"
		}
	case u.Scheme == "https":
		if !sameSite(u.Hostname(), clientURI.Hostname()) {
			return "a native client's https redirect URI must be on the host of client_uri"
		}
	default:
		if u.Scheme != reverseHost(clientURI.Hostname()) && !strings.HasPrefix(u.Scheme, reverseHost(clientURI.Hostname())+".") {
			return "a private-use scheme must be the host of client_uri reversed, " + reverseHost(clientURI.Hostname())
		}
	}
	return ""
}

// reverseHost turns "app.example.org" into "org.example.app".
func reverseHost(host string) string {
	parts := strings.Split(host, ".")
	slices.Reverse(parts)
	return strings.Join(parts, ".")
}

// client returns a registered client.
func (o *oauthState) client(id string) *oauthClient {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.clients[id]
}

// redirectAllowed reports whether uri is one of the client's redirect URIs:
// exactly, or for a native client's loopback redirect, with any port
// (RFC 8252 §7.3).
func (c *oauthClient) redirectAllowed(uri string) bool {
	if slices.Contains(c.redirectURIs, uri) {
		return true
	}
	if !c.native {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || strings.Contains(uri, "#") {
		return false
	}
	for _, r := range c.redirectURIs {
		reg, err := url.Parse(r)
		if err == nil && reg.Scheme == "http" && reg.Hostname() == u.Hostname() && reg.Path == u.Path && reg.RawQuery == u.RawQuery {
			if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}

// parseScope checks a Matrix scope and returns the device ID it asks for.
// It needs the client API scope and exactly one device scope, in the
// stable or the MSC2967 form; other scope tokens are refused.
func parseScope(scope string) (device string, ok bool) {
	api := false
	for _, tok := range strings.Fields(scope) {
		switch {
		case tok == scopeAPI || tok == scopeAPIUnstable:
			api = true
		case strings.HasPrefix(tok, scopeDevice) || strings.HasPrefix(tok, scopeDeviceUnstabl):
			id := strings.TrimPrefix(strings.TrimPrefix(tok, scopeDevice), scopeDeviceUnstabl)
			if device != "" || !validDeviceID(id) {
				return "", false
			}
			device = id
		default:
			return "", false
		}
	}
	return device, api && device != ""
}

// validDeviceID accepts what MSC2967 allows in a device ID: at least ten
// characters from the base64url alphabet and a few more.
func validDeviceID(id string) bool {
	if len(id) < 10 || len(id) > 255 {
		return false
	}
	for _, r := range id {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~!$&'()*+,;=:@/", r)) {
			return false
		}
	}
	return true
}

// authRequest is an authorization request whose client and redirect URI
// have been checked, so that errors may go back to the client.
type authRequest struct {
	client                      *oauthClient
	redirectURI, state, mode    string
	scope, device               string
	challenge                   string
	prompt, loginHint           string
	responseType, challengeKind string
}

// redirect returns the URL that sends params back to the client, in the
// query or the fragment as the request asked.
func (a *authRequest) redirect(params url.Values) string {
	if a.state != "" {
		params.Set("state", a.state)
	}
	u, _ := url.Parse(a.redirectURI)
	if a.mode == "fragment" {
		return u.String() + "#" + params.Encode() // already encoded: not through URL.Fragment
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redirectError returns the URL that reports an RFC 6749 error to the client.
func (a *authRequest) redirectError(code, description string) string {
	return a.redirect(url.Values{"error": {code}, "error_description": {description}})
}

// checkAuthRequest validates an authorization request. A bad client or
// redirect URI is reported to the user (page is set); anything else goes
// back to the client (errURL is set).
func (o *oauthState) checkAuthRequest(q url.Values) (req *authRequest, page, errURL string) {
	c := o.client(q.Get("client_id"))
	if c == nil {
		return nil, "This application is not registered with this server (unknown client_id).", ""
	}
	if !c.redirectAllowed(q.Get("redirect_uri")) {
		return nil, "The address this application asked to return to is not one it registered (redirect_uri).", ""
	}
	req = &authRequest{
		client: c, redirectURI: q.Get("redirect_uri"), state: q.Get("state"), mode: q.Get("response_mode"),
		scope: q.Get("scope"), challenge: q.Get("code_challenge"), challengeKind: q.Get("code_challenge_method"),
		prompt: q.Get("prompt"), loginHint: q.Get("login_hint"), responseType: q.Get("response_type"),
	}
	var ok bool
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
	case len(req.challenge) != 43:
		return nil, "", req.redirectError("invalid_request", "code_challenge must be a base64url SHA-256 digest")
	case req.prompt != "" && req.prompt != "create" && req.prompt != "login" && req.prompt != "consent":
		return nil, "", req.redirectError("invalid_request", "unsupported prompt value "+req.prompt)
	}
	if req.device, ok = parseScope(req.scope); !ok {
		return nil, "", req.redirectError("invalid_scope", "the scope must hold "+scopeAPI+" and one "+scopeDevice+"<device ID>")
	}
	return req, "", ""
}

// issueCode makes an authorization code for user, to be exchanged once.
func (o *oauthState) issueCode(req *authRequest, user string, now time.Time) string {
	code := randomString(32)
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, c := range o.codes { // drop expired codes now and then
		if now.After(c.expires) {
			delete(o.codes, k)
		}
	}
	o.codes[code] = &authCode{
		client: req.client.id, redirectURI: req.redirectURI, challenge: req.challenge, scope: req.scope,
		user: user, device: req.device, expires: now.Add(authCodeLifetime),
	}
	return code
}

// redeemCode takes a code out of the store: it can be presented once.
// A code presented before is reported as replayed, with the access token
// its exchange gave ("" if that failed), so that it can be revoked
// (RFC 6749 §4.1.2). Used codes are remembered until they would have
// expired.
func (o *oauthState) redeemCode(code string, now time.Time) (c authCode, found bool, replayedToken string, replayed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if used, ok := o.usedCodes[code]; ok {
		return authCode{}, true, used.issued, true
	}
	p := o.codes[code]
	if p == nil {
		return authCode{}, false, "", false
	}
	for k, u := range o.usedCodes {
		if now.After(u.expires) {
			delete(o.usedCodes, k)
		}
	}
	delete(o.codes, code)
	o.usedCodes[code] = usedCode{expires: p.expires}
	return *p, true, "", false
}

// codeIssued records the access token a code's exchange gave.
func (o *oauthState) codeIssued(code, accessToken string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if u, ok := o.usedCodes[code]; ok {
		u.issued = accessToken
		o.usedCodes[code] = u
	}
}

// s256 is the PKCE S256 transformation of a code verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks a PKCE code verifier's length and alphabet (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

// equalStrings compares secrets in constant time.
func equalStrings(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
