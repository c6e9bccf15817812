package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
)

// Token type hints for Revoke (RFC 7009 §2.1).
const (
	// TokenTypeAccess says the token is an access token.
	TokenTypeAccess = string(oauth2.RevokeOAuthTokenRequestTokenTypeHintAccessToken)
	// TokenTypeRefresh says the token is a refresh token.
	TokenTypeRefresh = string(oauth2.RevokeOAuthTokenRequestTokenTypeHintRefreshToken)
)

// refresh exchanges creds' refresh token at the token endpoint (RFC 6749
// §6) for new tokens, the access token's lifetime counted from now(). The
// server may rotate the refresh token; when it sends none, the old one
// stays.
func (c *OAuthClient) refresh(ctx context.Context, creds Credentials, now func() time.Time) (Credentials, error) {
	t, err := c.grant(ctx, "refresh", oauth2.RequestOAuthTokenRequest{
		GrantType:    oauth2.RequestOAuthTokenRequestGrantTypeRefreshToken,
		RefreshToken: &creds.RefreshToken,
	})
	if err != nil {
		return creds, err
	}
	next := creds
	next.AccessToken = t.AccessToken
	if t.RefreshToken != nil && *t.RefreshToken != "" {
		next.RefreshToken = *t.RefreshToken
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
	if c.revocation == nil {
		return fmt.Errorf("%w: revocation_endpoint is missing: the server cannot revoke tokens", ErrInvalidServerMetadata)
	}
	body := oauth2.RevokeOAuthTokenRequest{Token: token, ClientID: &c.clientID}
	if hint != "" {
		body.TokenTypeHint = ptr(oauth2.RevokeOAuthTokenRequestTokenTypeHint(hint))
	}
	if err := c.revocation.RevokeOAuthToken(ctx, body); err != nil {
		return callError("revocation", err)
	}
	return nil
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
