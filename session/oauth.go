package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
)

// This file is the client side of Matrix's OAuth 2.0 API (Matrix v1.15,
// MSC3861): discovering the authorization server and registering the
// client, through the generated typed APIs (gen/clientserver's
// getAuthMetadata, gen/oauth2's operations sent to the endpoints the
// metadata names; see api.go). The login itself is in oauth_login.go,
// refresh and revocation in oauth_session.go, MSC4191's account management
// links in oauth_account.go.
//
// The flow, in the shape of the matrix-rust-sdk:
//
//	meta, err := session.DiscoverOAuth(ctx, cfg)                 // GET auth_metadata
//	oc, err := session.RegisterOAuthClient(ctx, cfg, meta, app)  // or RestoreOAuthClient with a kept client ID
//	auth, err := oc.AuthorizationURL(session.AuthorizationRequest{RedirectURI: redirect})
//	// persist auth, open auth.URL in the browser, wait for the redirect
//	creds, err := oc.FinishLogin(ctx, *auth, landedOn)
//	cfg.Credentials, cfg.OAuth = creds, oc                       // refresh at the token endpoint
//	s, err := session.New(cfg)
//	...
//	err = s.Logout(ctx)                                          // revokes the tokens

// unstableAuthMetadataPath is where servers that predate Matrix v1.15
// serve the metadata (MSC2965), relative to the homeserver; the stable path
// is gen/clientserver's getAuthMetadata.
const unstableAuthMetadataPath = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"

// Errors of the OAuth 2.0 client that are not answers of the server. The
// server's refusals are *Error values whose Errcode is the OAuth 2.0
// "error" code and Message its "error_description": match them with
// ErrInvalidGrant, ErrInvalidClient, ... (matrixerr's codes).
var (
	// ErrOAuthNotSupported: the homeserver does not offer the OAuth 2.0
	// API: both the stable and the unstable auth_metadata endpoints are
	// unknown to it (404, or M_UNRECOGNIZED). Such a server takes the
	// legacy login (PasswordLogin).
	ErrOAuthNotSupported = errors.New("session: the homeserver does not support the OAuth 2.0 API")
	// ErrInvalidServerMetadata: the server metadata lacks a field the
	// OAuth 2.0 API needs, or has a malformed one. The message says which.
	ErrInvalidServerMetadata = errors.New("session: invalid OAuth 2.0 server metadata")
	// ErrStateMismatch: the redirect after authorization does not carry the
	// state of the pending login: it belongs to another login attempt, or
	// was forged.
	ErrStateMismatch = errors.New("session: the OAuth 2.0 state does not match the pending login")
	// ErrActionNotSupported: the server has no account management page, or
	// its page does not offer the action asked for (MSC4191).
	ErrActionNotSupported = errors.New("session: account management action not supported by the server")
)

// ServerMetadata is the homeserver's OAuth 2.0 authorization server
// metadata (RFC 8414, as Matrix serves it at auth_metadata), with the
// account management page of MSC4191, whichever of its names the server
// used (DiscoverOAuth takes the unstable org.matrix.msc4191 ones when the
// stable ones are absent). It marshals to JSON with the stable field
// names, so an app may keep it.
type ServerMetadata struct {
	// Issuer identifies the authorization server.
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint is where the browser goes to sign in.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	// TokenEndpoint is where codes and refresh tokens become tokens.
	TokenEndpoint string `json:"token_endpoint"`
	// RegistrationEndpoint is where clients register (RFC 7591); needed by
	// RegisterOAuthClient.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// RevocationEndpoint is where tokens are revoked (RFC 7009); needed to
	// log out.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// DeviceAuthorizationEndpoint starts the device authorization grant
	// (RFC 8628), for devices without a browser.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// ResponseTypesSupported must hold "code".
	ResponseTypesSupported []string `json:"response_types_supported"`
	// ResponseModesSupported are the ways the code can come back, such as
	// "query" and "fragment"; nil: not said.
	ResponseModesSupported []string `json:"response_modes_supported,omitzero"`
	// GrantTypesSupported must hold "authorization_code" and
	// "refresh_token".
	GrantTypesSupported []string `json:"grant_types_supported"`
	// CodeChallengeMethodsSupported are the PKCE methods; must hold "S256".
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	// PromptValuesSupported are the prompt values accepted, such as
	// "create" (open the sign-up page); nil: not said.
	PromptValuesSupported []string `json:"prompt_values_supported,omitzero"`
	// AccountManagementURI is the page where users manage their account
	// (MSC4191; "account_management_uri", or its unstable name
	// "org.matrix.msc4191.account_management_uri"). Empty: none.
	AccountManagementURI string `json:"account_management_uri,omitempty"`
	// AccountManagementActionsSupported are the actions the account
	// management page takes ("account_management_actions_supported", or
	// the unstable "org.matrix.msc4191.account_management_actions_supported").
	// nil: the server does not say, and any action is tried; an empty list
	// offers none.
	AccountManagementActionsSupported []AccountManagementAction `json:"account_management_actions_supported,omitzero"`
}

// Validate checks that the metadata has what a Matrix client needs: an
// issuer, authorization and token endpoints that are absolute URLs,
// response type "code", the grant types "authorization_code" and
// "refresh_token", and PKCE with "S256"; and that the optional endpoints it
// gives are absolute URLs. The error wraps ErrInvalidServerMetadata and
// names every problem.
func (m *ServerMetadata) Validate() error {
	var problems []string
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"issuer", m.Issuer, true},
		{"authorization_endpoint", m.AuthorizationEndpoint, true},
		{"token_endpoint", m.TokenEndpoint, true},
		{"registration_endpoint", m.RegistrationEndpoint, false},
		{"revocation_endpoint", m.RevocationEndpoint, false},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint, false},
		{"account_management_uri", m.AccountManagementURI, false},
	} {
		switch {
		case f.value == "" && f.required:
			problems = append(problems, f.name+" is missing")
		case f.value != "" && !isAbsoluteURL(f.value):
			problems = append(problems, fmt.Sprintf("%s %q is not an absolute http(s) URL", f.name, f.value))
		}
	}
	for _, f := range []struct {
		name string
		list []string
		want []string
	}{
		{"response_types_supported", m.ResponseTypesSupported, []string{"code"}},
		{"grant_types_supported", m.GrantTypesSupported, []string{"authorization_code", "refresh_token"}},
		{"code_challenge_methods_supported", m.CodeChallengeMethodsSupported, []string{"S256"}},
	} {
		for _, w := range f.want {
			if !slices.Contains(f.list, w) {
				problems = append(problems, fmt.Sprintf("%s lacks %q", f.name, w))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidServerMetadata, strings.Join(problems, "; "))
	}
	return nil
}

// clone returns a deep copy of m.
func (m *ServerMetadata) clone() *ServerMetadata {
	c := *m
	c.ResponseTypesSupported = slices.Clone(m.ResponseTypesSupported)
	c.ResponseModesSupported = slices.Clone(m.ResponseModesSupported)
	c.GrantTypesSupported = slices.Clone(m.GrantTypesSupported)
	c.CodeChallengeMethodsSupported = slices.Clone(m.CodeChallengeMethodsSupported)
	c.PromptValuesSupported = slices.Clone(m.PromptValuesSupported)
	c.AccountManagementActionsSupported = slices.Clone(m.AccountManagementActionsSupported)
	return &c
}

// isAbsoluteURL reports whether s is an http or https URL with a host.
func isAbsoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// homeserverBase checks the homeserver URL and returns it without the
// trailing slash.
func homeserverBase(hs string) (string, error) {
	if !isAbsoluteURL(hs) {
		return "", fmt.Errorf("session: homeserver URL %q is not an absolute URL", hs)
	}
	return strings.TrimSuffix(hs, "/"), nil
}

// DiscoverOAuth fetches and checks the homeserver's OAuth 2.0 server
// metadata: GET /_matrix/client/v1/auth_metadata, or, when the server does
// not know that endpoint (404, or M_UNRECOGNIZED), the unstable
// /_matrix/client/unstable/org.matrix.msc2965/auth_metadata. It uses cfg's
// homeserver, HTTP client and rate-limit settings. When neither endpoint is
// known the error wraps ErrOAuthNotSupported and the server's last *Error;
// metadata that does not decode or fails Validate is an error wrapping
// ErrInvalidServerMetadata; another refusal is the server's *Error.
func DiscoverOAuth(ctx context.Context, cfg Config) (*ServerMetadata, error) {
	cfg = cfg.withDefaults()
	base, err := homeserverBase(cfg.HomeserverURL)
	if err != nil {
		return nil, err
	}
	client := cfg.plainClient()
	unstable, err := sendTo(base + unstableAuthMetadataPath)
	if err != nil {
		return nil, err
	}
	var refused *Error
	for _, editors := range [][]clientserver.RequestEditorFn{nil, {unstable}} {
		api, err := homeserverAPI(base, client, editors...)
		if err != nil {
			return nil, err
		}
		answer, err := api.GetAuthMetadata(ctx)
		if err == nil {
			m := metadataFrom(answer)
			if err := m.Validate(); err != nil {
				return nil, err
			}
			return m, nil
		}
		if isDecodeError(err) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidServerMetadata, err)
		}
		e, ok := errors.AsType[*Error](err)
		if !ok || e.StatusCode != http.StatusNotFound && !errors.Is(e, ErrUnrecognized) {
			return nil, callError("auth metadata", err)
		}
		refused = e
	}
	return nil, fmt.Errorf("%w: %w", ErrOAuthNotSupported, refused)
}

// isDecodeError reports whether err, from a typed API call, says that a
// success answer's body was not the JSON its operation gives.
func isDecodeError(err error) bool {
	_, syntax := errors.AsType[*json.SyntaxError](err)
	_, typ := errors.AsType[*json.UnmarshalTypeError](err)
	return syntax || typ || errors.Is(err, io.ErrUnexpectedEOF)
}

// metadataFrom is the ServerMetadata of the auth_metadata answer a, with
// MSC4191's fields from their unstable names when the stable ones are
// absent.
func metadataFrom(a *clientserver.GetAuthMetadataResponse) *ServerMetadata {
	m := &ServerMetadata{
		Issuer:                        a.Issuer,
		AuthorizationEndpoint:         a.AuthorizationEndpoint,
		TokenEndpoint:                 a.TokenEndpoint,
		RegistrationEndpoint:          a.RegistrationEndpoint,
		RevocationEndpoint:            a.RevocationEndpoint,
		DeviceAuthorizationEndpoint:   deref(a.DeviceAuthorizationEndpoint),
		ResponseTypesSupported:        a.ResponseTypesSupported,
		ResponseModesSupported:        a.ResponseModesSupported,
		GrantTypesSupported:           a.GrantTypesSupported,
		CodeChallengeMethodsSupported: a.CodeChallengeMethodsSupported,
		AccountManagementURI:          deref(a.AccountManagementURI),
	}
	if a.PromptValuesSupported != nil {
		m.PromptValuesSupported = *a.PromptValuesSupported
	}
	if m.AccountManagementURI == "" {
		m.AccountManagementURI = deref(a.OrgMatrixMsc4191AccountManagementURI)
	}
	switch {
	case a.AccountManagementActionsSupported != nil:
		m.AccountManagementActionsSupported = actions(*a.AccountManagementActionsSupported)
	case a.OrgMatrixMsc4191AccountManagementActionsSupported != nil:
		m.AccountManagementActionsSupported = actions(*a.OrgMatrixMsc4191AccountManagementActionsSupported)
	}
	return m
}

// actions converts a list of action names; an empty list stays non-nil
// (the server offers no action, which is not the same as not saying).
func actions[S ~string](names []S) []AccountManagementAction {
	out := make([]AccountManagementAction, len(names))
	for i, n := range names {
		out[i] = AccountManagementAction(n)
	}
	return out
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ApplicationType is the kind of client that registers (OpenID Connect
// Dynamic Client Registration's application_type).
type ApplicationType string

// The application types.
const (
	// NativeApplication is an app on the user's device; its redirect URIs
	// are loopback URLs (http://127.0.0.1:<port>/..., the port may vary,
	// RFC 8252 §7.3) or a private-use scheme such as
	// "org.example.app:/callback".
	NativeApplication ApplicationType = "native"
	// WebApplication is a client served from a web origin; its redirect
	// URIs are https URLs under its client_uri.
	WebApplication ApplicationType = "web"
)

// ClientMetadata is what a client tells the server about itself when it
// registers (RFC 7591 §2, as MSC2966 profiles it). RegisterOAuthClient adds
// the fixed fields of a Matrix client: grant types authorization_code and
// refresh_token, response type code, and token_endpoint_auth_method none
// (a public client).
type ClientMetadata struct {
	// ApplicationType is NativeApplication or WebApplication.
	ApplicationType ApplicationType
	// ClientName is the name shown to the user.
	ClientName string
	// ClientURI is the client's home page; required. Servers check that
	// web redirect URIs and the other URIs share its host.
	ClientURI string
	// LogoURI is a logo to show the user.
	LogoURI string
	// TOSURI is the client's terms of service.
	TOSURI string
	// PolicyURI is the client's privacy policy.
	PolicyURI string
	// RedirectURIs are where the server may send the browser back to; at
	// least one. A native client's loopback URI is registered without a
	// port (http://127.0.0.1/callback): the authorization request may then
	// name any port (RFC 8252 §7.3).
	RedirectURIs []string
	// Contacts are email addresses of the people responsible for the
	// client.
	Contacts []string
}

// validate checks what the server would refuse anyway, to fail early with
// a clear message.
func (c ClientMetadata) validate() error {
	switch {
	case c.ApplicationType != NativeApplication && c.ApplicationType != WebApplication:
		return fmt.Errorf("session: client metadata: application_type %q is neither %q nor %q", c.ApplicationType, NativeApplication, WebApplication)
	case !isAbsoluteURL(c.ClientURI):
		return fmt.Errorf("session: client metadata: client_uri %q is not an absolute http(s) URL", c.ClientURI)
	case len(c.RedirectURIs) == 0:
		return errors.New("session: client metadata: no redirect_uris")
	}
	for _, r := range c.RedirectURIs {
		if u, err := url.Parse(r); err != nil || u.Scheme == "" || u.Fragment != "" {
			return fmt.Errorf("session: client metadata: redirect URI %q is not an absolute URL without fragment", r)
		}
	}
	return nil
}

// OAuthClient is a client registered with the homeserver's OAuth 2.0
// authorization server: its client ID and the server metadata. It builds
// authorization URLs, finishes logins, and, given to a Session as
// Config.OAuth, refreshes its tokens at the token endpoint and logs out by
// revocation. It does not change after it is made, and is safe for
// concurrent use.
type OAuthClient struct {
	meta     *ServerMetadata
	clientID string
	now      func() time.Time
	// The typed APIs, on the plain client (no token attached by a
	// session, rate limits waited out).
	api        *clientserver.API // the homeserver, for whoami
	token      *oauth2.API       // at the token endpoint
	revocation *oauth2.API       // at the revocation endpoint; nil: none
}

// RegisterOAuthClient registers the client described by client at meta's
// registration endpoint (RFC 7591) and returns it. It uses cfg's
// homeserver, HTTP client, rate-limit settings and clock. Keep the client
// ID (ClientID) with meta's Issuer, and next time use RestoreOAuthClient
// instead of registering again. A refusal is an *Error, such as
// ErrInvalidRedirectURI or ErrInvalidClientMetadata.
func RegisterOAuthClient(ctx context.Context, cfg Config, meta *ServerMetadata, client ClientMetadata) (*OAuthClient, error) {
	if meta == nil {
		return nil, errors.New("session: no server metadata")
	}
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	if meta.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("%w: registration_endpoint is missing: the server does not take dynamic client registration", ErrInvalidServerMetadata)
	}
	if err := client.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	api, err := endpointAPI(meta.RegistrationEndpoint, cfg.plainClient())
	if err != nil {
		return nil, err
	}
	answer, err := api.RegisterOAuthClient(ctx, client.request())
	if err != nil {
		return nil, callError("client registration", err)
	}
	if answer.ClientID == "" {
		return nil, errors.New("session: client registration: the answer has no client_id")
	}
	return newOAuthClient(cfg, meta, answer.ClientID)
}

// request is the registration request for c, with the fixed fields of a
// Matrix client.
func (c ClientMetadata) request() oauth2.ClientMetadata {
	optional := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	r := oauth2.ClientMetadata{
		ApplicationType:         ptr(oauth2.ClientMetadataApplicationType(c.ApplicationType)),
		ClientName:              optional(c.ClientName),
		ClientURI:               &c.ClientURI,
		LogoURI:                 optional(c.LogoURI),
		TosURI:                  optional(c.TOSURI),
		PolicyURI:               optional(c.PolicyURI),
		RedirectUris:            &c.RedirectURIs,
		GrantTypes:              &[]string{"authorization_code", "refresh_token"},
		ResponseTypes:           &[]string{"code"},
		TokenEndpointAuthMethod: ptr("none"),
	}
	if len(c.Contacts) > 0 {
		r.Contacts = &c.Contacts
	}
	return r
}

// RestoreOAuthClient returns the client registered earlier as clientID,
// without registering again. A client ID belongs to the issuer it was
// registered with: when meta.Issuer is not the one kept with it, register
// again instead.
func RestoreOAuthClient(cfg Config, meta *ServerMetadata, clientID string) (*OAuthClient, error) {
	if meta == nil {
		return nil, errors.New("session: no server metadata")
	}
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	if clientID == "" {
		return nil, errors.New("session: no client ID to restore")
	}
	return newOAuthClient(cfg.withDefaults(), meta, clientID)
}

// newOAuthClient builds the client; cfg has its defaults, meta is valid.
func newOAuthClient(cfg Config, meta *ServerMetadata, clientID string) (*OAuthClient, error) {
	base, err := homeserverBase(cfg.HomeserverURL)
	if err != nil {
		return nil, err
	}
	c := &OAuthClient{meta: meta.clone(), clientID: clientID, now: cfg.Now}
	client := cfg.plainClient()
	if c.api, err = homeserverAPI(base, client); err != nil {
		return nil, err
	}
	if c.token, err = endpointAPI(meta.TokenEndpoint, client); err != nil {
		return nil, err
	}
	if meta.RevocationEndpoint != "" {
		if c.revocation, err = endpointAPI(meta.RevocationEndpoint, client); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ClientID returns the client's ID at the authorization server.
func (c *OAuthClient) ClientID() string { return c.clientID }

// Metadata returns a copy of the server metadata the client works with.
func (c *OAuthClient) Metadata() *ServerMetadata { return c.meta.clone() }

// AccountManagementURL is the server metadata's AccountManagementURL.
func (c *OAuthClient) AccountManagementURL(req AccountManagementRequest) (string, error) {
	return c.meta.AccountManagementURL(req)
}
