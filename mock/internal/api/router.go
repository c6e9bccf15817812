package api

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/operation"
	"github.com/mxauth/mxauth/operation/guard"
)

// sharedRouter is the router behind every server: building one compiles a
// regular expression per route, which is most of what New would cost, so
// it is built once. Its layers find the request's Exchange in the
// ResponseWriter they are handed, and the handlers in their context.
var sharedRouter = sync.OnceValue(newRouter)

// newRouter builds the router: the generated client-server and OAuth 2.0
// routes, each behind route → operation → guard → rules (routeChain), and
// the authorization server's HTML pages.
func newRouter() http.Handler {
	router := mux.NewRouter()
	router.NotFoundHandler = outsideAPI(errUnrecognized)
	router.MethodNotAllowedHandler = outsideAPI(errBadMethod)
	g := guard.Guard{
		Table:  clientserver.Operations,
		Verify: verify,
		Fail: func(w http.ResponseWriter, _ *http.Request, _ *operation.Info, err error) {
			if errors.Is(err, guard.ErrMissingToken) {
				fail(w, ErrMissingToken)
				return
			}
			fail(w, toMatrixError(err))
		},
	}
	strict := clientserver.NewStrictHandlerWithOptions(Handlers{}, nil, clientserver.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, _ *http.Request, err error) { fail(w, decodeError(err)) },
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) { fail(w, toMatrixError(err)) },
	})
	addEmptyStateKeyRoutes(router, strict)
	clientserver.HandlerWithOptions(strict, clientserver.GorillaServerOptions{
		BaseRouter:       router,
		ErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) { fail(w, paramError(err)) },
	})
	oauthStrict := oauth2.NewStrictHandlerWithOptions(Handlers{}, nil, oauth2.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) {
			oauthRequestError(w, http.StatusBadRequest, err.Error())
		},
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) { fail(w, toMatrixError(err)) },
	})
	oauth2.HandlerWithOptions(oauthStrict, oauth2.GorillaServerOptions{
		BaseRouter: router,
		// The authorization endpoint's parameters are checked by the
		// authorization server, which knows when an error may go back to
		// the client.
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, _ error) {
			x := writerExchange(w)
			x.World.OAuth.ServeAuthorizeQuery(w, r, x.BaseURL())
		},
	})
	router.HandleFunc(oauth.AuthorizePath, func(w http.ResponseWriter, r *http.Request) {
		x := writerExchange(w)
		x.World.OAuth.ServeAuthorizeForm(w, r, x.BaseURL())
	}).Methods(http.MethodPost)
	router.HandleFunc(oauth.VerifyPath, servePage((*oauth.Server).ServeVerify)).Methods(http.MethodGet, http.MethodPost)
	router.HandleFunc(oauth.AccountPath, servePage((*oauth.Server).ServeAccount)).Methods(http.MethodGet, http.MethodPost)
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		route.Handler(routeChain(route, g))
		return nil
	})
	return indexExactRoutes(router)
}

// exactRoutes serves the requests whose path is one of the routes' without
// variables (/sync, /account/whoami, /login, …) from a map, and leaves the
// rest to gorilla/mux, which tries its routes one after another: routing
// the common requests does not slow down as the API grows.
type exactRoutes struct {
	byPath map[string]map[string]http.Handler // path → method → the route's handler
	mux    *mux.Router
}

// indexExactRoutes puts an exactRoutes in front of router. A path is
// indexed for a method only where router itself would pick that route for
// it, so the answer is the same either way.
func indexExactRoutes(router *mux.Router) http.Handler {
	e := &exactRoutes{byPath: map[string]map[string]http.Handler{}, mux: router}
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		methods, merr := route.GetMethods()
		if err != nil || merr != nil || strings.Contains(tpl, "{") {
			return nil
		}
		for _, m := range methods {
			var match mux.RouteMatch
			if !router.Match(&http.Request{Method: m, URL: &url.URL{Path: tpl}}, &match) || match.Route != route {
				continue
			}
			if e.byPath[tpl] == nil {
				e.byPath[tpl] = map[string]http.Handler{}
			}
			e.byPath[tpl][m] = route.GetHandler()
		}
		return nil
	})
	return e
}

// ServeHTTP routes r.
func (e *exactRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := e.byPath[r.URL.Path][r.Method]; h != nil {
		h.ServeHTTP(w, r)
		return
	}
	e.mux.ServeHTTP(w, r)
}

// routeChain puts what every matched request goes through in front of a
// route's handler: naming the operation in the exchange, the access-token
// guard, then the scenario rules. The chain is built once per route and
// method, with the operation looked up once; router.Use would build it
// again for each request, and the guard's Middleware would look the
// operation up again.
func routeChain(route *mux.Route, g guard.Guard) http.Handler {
	next := route.GetHandler()
	rules := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := w.(*Exchange)
		switch answered, loss := applyRules(x, r, false); {
		case answered:
		case loss != "":
			loseAnswer(x, r, next, loss)
		default:
			next.ServeHTTP(w, r)
		}
	})
	tpl, err := route.GetPathTemplate()
	methods, merr := route.GetMethods()
	if err != nil || merr != nil { // a route for any method serves no operation
		return rules
	}
	type chain struct {
		op      string
		guarded http.Handler
	}
	chains := make(map[string]chain, len(methods)) // by method
	for _, m := range methods {
		info := operationInfo(m, tpl)
		c := chain{guarded: g.Operation(info, rules)}
		if info != nil {
			c.op = info.ID
		}
		chains[m] = c
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := chains[r.Method]
		x := w.(*Exchange)
		x.Operation = c.op
		c.guarded.ServeHTTP(w, withExchange(r, x))
	})
}

// outsideAPI answers a request that no route serves: a scenario's respond
// rules may answer it (a test fakes what the mock lacks), else e does.
func outsideAPI(e *Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answered, _ := applyRules(w.(*Exchange), r, true); !answered {
			fail(w, unrecognized(w, e))
		}
	})
}

// operationInfo returns the operation served at method and path template,
// from the client-server or the OAuth 2.0 table; nil when none.
func operationInfo(method, tpl string) *operation.Info {
	if generated, ok := emptyStateKeyTemplates[tpl]; ok {
		tpl = generated
	}
	for _, t := range []*operation.Table{clientserver.Operations, oauth2.Operations} {
		if op, ok := t.ByRoute(method, tpl); ok {
			return op
		}
	}
	return nil
}

// Operations returns every operation the mock routes, the client-server
// API's and the OAuth 2.0 API's: those a scenario rule may name.
var Operations = sync.OnceValue(func() *operation.Table {
	var infos []operation.Info
	for _, t := range []*operation.Table{clientserver.Operations, oauth2.Operations} {
		for _, op := range t.All() {
			infos = append(infos, *op)
		}
	}
	return operation.NewTable(infos...)
})

// verify authenticates an access token for op and records the caller in
// the request's exchange. Like Synapse, logout also accepts an expired
// token, and a soft-logged-out device's. The guard hands it the request
// only, so it takes the exchange from the context.
func verify(r *http.Request, op *operation.Info, token string) (*http.Request, error) {
	x := From(r.Context())
	p, err := x.Store().Authenticate(token, clientIP(r))
	if err != nil {
		if owner, oerr := x.Store().Owner(token); oerr == nil {
			x.Carried = owner // for the journal: whose token was refused
		}
		var te *state.TokenError
		if !errors.As(err, &te) || te.Cause == state.CauseUnknown || (op.ID != "logout" && op.ID != "logout_all") {
			return r, err
		}
		if p, err = x.Store().Owner(token); err != nil {
			return r, err
		}
	}
	x.Principal, x.Token = p, token
	return r, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// unrecognized answers a request for no endpoint: as the spec says (404 or
// 405), or as Synapse does (400) when the scenario asks for it.
func unrecognized(w http.ResponseWriter, e *Error) *Error {
	if writerExchange(w).World.SynapseUnknown {
		return Errorf(http.StatusBadRequest, e.Errcode, "Unrecognized request")
	}
	return e
}

// paramError answers a request whose path or query parameters could not be
// read.
func paramError(err error) *Error {
	var required *clientserver.RequiredParamError
	if errors.As(err, &required) {
		return MissingParam(required.ParamName)
	}
	return Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
}
