package session

import (
	"bytes"
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
)

// This file is the client side of Matrix's OAuth 2.0 API (Matrix v1.15,
// MSC3861): discovering the authorization server, registering the client
// and the errors OAuth 2.0 endpoints answer with. The login itself is in
// oauth_login.go, refresh and revocation in oauth_session.go, MSC4191's
// account management links in oauth_account.go.
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

// The discovery paths of the server metadata, relative to the homeserver.
const (
	authMetadataPath         = "/_matrix/client/v1/auth_metadata"
	unstableAuthMetadataPath = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"
)

// maxOAuthBody bounds how much of an answer from an OAuth 2.0 endpoint or
// the metadata discovery is read.
const maxOAuthBody = 1 << 20

// Errors of the OAuth 2.0 client that are not answers of the server.
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

// OAuthError is an error of the OAuth 2.0 API: an error answer of the token
// endpoint (RFC 6749 §5.2), the registration endpoint (RFC 7591 §3.2.2) or
// the revocation endpoint (RFC 7009 §2.2.1), or the error parameters of the
// redirect after authorization (RFC 6749 §4.1.2.1). Compare it with the
// sentinels below through errors.Is, which matches on Code.
type OAuthError struct {
	// StatusCode is the HTTP status of the answer; 0 for an error that
	// came with the redirect.
	StatusCode int
	// Code is the "error" field, such as "invalid_grant".
	Code string
	// Description is the "error_description" field, for the developer.
	Description string
	// URI is the "error_uri" field: a page about the error, if any.
	URI string
}

// Sentinels for errors.Is: an *OAuthError matches the one with its Code.
var (
	// ErrInvalidRequest: the request is malformed or lacks a parameter.
	ErrInvalidRequest = &OAuthError{Code: "invalid_request"}
	// ErrInvalidClient: the client ID is unknown to the server.
	ErrInvalidClient = &OAuthError{Code: "invalid_client"}
	// ErrInvalidGrant: the authorization code or the refresh token is
	// invalid, expired, revoked or used already, or the PKCE verifier or
	// redirect URI does not match. For a refresh it means the refresh
	// token is dead.
	ErrInvalidGrant = &OAuthError{Code: "invalid_grant"}
	// ErrUnauthorizedClient: the client may not use this grant.
	ErrUnauthorizedClient = &OAuthError{Code: "unauthorized_client"}
	// ErrUnsupportedGrantType: the server does not know the grant type.
	ErrUnsupportedGrantType = &OAuthError{Code: "unsupported_grant_type"}
	// ErrInvalidScope: the scope asked for is unknown or not allowed.
	ErrInvalidScope = &OAuthError{Code: "invalid_scope"}
	// ErrAccessDenied: the user (or the server) refused the authorization.
	ErrAccessDenied = &OAuthError{Code: "access_denied"}
	// ErrUnsupportedResponseType: the server does not issue codes this way.
	ErrUnsupportedResponseType = &OAuthError{Code: "unsupported_response_type"}
	// ErrServerError: the authorization server failed.
	ErrServerError = &OAuthError{Code: "server_error"}
	// ErrTemporarilyUnavailable: the authorization server is overloaded or
	// down for maintenance.
	ErrTemporarilyUnavailable = &OAuthError{Code: "temporarily_unavailable"}
	// ErrInvalidRedirectURI: registration refused one of the redirect URIs.
	ErrInvalidRedirectURI = &OAuthError{Code: "invalid_redirect_uri"}
	// ErrInvalidClientMetadata: registration refused a field of the client
	// metadata, such as a client_uri that the redirect URIs do not match.
	ErrInvalidClientMetadata = &OAuthError{Code: "invalid_client_metadata"}
)

// Error returns the code, the status when there is one, and the
// description.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("oauth2: ")
	b.WriteString(e.Code)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Is reports whether target is an *OAuthError with the same Code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code
}

// ServerMetadata is the homeserver's OAuth 2.0 authorization server
// metadata (RFC 8414, as Matrix serves it at auth_metadata), with the
// account management page of MSC4191. It marshals to JSON with the stable
// field names, so an app may keep it; it unmarshals from the stable names
// or, when they are absent, the unstable org.matrix.msc4191 ones.
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

// UnmarshalJSON reads the metadata, taking the MSC4191 fields from their
// unstable names when the stable ones are absent.
func (m *ServerMetadata) UnmarshalJSON(data []byte) error {
	type plain ServerMetadata // without this method
	var aux struct {
		plain
		UnstableAccountManagementURI     string                    `json:"org.matrix.msc4191.account_management_uri"`
		UnstableAccountManagementActions []AccountManagementAction `json:"org.matrix.msc4191.account_management_actions_supported"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*m = ServerMetadata(aux.plain)
	if m.AccountManagementURI == "" {
		m.AccountManagementURI = aux.UnstableAccountManagementURI
	}
	if m.AccountManagementActionsSupported == nil {
		m.AccountManagementActionsSupported = aux.UnstableAccountManagementActions
	}
	return nil
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
// known the error wraps ErrOAuthNotSupported (and the server's *Error, if
// it sent one); metadata that fails Validate is an error wrapping
// ErrInvalidServerMetadata.
func DiscoverOAuth(ctx context.Context, cfg Config) (*ServerMetadata, error) {
	cfg = cfg.withDefaults()
	base, err := homeserverBase(cfg.HomeserverURL)
	if err != nil {
		return nil, err
	}
	client := cfg.plainClient()
	var unknown error
	for _, path := range []string{authMetadataPath, unstableAuthMetadataPath} {
		m, err := fetchMetadata(ctx, client, base+path)
		if err == nil {
			return m, nil
		}
		var nf *notFoundError
		if !errors.As(err, &nf) {
			return nil, err
		}
		unknown = nf.cause
	}
	if unknown != nil {
		return nil, fmt.Errorf("%w: %w", ErrOAuthNotSupported, unknown)
	}
	return nil, ErrOAuthNotSupported
}

// notFoundError says that a metadata endpoint is unknown to the server;
// cause is the server's *Error, if it sent one.
type notFoundError struct{ cause error }

func (e *notFoundError) Error() string { return "endpoint not found" }

// fetchMetadata GETs the metadata at u and checks it; an endpoint the
// server does not know is a *notFoundError.
func fetchMetadata(ctx context.Context, client *http.Client, u string) (*ServerMetadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("session: auth metadata: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("session: auth metadata: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOAuthBody))
	if err != nil {
		return nil, fmt.Errorf("session: auth metadata: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		merr := errorFromBody(resp.StatusCode, resp.Header, body)
		if resp.StatusCode == http.StatusNotFound || merr != nil && merr.Errcode == ErrUnrecognized.Errcode {
			if merr != nil {
				return nil, &notFoundError{cause: merr}
			}
			return nil, &notFoundError{}
		}
		if merr != nil {
			return nil, merr
		}
		return nil, fmt.Errorf("session: auth metadata: unexpected answer %s from %s", resp.Status, req.URL.Path)
	}
	var m ServerMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidServerMetadata, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
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
	ApplicationType ApplicationType `json:"application_type"`
	// ClientName is the name shown to the user.
	ClientName string `json:"client_name,omitempty"`
	// ClientURI is the client's home page; required. Servers check that
	// web redirect URIs and the other URIs share its host.
	ClientURI string `json:"client_uri"`
	// LogoURI is a logo to show the user.
	LogoURI string `json:"logo_uri,omitempty"`
	// TOSURI is the client's terms of service.
	TOSURI string `json:"tos_uri,omitempty"`
	// PolicyURI is the client's privacy policy.
	PolicyURI string `json:"policy_uri,omitempty"`
	// RedirectURIs are where the server may send the browser back to; at
	// least one.
	RedirectURIs []string `json:"redirect_uris"`
	// Contacts are email addresses of the people responsible for the
	// client.
	Contacts []string `json:"contacts,omitempty"`
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
	base     string // the homeserver URL, without the trailing slash
	now      func() time.Time
	http     *http.Client                      // plain: no token attached, rate limits waited out
	api      *clientserver.ClientWithResponses // for whoami
}

// RegisterOAuthClient registers the client described by client at meta's
// registration endpoint (RFC 7591) and returns it. It uses cfg's
// homeserver, HTTP client, rate-limit settings and clock. Keep the client
// ID (ClientID) with meta's Issuer, and next time use RestoreOAuthClient
// instead of registering again. A refusal is an *OAuthError, such as
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
	body, err := json.Marshal(struct {
		ClientMetadata
		GrantTypes              []string `json:"grant_types"`
		ResponseTypes           []string `json:"response_types"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	}{client, []string{"authorization_code", "refresh_token"}, []string{"code"}, "none"})
	if err != nil {
		return nil, fmt.Errorf("session: client metadata: %w", err)
	}
	cfg = cfg.withDefaults()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("session: client registration: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var answer struct {
		ClientID string `json:"client_id"`
	}
	if err := sendOAuth(cfg.plainClient(), req, "client registration", &answer); err != nil {
		return nil, err
	}
	if answer.ClientID == "" {
		return nil, errors.New("session: client registration: the answer has no client_id")
	}
	return newOAuthClient(cfg, meta, answer.ClientID)
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

// newOAuthClient builds the client; cfg has its defaults.
func newOAuthClient(cfg Config, meta *ServerMetadata, clientID string) (*OAuthClient, error) {
	base, err := homeserverBase(cfg.HomeserverURL)
	if err != nil {
		return nil, err
	}
	c := &OAuthClient{meta: meta.clone(), clientID: clientID, base: base, now: cfg.Now, http: cfg.plainClient()}
	if c.api, err = clientserver.NewClientWithResponses(cfg.HomeserverURL, clientserver.WithHTTPClient(c.http)); err != nil {
		return nil, fmt.Errorf("session: %w", err)
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

// sendOAuth sends req, an OAuth 2.0 request, and decodes a successful
// JSON answer into out (nil: the body is not read). An error answer is an
// *OAuthError, or an *Error when the server answers with a Matrix error.
func sendOAuth(client *http.Client, req *http.Request, what string, out any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("session: %s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOAuthBody))
	if err != nil {
		return fmt.Errorf("session: %s: reading the answer: %w", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if e := oauthErrorFromBody(resp.StatusCode, body); e != nil {
			return e
		}
		if e := errorFromBody(resp.StatusCode, resp.Header, body); e != nil {
			return e
		}
		return fmt.Errorf("session: %s: unexpected answer %s", what, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("session: %s: decoding the answer: %w", what, err)
	}
	return nil
}

// oauthErrorFromBody decodes an OAuth 2.0 error body; nil when it is none
// (a Matrix error, which has an errcode, is none).
func oauthErrorFromBody(status int, body []byte) *OAuthError {
	var f struct {
		Errcode     string `json:"errcode"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if json.Unmarshal(body, &f) != nil || f.Error == "" || f.Errcode != "" {
		return nil
	}
	return &OAuthError{StatusCode: status, Code: f.Error, Description: f.Description, URI: f.URI}
}
