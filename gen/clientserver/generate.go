// Package clientserver is the Matrix client-server API that mxauth bundles
// (the authentication endpoints: login, refresh, logout, whoami, devices,
// registration, versions, well-known, capabilities, auth metadata),
// generated from specs/client-server.
//
// As a client, call the typed API; every answer other than a success is a
// *matrixerr.Error:
//
//	api, err := clientserver.NewAPI("https://matrix.example.org", clientserver.WithHTTPClient(httpClient))
//	login, err := api.Login(ctx, clientserver.LoginRequest{Type: "m.login.password", ...})
//	who, err := api.GetTokenOwner(ctx)
//	if errors.Is(err, matrixerr.ErrUnknownToken) { ... }
//
// Give it an http.Client that attaches the access token (mxauth's session
// does, as does Operations.BearerToken as a request editor). API.Raw is the
// lower layer, which returns the *http.Response.
//
// As a server, implement StrictServerInterface and serve it with
// NewStrictHandler and HandlerWithOptions (gorilla/mux), behind a
// guard.Guard that enforces each operation's authentication from
// Operations.
package clientserver

//go:generate go run github.com/mxauth/mxauth/cmd/generate -config mxauth.yaml
