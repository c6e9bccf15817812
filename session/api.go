package session

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
)

// The session makes its own calls (login, refresh, logout, whoami, the
// OAuth 2.0 endpoints) through the generated typed APIs, on its plain
// client: no token is attached by the session's RoundTrip, and rate limits
// are waited out. Two request editors adapt a call to the session's needs:
// the access token of a call that takes one comes from the call's context
// (withToken), and an OAuth 2.0 call goes to the endpoint URL that the
// server metadata names (sendTo), wherever that is.

// tokenKey is the context key of the access token a call is sent with.
type tokenKey struct{}

// withToken returns ctx carrying the access token that a call through
// homeserverAPI is sent with, when its operation takes one.
func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// contextToken returns the token that withToken put in ctx; "" for none.
func contextToken(ctx context.Context) (string, error) {
	token, _ := ctx.Value(tokenKey{}).(string)
	return token, nil
}

// homeserverAPI returns the typed client-server API of the homeserver at
// base, sending through client, with the token of withToken on the
// operations that take one.
func homeserverAPI(base string, client *http.Client, editors ...clientserver.RequestEditorFn) (*clientserver.API, error) {
	opts := []clientserver.ClientOption{
		clientserver.WithHTTPClient(client),
		clientserver.WithRequestEditorFn(clientserver.Operations.BearerToken(contextToken)),
	}
	for _, e := range editors {
		opts = append(opts, clientserver.WithRequestEditorFn(e))
	}
	api, err := clientserver.NewAPI(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return api, nil
}

// endpointAPI returns the typed OAuth 2.0 API with every request sent to
// endpoint, an absolute URL from the server metadata: the metadata, not
// the generated paths, says where a server's token, registration and
// revocation endpoints are.
func endpointAPI(endpoint string, client *http.Client) (*oauth2.API, error) {
	to, err := sendTo(endpoint)
	if err != nil {
		return nil, err
	}
	api, err := oauth2.NewAPI(endpoint, oauth2.WithHTTPClient(client), oauth2.WithRequestEditorFn(to))
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return api, nil
}

// sendTo returns a request editor that sends the request to endpoint
// instead of the URL the generated client built: the endpoint's scheme,
// host and path, its query followed by the request's own.
func sendTo(endpoint string) (func(context.Context, *http.Request) error, error) {
	u, err := url.Parse(endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("session: endpoint %q is not an absolute URL", endpoint)
	}
	return func(_ context.Context, req *http.Request) error {
		to := *u
		switch {
		case to.RawQuery == "":
			to.RawQuery = req.URL.RawQuery
		case req.URL.RawQuery != "":
			to.RawQuery += "&" + req.URL.RawQuery
		}
		req.URL, req.Host = &to, to.Host
		return nil
	}, nil
}
