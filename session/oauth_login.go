package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
)

// The scopes of a Matrix client (MSC2967, Matrix v1.15).
const (
	// ScopeClientAPI grants the whole client-server API.
	ScopeClientAPI = "urn:matrix:client:api:*"
	// ScopeDevicePrefix, followed by a device ID, binds the tokens to that
	// device.
	ScopeDevicePrefix = "urn:matrix:client:device:"
)

// Response modes: how the authorization server hands the code back.
const (
	// ResponseModeQuery puts code and state in the redirect URI's query.
	ResponseModeQuery = "query"
	// ResponseModeFragment puts them in its fragment, which the browser
	// keeps from the web server: for web clients that read it in script.
	ResponseModeFragment = "fragment"
)

// PromptCreate, as AuthorizationRequest.Prompt, opens the sign-up page
// instead of the sign-in page.
const PromptCreate = "create"

// AuthorizationRequest says what login to ask the user for.
type AuthorizationRequest struct {
	// RedirectURI is where the browser comes back; one of the registered
	// redirect URIs (for a loopback one, the port may differ).
	RedirectURI string
	// DeviceID is the device to log in on: an existing one to keep it and
	// its keys, or empty for a new one of 10 random capital letters. It
	// goes into the scope, so it must be printable ASCII without space,
	// '"' or '\'; servers may ask for more (MSC2967: at least 10
	// characters, from A-Z a-z 0-9 and -._~!$&'()*+,;=:@/).
	DeviceID string
	// ResponseMode is ResponseModeQuery (default) or ResponseModeFragment.
	ResponseMode string
	// Prompt is empty, or PromptCreate to offer sign-up.
	Prompt string
	// LoginHint suggests the account, such as "mxid:@alice:example.org".
	LoginHint string
}

// AuthorizationData is a login in progress: the URL to open in the browser
// and what FinishLogin needs when the browser comes back. Keep it until
// then (it marshals to JSON): it holds the PKCE verifier, a secret.
type AuthorizationData struct {
	// URL is the authorization URL to open in the browser.
	URL string `json:"url"`
	// State is the random value that the redirect must carry back.
	State string `json:"state"`
	// CodeVerifier is the PKCE secret (RFC 7636) the code is redeemed with.
	CodeVerifier string `json:"code_verifier"`
	// RedirectURI is the redirect URI the code is sent to.
	RedirectURI string `json:"redirect_uri"`
	// DeviceID is the device the login is for.
	DeviceID string `json:"device_id"`
	// ResponseMode is where the code comes back: ResponseModeQuery or
	// ResponseModeFragment.
	ResponseMode string `json:"response_mode"`
	// ClientID is the client that asked.
	ClientID string `json:"client_id"`
}

// AuthorizationURL starts a login: it returns the URL to open in the
// browser (authorization code grant with PKCE S256, RFC 6749 §4.1 and RFC
// 7636, scoped to the client-server API and the device) and the data that
// FinishLogin needs afterwards.
func (c *OAuthClient) AuthorizationURL(req AuthorizationRequest) (*AuthorizationData, error) {
	if u, err := url.Parse(req.RedirectURI); err != nil || u.Scheme == "" || u.Fragment != "" {
		return nil, fmt.Errorf("session: redirect URI %q is not an absolute URL without fragment", req.RedirectURI)
	}
	mode := req.ResponseMode
	switch {
	case mode == "":
		mode = ResponseModeQuery
	case mode != ResponseModeQuery && mode != ResponseModeFragment:
		return nil, fmt.Errorf("session: response mode %q is neither %q nor %q", mode, ResponseModeQuery, ResponseModeFragment)
	}
	if c.meta.ResponseModesSupported != nil && !slices.Contains(c.meta.ResponseModesSupported, mode) {
		return nil, fmt.Errorf("session: the server does not support response mode %q", mode)
	}
	if req.Prompt != "" && !slices.Contains(c.meta.PromptValuesSupported, req.Prompt) {
		return nil, fmt.Errorf("session: the server does not support prompt %q", req.Prompt)
	}
	deviceID := req.DeviceID
	if deviceID == "" {
		deviceID = NewDeviceID()
	} else if !isScopeToken(deviceID) {
		return nil, fmt.Errorf("session: device ID %q cannot go into a scope: only printable ASCII without space, '\"' and '\\'", deviceID)
	}
	u, err := url.Parse(c.meta.AuthorizationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("session: authorization endpoint: %w", err)
	}
	data := &AuthorizationData{
		State:        randomToken(32),
		CodeVerifier: randomToken(48),
		RedirectURI:  req.RedirectURI,
		DeviceID:     deviceID,
		ResponseMode: mode,
		ClientID:     c.clientID,
	}
	q := u.Query() // the endpoint's own parameters stay
	q.Set("response_type", "code")
	q.Set("client_id", c.clientID)
	q.Set("redirect_uri", req.RedirectURI)
	q.Set("scope", ScopeClientAPI+" "+ScopeDevicePrefix+deviceID)
	q.Set("state", data.State)
	q.Set("code_challenge", CodeChallengeS256(data.CodeVerifier))
	q.Set("code_challenge_method", "S256")
	q.Set("response_mode", mode)
	if req.Prompt != "" {
		q.Set("prompt", req.Prompt)
	}
	if req.LoginHint != "" {
		q.Set("login_hint", req.LoginHint)
	}
	u.RawQuery = q.Encode()
	data.URL = u.String()
	return data, nil
}

// FinishLogin ends the login that data started, from callback: the URL the
// browser was sent back to (its query, or its fragment for
// ResponseModeFragment; a bare "code=...&state=..." string does too). It
// checks the state, redeems the code at the token endpoint, asks whoami
// who the tokens belong to, and returns the credentials to give New (with
// Config.OAuth set to c, so that the session refreshes at the token
// endpoint and logs out by revocation). The user refusing, or the server
// failing, is an *Error with the redirect's error code and StatusCode 0
// (ErrAccessDenied, ErrInvalidScope, ...); a redirect that is not this
// login's wraps ErrStateMismatch; a code the token endpoint refuses is the
// endpoint's *Error, such as ErrInvalidGrant.
func (c *OAuthClient) FinishLogin(ctx context.Context, data AuthorizationData, callback string) (Credentials, error) {
	if data.ClientID != "" && data.ClientID != c.clientID {
		return Credentials{}, fmt.Errorf("session: the login was started by client %q, not %q", data.ClientID, c.clientID)
	}
	if data.State == "" || data.CodeVerifier == "" || data.RedirectURI == "" || data.DeviceID == "" {
		return Credentials{}, errors.New("session: incomplete authorization data")
	}
	params, err := callbackParams(callback, data.ResponseMode)
	if err != nil {
		return Credentials{}, err
	}
	if subtle.ConstantTimeCompare([]byte(params.Get("state")), []byte(data.State)) != 1 {
		return Credentials{}, ErrStateMismatch
	}
	if code := params.Get("error"); code != "" {
		return Credentials{}, &Error{Errcode: code, Message: params.Get("error_description"), ErrorURI: params.Get("error_uri")}
	}
	code := params.Get("code")
	if code == "" {
		return Credentials{}, errors.New("session: the redirect carries neither a code nor an error")
	}
	tokens, err := c.grant(ctx, "code exchange", oauth2.RequestOAuthTokenRequest{
		GrantType:    oauth2.RequestOAuthTokenRequestGrantTypeAuthorizationCode,
		Code:         &code,
		RedirectURI:  &data.RedirectURI,
		CodeVerifier: &data.CodeVerifier,
	})
	if err != nil {
		return Credentials{}, err
	}
	creds := Credentials{AccessToken: tokens.AccessToken, RefreshToken: deref(tokens.RefreshToken), ExpiresAt: expiryIn(c.now(), tokens.ExpiresIn)}
	who, err := c.api.GetTokenOwner(withToken(ctx, creds.AccessToken))
	if err != nil {
		return Credentials{}, callError("whoami", err)
	}
	creds.UserID, creds.DeviceID = who.UserID, deref(who.DeviceID)
	if creds.DeviceID != data.DeviceID {
		// Tokens for a device the app did not ask for are of no use: give
		// them back rather than leave them alive.
		_ = c.revokeCredentials(ctx, creds)
		return Credentials{}, fmt.Errorf("session: the server issued tokens for device %q, not the %q asked for", creds.DeviceID, data.DeviceID)
	}
	return creds, nil
}

// callbackParams returns the parameters of the redirect: the query, or the
// fragment for ResponseModeFragment.
func callbackParams(callback, mode string) (url.Values, error) {
	u, err := url.Parse(callback)
	if err != nil {
		return nil, fmt.Errorf("session: the redirect URL: %w", err)
	}
	raw := u.RawQuery
	if mode == ResponseModeFragment {
		raw = u.EscapedFragment()
	}
	if raw == "" && u.Scheme == "" && u.Host == "" {
		raw = strings.TrimLeft(callback, "?#") // just the parameters
	}
	params, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("session: the redirect's parameters: %w", err)
	}
	return params, nil
}

// grant asks the token endpoint for tokens with the grant in body, as this
// client, and checks the answer (RFC 6749 §5.1); what names the request in
// errors. A refusal is the endpoint's *Error.
func (c *OAuthClient) grant(ctx context.Context, what string, body oauth2.RequestOAuthTokenRequest) (*oauth2.TokenResponse, error) {
	body.ClientID = &c.clientID
	t, err := c.token.RequestOAuthToken(ctx, body)
	if err != nil {
		return nil, callError(what, err)
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("session: %s: the answer has no access_token", what)
	}
	if !strings.EqualFold(t.TokenType, "Bearer") {
		return nil, fmt.Errorf("session: %s: token type %q, want Bearer", what, t.TokenType)
	}
	return t, nil
}

// expiryIn returns when a token that lives seconds from now expires; zero
// when it does not say (never).
func expiryIn(now time.Time, seconds *int) time.Time {
	if seconds == nil || *seconds <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(*seconds) * time.Second)
}

// CodeChallengeS256 returns the PKCE code challenge of verifier with the
// S256 method: BASE64URL(SHA256(verifier)) without padding (RFC 7636
// §4.2).
func CodeChallengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewDeviceID returns a new device ID: 10 capital letters from
// crypto/rand.
func NewDeviceID() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	id := make([]byte, 0, 10)
	var buf [16]byte
	for len(id) < cap(id) {
		_, _ = rand.Read(buf[:]) // never fails
		for _, b := range buf {
			// 234 = 9*26: bytes beyond it would favour the first letters.
			if b < 234 && len(id) < cap(id) {
				id = append(id, letters[b%26])
			}
		}
	}
	return string(id)
}

// randomToken returns n random bytes from crypto/rand, base64url-encoded
// without padding: characters of RFC 7636's unreserved set, as a PKCE
// verifier needs (n = 48 gives 64 of them).
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// isScopeToken reports whether a scope token can end with s (RFC 6749
// §3.3: %x21 / %x23-5B / %x5D-7E), as a device ID must.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}
