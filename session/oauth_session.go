package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Token type hints for Revoke (RFC 7009 §2.1).
const (
	// TokenTypeAccess says the token is an access token.
	TokenTypeAccess = "access_token"
	// TokenTypeRefresh says the token is a refresh token.
	TokenTypeRefresh = "refresh_token"
)

// refresh exchanges creds' refresh token at the token endpoint (RFC 6749
// §6) for new tokens, the access token's lifetime counted from now(). The
// server may rotate the refresh token; when it sends none, the old one
// stays.
func (c *OAuthClient) refresh(ctx context.Context, creds Credentials, now func() time.Time) (Credentials, error) {
	t, err := c.token(ctx, "refresh", url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {creds.RefreshToken},
		"client_id":     {c.clientID},
	})
	if err != nil {
		return creds, err
	}
	next := creds
	next.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		next.RefreshToken = t.RefreshToken
	}
	next.ExpiresAt = expiryIn(now(), t.ExpiresIn)
	return next, nil
}

// oauthRefreshRefused reports whether err, from a refresh at the token
// endpoint, says that no refresh with this token and client will ever
// work: the refresh token is dead (invalid_grant) or the client is gone.
func oauthRefreshRefused(err error) bool {
	return errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrInvalidClient) || errors.Is(err, ErrUnauthorizedClient)
}

// Revoke revokes token at the revocation endpoint (RFC 7009); hint is
// TokenTypeAccess, TokenTypeRefresh or empty. On a Matrix server, revoking
// either token of a session ends the session and its device. A token that
// was not valid anyway is no error. A Session given c as Config.OAuth does
// this itself in Logout.
func (c *OAuthClient) Revoke(ctx context.Context, token, hint string) error {
	if c.meta.RevocationEndpoint == "" {
		return fmt.Errorf("%w: revocation_endpoint is missing: the server cannot revoke tokens", ErrInvalidServerMetadata)
	}
	form := url.Values{"token": {token}, "client_id": {c.clientID}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.meta.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("session: revocation: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return sendOAuth(c.http, req, "revocation", nil)
}

// revokeCredentials revokes the session of creds: through its refresh
// token, which also ends the access tokens issued with it (RFC 7009 §2.1),
// or its access token when it has none.
func (c *OAuthClient) revokeCredentials(ctx context.Context, creds Credentials) error {
	if creds.RefreshToken != "" {
		return c.Revoke(ctx, creds.RefreshToken, TokenTypeRefresh)
	}
	return c.Revoke(ctx, creds.AccessToken, TokenTypeAccess)
}
