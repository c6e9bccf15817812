package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/operation"
)

// exchange is what the server learns about one request while answering it,
// for the handlers, the journal and the log.
type exchange struct {
	server    *Server
	world     *world
	req       *http.Request // as received, for baseURL
	path      string        // as sent, before any rewriting
	op        string
	principal state.Principal // the caller, when an access token authenticated it
	token     string          // that access token
	errcode   string
	dropped   bool // a scenario dropped the connection

	// rec is the answer's writer, part of the exchange so that the two
	// take one allocation.
	rec statusRecorder
}

// baseURL is the URL clients are told to use in well_known answers and the
// OAuth 2.0 metadata. It is built when an answer asks for it rather than
// for every request: most answers do not, and building it allocates.
func (ex *exchange) baseURL() string { return ex.server.baseURL(ex.req) }

type exchangeKey struct{}

// exchangeOf returns the request's exchange, which the outer middleware
// puts in every request's context.
func exchangeOf(ctx context.Context) *exchange {
	return ctx.Value(exchangeKey{}).(*exchange)
}

// storeOf returns the state the request works on.
func storeOf(ctx context.Context) *state.Store { return exchangeOf(ctx).world.store }

// Paths answered as others: refreshV1 is where Synapse before 1.72 served
// /refresh, and where clients such as matrix-js-sdk fall back to, answered
// as /v3/refresh; authMetadataUnstable is MSC2965's path of auth_metadata.
const (
	refreshV1            = "/_matrix/client/v1/refresh"
	refreshV3            = "/_matrix/client/v3/refresh"
	authMetadataUnstable = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"
	authMetadataStable   = "/_matrix/client/v1/auth_metadata"
)

// sharedRouter is the router behind every Server: building one compiles
// a regular expression per route, which is most of what New would cost,
// so it is built once. Its handlers find their server and world in the
// request's exchange.
var sharedRouter = sync.OnceValue(newRouter)

// newRouter builds the router: the generated client-server and OAuth 2.0
// routes behind the operation naming, the access-token guard and the
// scenario rules, plus the HTML pages.
func newRouter() http.Handler {
	router := mux.NewRouter()
	router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, r, unrecognized(r, errUnrecognized)) })
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, r, unrecognized(r, errBadMethod)) })
	guard := operation.Guard{
		Table:  clientserver.Operations,
		Verify: verify,
		Fail: func(w http.ResponseWriter, r *http.Request, _ *operation.Info, err error) {
			if errors.Is(err, operation.ErrMissingToken) {
				fail(w, r, errMissingToken)
				return
			}
			fail(w, r, toMatrixError(err))
		},
	}
	strict := clientserver.NewStrictHandlerWithOptions(handlers{}, nil, clientserver.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, r *http.Request, err error) { fail(w, r, decodeError(err)) },
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) { fail(w, r, toMatrixError(err)) },
	})
	clientserver.HandlerWithOptions(strict, clientserver.GorillaServerOptions{
		BaseRouter:       router,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) { fail(w, r, paramError(err)) },
	})
	oauthStrict := oauth2.NewStrictHandlerWithOptions(oauthHandlers{}, nil, oauth2.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, _ *http.Request, err error) { oauthRequestError(w, err) },
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) { fail(w, r, toMatrixError(err)) },
	})
	oauth2.HandlerWithOptions(oauthStrict, oauth2.GorillaServerOptions{
		BaseRouter: router,
		// The authorization endpoint's parameters are checked by authorize,
		// which knows when an error may go back to the client.
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, _ error) {
			oauthOf(r.Context()).ServeAuthorizeQuery(w, r)
		},
	})
	router.HandleFunc(oauth.AuthorizePath, servePage((*oauth.Server).ServeAuthorizeForm)).Methods(http.MethodPost)
	router.HandleFunc(oauth.VerifyPath, servePage((*oauth.Server).ServeVerify)).Methods(http.MethodGet, http.MethodPost)
	router.HandleFunc(oauth.AccountPath, servePage((*oauth.Server).ServeAccount)).Methods(http.MethodGet, http.MethodPost)
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		route.Handler(routeChain(route, guard))
		return nil
	})
	return router
}

// routeChain puts what every matched request goes through in front of a
// route's handler: naming the operation in the exchange, the access-token
// guard, then the scenario rules. The chain is built once per route and
// method, with the operation looked up once; router.Use would build it
// again for each request, and the guard's Middleware would look the
// operation up again.
func routeChain(route *mux.Route, guard operation.Guard) http.Handler {
	next := route.GetHandler()
	rules := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(r.Context())
		if !ex.server.applyRules(w, r, ex) {
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
		c := chain{guarded: guard.Operation(info, rules)}
		if info != nil {
			c.op = info.ID
		}
		chains[m] = c
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := chains[r.Method]
		exchangeOf(r.Context()).op = c.op
		c.guarded.ServeHTTP(w, r)
	})
}

// operationInfo returns the operation served at method and path template,
// from the client-server or the OAuth 2.0 table; nil when none.
func operationInfo(method, tpl string) *operation.Info {
	for _, t := range []*operation.Table{clientserver.Operations, oauth2.Operations} {
		if op, ok := t.ByRoute(method, tpl); ok {
			return op
		}
	}
	return nil
}

// unrecognized answers a request for no endpoint: as the spec says (404 or
// 405), or as Synapse does (400) when the scenario asks for it.
func unrecognized(r *http.Request, e *matrixError) *matrixError {
	if exchangeOf(r.Context()).world.synapseUnknown {
		return errorf(http.StatusBadRequest, e.Errcode, "Unrecognized request")
	}
	return e
}

// paramError answers a request whose path or query parameters could not be
// read.
func paramError(err error) *matrixError {
	var required *clientserver.RequiredParamError
	if errors.As(err, &required) {
		return missingParam(required.ParamName)
	}
	return errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
}

// verify authenticates an access token for op and records the caller in
// the request's exchange. Like Synapse, logout also accepts an expired
// token, and a soft-logged-out device's.
func verify(r *http.Request, op *operation.Info, token string) (*http.Request, error) {
	ex := exchangeOf(r.Context())
	p, err := ex.world.store.Authenticate(token, clientIP(r))
	if err != nil {
		var te *state.TokenError
		if !errors.As(err, &te) || te.Cause == state.CauseUnknown || (op.ID != "logout" && op.ID != "logout_all") {
			return r, err
		}
		if p, err = ex.world.store.Owner(token); err != nil {
			return r, err
		}
	}
	ex.principal, ex.token = p, token
	return r, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fail sends a Matrix error answer and notes its errcode for the journal.
func fail(w http.ResponseWriter, r *http.Request, e *matrixError) {
	exchangeOf(r.Context()).errcode = e.Errcode
	writeJSON(w, e.status, e)
}

// outer wraps the router with what every request gets, matched or not.
func (s *Server) outer(router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.control != nil && strings.HasPrefix(r.URL.Path, ControlPrefix) {
			s.control.ServeHTTP(w, r)
			return
		}
		began := time.Now()
		ex := &exchange{server: s, world: s.world.Load(), req: r, path: r.URL.Path, rec: statusRecorder{ResponseWriter: w}}
		rec := &ex.rec
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
		defer func() {
			p := recover()
			if p != nil && !ex.dropped {
				s.cfg.logger.Error("panic while answering a request", "method", r.Method, "path", ex.path, "panic", p)
				if rec.status == 0 {
					fail(rec, r, errInternal)
				}
			}
			s.record(r, ex, rec.status, began)
			if ex.dropped {
				panic(http.ErrAbortHandler) // net/http closes the connection
			}
		}()
		s.applyDue(ex.world)

		setCORS(w.Header())
		if r.Method == http.MethodOptions {
			writeJSON(rec, http.StatusOK, struct{}{})
			return
		}
		switch {
		case ex.path == refreshV1:
			r.URL.Path, r.URL.RawPath = refreshV3, ""
		case ex.path == authMetadataUnstable:
			r.URL.Path, r.URL.RawPath = authMetadataStable, ""
		case ex.world.oauth == nil && (strings.HasPrefix(ex.path, "/oauth2/") || strings.HasPrefix(ex.path, oauth.AccountPath)):
			fail(rec, r, unrecognized(r, errUnrecognized))
			return
		case strings.HasPrefix(ex.path, "/oauth2/"):
			w.Header().Set("Cache-Control", "no-store") // RFC 6749 §5.1
		}
		if e := readBody(w, r); e != nil {
			if strings.HasPrefix(ex.path, "/oauth2/") {
				ex.errcode = "invalid_request"
				writeJSON(rec, e.status, oauth.ErrorBody("invalid_request", e.Message)) // RFC 6749 §5.2, RFC 7591 §3.2.2
				return
			}
			fail(rec, r, e)
			return
		}
		router.ServeHTTP(rec, r)
	})
}

// corsHeaders allow browser clients on any origin, as the spec asks of
// every client-server endpoint. They are set by their canonical keys,
// without the allocations of Header.Set.
var corsHeaders = map[string][]string{
	"Access-Control-Allow-Origin":  {"*"},
	"Access-Control-Allow-Methods": {"GET, POST, PUT, DELETE, OPTIONS"},
	"Access-Control-Allow-Headers": {"X-Requested-With, Content-Type, Authorization"},
}

func setCORS(h http.Header) {
	for k, v := range corsHeaders {
		h[k] = v
	}
}

// readBody reads a POST, PUT or DELETE body up to MaxBodyBytes and checks
// that it is a JSON object, so that handlers decode only well-formed JSON;
// form-encoded bodies are only limited in size.
// An empty DELETE body counts as {}: DELETE /devices/{deviceId} is often
// sent without one. Other requests pass untouched.
func readBody(w http.ResponseWriter, r *http.Request) *matrixError {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errTooLarge
		}
		return errNotJSON
	}
	if formEndpoint(r.URL.Path) {
		if !isForm(r.Header.Get("Content-Type")) {
			return errorf(http.StatusBadRequest, "M_INVALID_PARAM", "The body must be "+formType)
		}
		r.Body = newBodyCopy(body)
		return nil
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0 && r.Method == http.MethodDelete:
		body = []byte("{}")
	case len(trimmed) == 0:
		// Left to the handler: an operation without a body (POST /logout)
		// accepts it, one with a body answers M_NOT_JSON.
		r.Body = newBodyCopy(body)
		return nil
	case !utf8.Valid(body):
		return errNotJSON
	}
	value, e := decodeObject(body)
	if e != nil {
		return e
	}
	r.Body = &decodedBody{bodyCopy: newBodyCopy(body), value: value}
	return nil
}

// formEndpoint reports whether path takes a form rather than JSON: the
// OAuth 2.0 endpoints but registration, and the HTML pages.
func formEndpoint(path string) bool {
	return strings.HasPrefix(path, "/oauth2/") && path != oauth.RegistrationPath || strings.HasPrefix(path, oauth.AccountPath)
}

// decodeObject decodes a body that must be exactly one JSON object.
func decodeObject(body []byte) (map[string]any, *matrixError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, errNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotJSON // something after the value
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	return obj, nil
}

// decodedBody is a JSON body decoded once by readBody. The generated
// handlers bind its value (runtime.BindJSONBody looks for ValidatedValue)
// instead of decoding the bytes again, which also makes member names match
// exactly: encoding/json would read "User" as "user".
type decodedBody struct {
	*bodyCopy
	value map[string]any
}

// ValidatedValue returns the decoded body.
func (b *decodedBody) ValidatedValue() any { return b.value }

// isForm reports whether a Content-Type is a form's. The two values
// clients send are recognized without mime.ParseMediaType, which allocates;
// any other goes through it.
func isForm(contentType string) bool {
	switch contentType {
	case "application/json":
		return false
	case formType:
		return true
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == formType
}

// formType is the media type of HTML and OAuth 2.0 forms.
const formType = "application/x-www-form-urlencoded"

// bodyCopy is a request body that was read already, handed on to the
// handlers: io.NopCloser(bytes.NewReader(b)) in one allocation rather than
// two.
type bodyCopy struct{ bytes.Reader }

func newBodyCopy(b []byte) *bodyCopy {
	c := new(bodyCopy)
	c.Reset(b)
	return c
}

// Close does nothing: the body is in memory.
func (*bodyCopy) Close() error { return nil }

// record adds the answered request to the journal and the log.
func (s *Server) record(r *http.Request, ex *exchange, status int, began time.Time) {
	switch {
	case ex.dropped:
		status = 0
	case status == 0:
		status = http.StatusOK // nothing written: net/http sends 200
	}
	path := ex.path
	s.Journal.Add(journal.Entry{
		Time: s.Clock.Now(), Method: r.Method, Path: path, Operation: ex.op,
		UserID: ex.principal.UserID, DeviceID: ex.principal.DeviceID,
		Status: status, Errcode: ex.errcode,
	})
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelWarn
	}
	if s.cfg.logger.Enabled(r.Context(), level) {
		s.cfg.logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", path), slog.String("operation", ex.op),
			slog.Int("status", status), slog.String("errcode", ex.errcode),
			slog.String("user", ex.principal.UserID), slog.String("device", ex.principal.DeviceID),
			slog.Duration("took", time.Since(began)))
	}
}

// baseURL is the URL clients are told to use in well_known answers.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.publicURL != "" {
		return s.cfg.publicURL
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// statusRecorder remembers the status of the answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
