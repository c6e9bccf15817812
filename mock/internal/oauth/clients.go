package oauth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/mxauth/mxauth/gen/oauth2"
)

// client is a registered client.
type client struct {
	id           string
	native       bool
	redirectURIs []string
	grantTypes   []string
	info         oauth2.ClientInformation
}

// Bounds of client registration, so that registrations cannot fill the
// server's memory: far above what any real client registers.
const (
	maxClients      = 10000
	maxRedirectURIs = 20
	maxURILength    = 2048
)

// MaxRegistrationBytes bounds a client registration's body; the homeserver
// answers a larger one 413 before the server sees it.
const MaxRegistrationBytes = 64 << 10

// registrationError is an RFC 7591 error answer.
func registrationError(code oauth2.RegistrationErrorError, description string) oauth2.RegisterOAuthClient400JSONResponse {
	return oauth2.RegisterOAuthClient400JSONResponse{Error: code, ErrorDescription: &description}
}

// register validates client metadata as a strict server does and stores
// the client under a new random ID.
func (s *Server) register(md oauth2.ClientMetadata) oauth2.RegisterOAuthClientResponseObject {
	native := md.ApplicationType != nil && *md.ApplicationType == oauth2.ClientMetadataApplicationTypeNative
	if md.ApplicationType != nil && !md.ApplicationType.Valid() {
		return registrationError(oauth2.InvalidClientMetadata, "application_type must be web or native")
	}
	clientURI, err := url.Parse(str(md.ClientURI))
	if md.ClientURI == nil || err != nil || clientURI.Scheme != "https" || clientURI.Host == "" {
		return registrationError(oauth2.InvalidClientMetadata, "client_uri must be an https URL")
	}
	if m := str(md.TokenEndpointAuthMethod); m != "" && m != "none" {
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
	if len(redirects) > maxRedirectURIs {
		return registrationError(oauth2.InvalidRedirectURI, fmt.Sprintf("at most %d redirect URIs", maxRedirectURIs))
	}
	for _, r := range redirects {
		if len(r) > maxURILength {
			return registrationError(oauth2.InvalidRedirectURI, fmt.Sprintf("a redirect URI is at most %d bytes long", maxURILength))
		}
		if msg := checkRedirectURI(r, native, clientURI); msg != "" {
			return registrationError(oauth2.InvalidRedirectURI, r+": "+msg)
		}
	}
	for key, value := range clientURIFields(md) {
		if msg := checkClientPage(value, clientURI); msg != "" {
			return registrationError(oauth2.InvalidClientMetadata, key+": "+msg)
		}
	}
	c := &client{id: s.store.RandomString(16), native: native, redirectURIs: redirects, grantTypes: grants}
	appType := oauth2.ClientInformationApplicationTypeWeb
	if native {
		appType = oauth2.ClientInformationApplicationTypeNative
	}
	c.info = oauth2.ClientInformation{
		ClientID: c.id, ClientIDIssuedAt: new(s.clock.Now().Unix()), ApplicationType: &appType,
		ClientName: md.ClientName, ClientURI: md.ClientURI, LogoURI: md.LogoURI, TosURI: md.TosURI, PolicyURI: md.PolicyURI,
		RedirectUris: &redirects, GrantTypes: &grants, ResponseTypes: &responses, TokenEndpointAuthMethod: new("none"),
		AdditionalProperties: md.AdditionalProperties,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clients) >= maxClients {
		return registrationError(oauth2.InvalidClientMetadata, fmt.Sprintf("this server holds %d clients, its most: reuse a client_id", maxClients))
	}
	s.clients[c.id] = c
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

// loopbackHosts are the host names a native client's http redirect URI
// may use (Matrix spec, RFC 8252 §7.3): exactly these spellings, so that
// 127.0.0.2, [::ffff:127.0.0.1] or 127.1 are refused.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// isLoopback reports whether u is an http URI on one of loopbackHosts.
func isLoopback(u *url.URL) bool {
	return u.Scheme == "http" && slices.Contains(loopbackHosts, u.Hostname())
}

// checkRedirectURI checks a redirect URI at registration as the Matrix spec
// and RFC 8252 ask. None has userinfo or a fragment. A web client's are
// https on its own site. A native client's are https on its own site, http
// on a loopback host without a port (any port is accepted at
// authorization), or a private-use scheme that is its site's host name
// reversed, without an authority component (org.example.app:/cb). It
// returns what is wrong, or "".
func checkRedirectURI(raw string, native bool, clientURI *url.URL) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return "not an absolute URI"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.User != nil:
		return "must not have userinfo (user@)"
	case !native:
		if u.Scheme != "https" || !sameSite(u.Hostname(), clientURI.Hostname()) {
			return "a web client's redirect URIs must be https on the host of client_uri"
		}
	case u.Scheme == "http":
		if !isLoopback(u) {
			return "a native client's http redirect URI must be on localhost, 127.0.0.1 or [::1]"
		}
		if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
			return "a loopback redirect URI is registered without a port: any port is accepted when authorizing"
		}
	case u.Scheme == "https":
		if !sameSite(u.Hostname(), clientURI.Hostname()) {
			return "a native client's https redirect URI must be on the host of client_uri"
		}
	default:
		site := reverseHost(clientURI.Hostname())
		if u.Scheme != site && !strings.HasPrefix(u.Scheme, site+".") {
			return "a private-use scheme must be the host of client_uri reversed, " + site
		}
		if strings.HasPrefix(raw[len(u.Scheme)+1:], "//") {
			return "a private-use scheme URI must not have an authority: write " + u.Scheme + ":/path"
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
func (s *Server) client(id string) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

// redirectAllowed reports whether uri is one of the client's redirect URIs:
// exactly, or for a native client's loopback redirect, with any port
// (RFC 8252 §7.3).
func (c *client) redirectAllowed(uri string) bool {
	if slices.Contains(c.redirectURIs, uri) {
		return true
	}
	if !c.native {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || !isLoopback(u) || u.User != nil || strings.Contains(uri, "#") {
		return false
	}
	for _, r := range c.redirectURIs {
		reg, err := url.Parse(r)
		if err == nil && isLoopback(reg) && reg.Hostname() == u.Hostname() && reg.Path == u.Path && reg.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}
