package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// runSpec is what wrk needs for one run: the path (and query) of the URL
// it loads, its own flags, and the arguments of lua/requests.lua (nil: the
// run needs only report.lua).
type runSpec struct {
	path                string
	wrkArgs, scriptArgs []string
}

// prepare makes what a run of endpoint with conns connections needs on s:
// for whoami and sync, an access token in a header (for sync, and the
// current since token in the query, from an initial sync); for send, an
// access token and a run ID that lua/requests.lua puts in the transaction
// IDs; for refresh and oauth-refresh, a file in dir with two fresh
// sessions a connection, which lua/requests.lua reads (it says why two).
func (s *server) prepare(ctx context.Context, endpoint string, conns int, dir string) (runSpec, error) {
	spec := runSpec{path: endpointPaths[endpoint]}
	switch endpoint {
	case "versions":
		return spec, nil
	case "whoami", "sync", "send":
		creds, err := session.PasswordLogin(ctx, s.sessionConfig(), benchUser, benchPassword, "WRK"+strings.ToUpper(endpoint))
		if err != nil {
			return spec, fmt.Errorf("login for %s: %w", endpoint, err)
		}
		switch endpoint {
		case "whoami":
			spec.wrkArgs = []string{"-H", "Authorization: Bearer " + creds.AccessToken}
		case "sync":
			since, err := s.syncToken(ctx, creds.AccessToken)
			if err != nil {
				return spec, err
			}
			spec.path += "?" + url.Values{"since": {since}, "timeout": {"0"}}.Encode()
			spec.wrkArgs = []string{"-H", "Authorization: Bearer " + creds.AccessToken}
		case "send":
			spec.path = sendPath(s.room)
			spec.scriptArgs = []string{"send", creds.AccessToken, spec.path, randomString()}
		}
		return spec, nil
	case "login":
		spec.scriptArgs = []string{"login", strconv.Itoa(conns), benchUser, benchPassword}
		return spec, nil
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
				return spec, fmt.Errorf("login for refresh: %w", err)
			}
			refresh = creds.RefreshToken
		} else {
			var err error
			if clientID, refresh, err = s.oauthSession(ctx, device); err != nil {
				return spec, fmt.Errorf("OAuth session: %w", err)
			}
		}
		if mode == "oauth" {
			lines[0] = clientID
		}
		lines = append(lines, refresh)
	}
	file := fmt.Sprintf("%s/%s-%s-%d.tokens", dir, strings.ReplaceAll(s.name, "+", "-"), mode, conns)
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return spec, err
	}
	spec.scriptArgs = []string{mode, file}
	return spec, nil
}

// sendPath is the path of a message send into room, without the
// transaction ID that ends it.
func sendPath(room string) string {
	return "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/"
}

// syncToken sends the initial /sync of the sync benchmark, at once
// (timeout=0), and returns its next_batch: a since token after which
// nothing is new.
func (s *server) syncToken(ctx context.Context, accessToken string) (string, error) {
	var out struct {
		NextBatch string `json:"next_batch"`
	}
	if err := s.call(ctx, http.MethodGet, endpointPaths["sync"]+"?timeout=0", accessToken, nil, &out); err != nil {
		return "", fmt.Errorf("initial sync: %w", err)
	}
	if out.NextBatch == "" {
		return "", errors.New("initial sync: no next_batch")
	}
	return out.NextBatch, nil
}

// createRoom has the bench user create a room on s, over HTTP as a client
// would, and returns its ID: the room of the send benchmark on the mock.
func (s *server) createRoom(ctx context.Context) (string, error) {
	creds, err := session.PasswordLogin(ctx, s.sessionConfig(), benchUser, benchPassword, "WRKROOM")
	if err != nil {
		return "", fmt.Errorf("login to create a room: %w", err)
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	if err := s.call(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", creds.AccessToken, map[string]string{"name": "bench/outside"}, &out); err != nil {
		return "", fmt.Errorf("createRoom: %w", err)
	}
	if out.RoomID == "" {
		return "", errors.New("createRoom: no room_id")
	}
	return out.RoomID, nil
}

// call sends a setup request with accessToken and a JSON body (nil: none)
// and decodes the 200 answer into out.
func (s *server) call(ctx context.Context, method, path, accessToken string, body, out any) error {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, raw)
	}
	return json.Unmarshal(raw, out)
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
