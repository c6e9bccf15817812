package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The OAuth 2.0 endpoints the load test uses, and the form encoding the
// token endpoint takes.
const (
	oauthRegistrationPath = "/oauth2/registration"
	oauthAuthorizePath    = "/oauth2/authorize"
	oauthTokenPath        = "/oauth2/token"
	formContentType       = "application/x-www-form-urlencoded"
)

// oauthRedirectURI is where the load test's clients ask to be sent back: a
// native client's loopback URI. Nothing listens there, and nothing needs
// to: the code is read from the redirect, which is never followed.
const oauthRedirectURI = "http://127.0.0.1/callback"

// mockOAuthSession gives the measured user an OAuth 2.0 session on the
// worker's device through the mock's own endpoints, over the worker's
// connection, as a client would: it registers a client (RFC 7591), sends
// an authorization request with PKCE, which the mock approves at once and
// answers with a redirect carrying a code, and exchanges the code at the
// token endpoint. It returns the client's ID and the refresh token.
func (w *worker) mockOAuthSession() (clientID, refresh string, err error) {
	// The worker's transport, but redirects are read rather than followed.
	client := &http.Client{
		Transport:     w.transport,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := w.t.url

	metadata, err := json.Marshal(map[string]any{
		"client_name":                "mxauth loadtest",
		"client_uri":                 "https://loadtest.example.org/",
		"application_type":           "native",
		"redirect_uris":              []string{oauthRedirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	if err != nil {
		return "", "", err
	}
	resp, body, err := send(client, http.MethodPost, base+oauthRegistrationPath, "application/json", metadata)
	if err != nil {
		return "", "", err
	}
	var registered struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &registered) != nil || registered.ClientID == "" {
		return "", "", fmt.Errorf("client registration: %s: %.200s", resp.Status, body)
	}

	var raw [32]byte
	_, _ = rand.Read(raw[:])
	verifier := base64.RawURLEncoding.EncodeToString(raw[:]) // 43 characters, as RFC 7636 asks at least
	challenge := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {registered.ClientID},
		"redirect_uri":          {oauthRedirectURI},
		"scope":                 {"urn:matrix:client:api:* urn:matrix:client:device:" + w.device},
		"state":                 {"loadtest"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	resp, body, err = send(client, http.MethodGet, base+oauthAuthorizePath+"?"+q.Encode(), "", nil)
	if err != nil {
		return "", "", err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), oauthRedirectURI) || loc.Query().Get("code") == "" {
		return "", "", fmt.Errorf("authorization: %s, Location %q: %.200s", resp.Status, resp.Header.Get("Location"), body)
	}

	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {loc.Query().Get("code")},
		"redirect_uri":  {oauthRedirectURI},
		"client_id":     {registered.ClientID},
		"code_verifier": {verifier},
	}
	resp, body, err = send(client, http.MethodPost, base+oauthTokenPath, formContentType, []byte(form.Encode()))
	if err != nil {
		return "", "", err
	}
	var tokens struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tokens) != nil || tokens.RefreshToken == "" {
		return "", "", fmt.Errorf("code exchange: %s: %.200s", resp.Status, body)
	}
	return registered.ClientID, tokens.RefreshToken, nil
}

// send sends a request of the setup and returns the answer with its body
// read. contentType is set when not empty.
func send(client *http.Client, method, target, contentType string, body []byte) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
	}
	return resp, answer, nil
}
