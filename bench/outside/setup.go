package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/mxauth/mxauth/session"
)

// oauthRedirectURI is where the bench's OAuth client asks to be sent back.
// Nothing listens there, and nothing needs to: the code is read from the
// redirect, which is never followed.
const oauthRedirectURI = "http://127.0.0.1/callback"

// sessionConfig is what package session needs to talk to s.
func (s *server) sessionConfig() session.Config {
	return session.Config{HomeserverURL: s.url, HTTPClient: setupClient}
}

// registerClient registers the bench's OAuth 2.0 client on the mock at
// url, as a native application would.
func registerClient(ctx context.Context, url string) (*session.OAuthClient, error) {
	cfg := session.Config{HomeserverURL: url, HTTPClient: setupClient}
	meta, err := session.DiscoverOAuth(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return session.RegisterOAuthClient(ctx, cfg, meta, session.ClientMetadata{
		ApplicationType: session.NativeApplication,
		ClientName:      "mxauth bench/outside",
		ClientURI:       "https://bench.example.org/",
		RedirectURIs:    []string{oauthRedirectURI},
	})
}

// prepare makes what a run of endpoint with conns connections needs on s,
// and returns the arguments that give it to wrk: for whoami, an access
// token in a header; for refresh and oauth-refresh, a file in dir with two
// fresh sessions a connection, which lua/requests.lua reads (it says why
// two).
func (s *server) prepare(ctx context.Context, endpoint string, conns int, dir string) (wrkArgs, scriptArgs []string, err error) {
	switch endpoint {
	case "versions":
		return nil, nil, nil
	case "whoami":
		creds, err := session.PasswordLogin(ctx, s.sessionConfig(), benchUser, benchPassword, "WRKWHOAMI")
		if err != nil {
			return nil, nil, fmt.Errorf("login for whoami: %w", err)
		}
		return []string{"-H", "Authorization: Bearer " + creds.AccessToken}, nil, nil
	case "login":
		return nil, []string{"login", strconv.Itoa(conns), benchUser, benchPassword}, nil
	}
	var lines []string
	mode := "refresh"
	if endpoint == "oauth-refresh" {
		mode = "oauth"
		lines = append(lines, "") // the client ID, below
	}
	for i := range 2 * conns {
		device := fmt.Sprintf("WRK%s%04d", strings.ToUpper(mode), i+1) // 10 characters at least, as MSC2967 asks
		var clientID, refresh string
		if mode == "refresh" {
			creds, err := session.PasswordLogin(ctx, s.sessionConfig(), benchUser, benchPassword, device)
			if err != nil {
				return nil, nil, fmt.Errorf("login for refresh: %w", err)
			}
			refresh = creds.RefreshToken
		} else if clientID, refresh, err = s.oauthSession(ctx, device); err != nil {
			return nil, nil, fmt.Errorf("OAuth session: %w", err)
		}
		if mode == "oauth" {
			lines[0] = clientID
		}
		lines = append(lines, refresh)
	}
	file := fmt.Sprintf("%s/%s-%s-%d.tokens", dir, strings.ReplaceAll(s.name, "+", "-"), mode, conns)
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, nil, err
	}
	return nil, []string{mode, file}, nil
}

// oauthSession gives the bench user an OAuth 2.0 session on device and
// returns its client ID and refresh token. On the mock it is the browser
// login of a native client, through package session, with the mock
// approving at once: the authorization URL answers with a redirect to the
// callback, which is not followed but handed to FinishLogin. The
// yardsticks give one at their setup endpoint.
func (s *server) oauthSession(ctx context.Context, device string) (clientID, refresh string, err error) {
	if s.oauthClient == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+sessionPath+"?device="+device, nil)
		if err != nil {
			return "", "", err
		}
		resp, err := setupClient.Do(req)
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		var out struct {
			ClientID     string `json:"client_id"`
			RefreshToken string `json:"refresh_token"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return "", "", fmt.Errorf("%s: %s", sessionPath, resp.Status)
		}
		return out.ClientID, out.RefreshToken, nil
	}
	auth, err := s.oauthClient.AuthorizationURL(session.AuthorizationRequest{RedirectURI: oauthRedirectURI, DeviceID: device})
	if err != nil {
		return "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, auth.URL, nil)
	if err != nil {
		return "", "", err
	}
	if err := checkLoopback(req.URL.Scheme + "://" + req.URL.Host); err != nil {
		return "", "", fmt.Errorf("authorization URL: %w", err)
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", "", fmt.Errorf("authorization: %s, want a redirect (is -oauth-auto-approve on?)", resp.Status)
	}
	creds, err := s.oauthClient.FinishLogin(ctx, *auth, resp.Header.Get("Location"))
	if err != nil {
		return "", "", err
	}
	return s.oauthClient.ClientID(), creds.RefreshToken, nil
}
