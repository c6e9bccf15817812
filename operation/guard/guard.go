// Package guard enforces, in front of a generated gorilla/mux server, what
// each operation's [operation.Info] says about authentication. It is the
// server half of the operation runtime, kept apart so that a client-only
// generated package does not link the router.
package guard

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/operation"
)

// ErrMissingToken is passed to [Guard.Fail] when an operation that requires
// authentication is called without an access token.
var ErrMissingToken = errors.New("guard: missing access token")

// Guard enforces each operation's [operation.Auth] in front of a generated gorilla/mux
// server: operations with AuthNone pass untouched; AuthRequired ones need a
// token that Verify accepts; AuthOptional ones are checked only when a token
// is sent.
//
// Install it with the generated HandlerWithOptions, as one of
// GorillaServerOptions.Middlewares, or with mux.Router.Use: it needs the
// matched route.
type Guard struct {
	// Table describes the operations behind the router.
	Table *operation.Table
	// Verify checks a token for an operation. It returns the request to hand
	// on, typically with the caller stored in its context, or an error.
	Verify func(r *http.Request, op *operation.Info, token string) (*http.Request, error)
	// Fail answers a request that is refused: err is ErrMissingToken or
	// what Verify returned.
	Fail func(w http.ResponseWriter, r *http.Request, op *operation.Info, err error)
}

// Middleware returns next behind the guard, which looks each request's
// operation up by its matched route.
func (g Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(g.Route(r), next, w, r)
	})
}

// Operation returns next behind the guard for one operation known in
// advance (nil: nothing to enforce), for a router that knows each route's
// operation when it is built and need not look it up per request.
func (g Guard) Operation(op *operation.Info, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(op, next, w, r)
	})
}

// serve enforces op's Auth on r, then hands it to next.
func (g Guard) serve(op *operation.Info, next http.Handler, w http.ResponseWriter, r *http.Request) {
	if op == nil || op.Auth == operation.AuthNone {
		next.ServeHTTP(w, r)
		return
	}
	token, ok := operation.AccessToken(r, op.QueryToken)
	if !ok {
		if op.Auth == operation.AuthRequired {
			g.Fail(w, r, op, ErrMissingToken)
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	r, err := g.Verify(r, op, token)
	if err != nil {
		g.Fail(w, r, op, err)
		return
	}
	next.ServeHTTP(w, r)
}

// Route returns the operation of the route gorilla/mux matched for r, or nil
// outside a matched route.
func (g Guard) Route(r *http.Request) *operation.Info {
	route := mux.CurrentRoute(r)
	if route == nil {
		return nil
	}
	tpl, err := route.GetPathTemplate()
	if err != nil {
		return nil
	}
	op, _ := g.Table.ByRoute(r.Method, tpl)
	return op
}
