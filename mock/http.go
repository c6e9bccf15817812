package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/operation"
)

// exchange is what the server learns about one request while answering it,
// for the handlers, the journal and the log.
type exchange struct {
	op        string
	principal state.Principal // the caller, when an access token authenticated it
	token     string          // that access token
	baseURL   string
	status    int
	errcode   string
}

type exchangeKey struct{}

// exchangeOf returns the request's exchange; every request that reaches a
// handler has one.
func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{}
	}
	return ex
}

// refreshV1 is where Synapse before 1.72 served /refresh, and where clients
// such as matrix-js-sdk fall back to; it is answered as /v3/refresh.
const (
	refreshV1 = "/_matrix/client/v1/refresh"
	refreshV3 = "/_matrix/client/v3/refresh"
)

// routes builds the handler chain: the outer middleware (recovery, CORS,
// body checks, journal), then the router with the generated routes behind
// the operation naming and the access-token guard.
func (s *Server) routes() http.Handler {
	router := mux.NewRouter()
	router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errUnrecognized) })
	router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errBadMethod) })
	guard := operation.Guard{
		Table:  clientserver.Operations,
		Verify: s.verify,
		Fail: func(w http.ResponseWriter, r *http.Request, _ *operation.Info, err error) {
			if errors.Is(err, operation.ErrMissingToken) {
				s.fail(w, r, errMissingToken)
				return
			}
			s.fail(w, r, toMatrixError(err))
		},
	}
	router.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if op := guard.Route(r); op != nil {
				exchangeOf(r.Context()).op = op.ID
			}
			next.ServeHTTP(w, r)
		})
	}, guard.Middleware)
	strict := clientserver.NewStrictHandlerWithOptions(handlers{s}, nil, clientserver.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  func(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, decodeError(err)) },
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, toMatrixError(err)) },
	})
	clientserver.HandlerWithOptions(strict, clientserver.GorillaServerOptions{
		BaseRouter:       router,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, paramError(err)) },
	})
	return s.outer(router)
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
func (s *Server) verify(r *http.Request, op *operation.Info, token string) (*http.Request, error) {
	p, err := s.store.Authenticate(token, clientIP(r))
	var te *state.TokenError
	if errors.As(err, &te) && te.Cause != state.CauseUnknown && (op.ID == "logout" || op.ID == "logout_all") {
		p, err = s.store.Owner(token)
	}
	if err != nil {
		return r, err
	}
	ex := exchangeOf(r.Context())
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
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *matrixError) {
	exchangeOf(r.Context()).errcode = e.Errcode
	writeJSON(w, e.status, e)
}

// outer wraps the router with what every request gets, matched or not.
func (s *Server) outer(router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		ex := &exchange{baseURL: s.baseURL(r)}
		rec := &statusRecorder{ResponseWriter: w}
		path := r.URL.Path
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.logger.Error("panic while answering a request", "method", r.Method, "path", path, "panic", p)
				if rec.status == 0 {
					s.fail(rec, r, errInternal)
				}
			}
			s.record(r, path, ex, rec.status, began)
		}()

		setCORS(w.Header())
		if r.Method == http.MethodOptions {
			writeJSON(rec, http.StatusOK, struct{}{})
			return
		}
		if path == refreshV1 {
			r.URL.Path, r.URL.RawPath = refreshV3, ""
		}
		if e := readBody(w, r); e != nil {
			s.fail(rec, r, e)
			return
		}
		router.ServeHTTP(rec, r)
	})
}

// setCORS allows browser clients on any origin, as the spec asks of every
// client-server endpoint.
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
}

// readBody reads a POST, PUT or DELETE body up to MaxBodyBytes and checks
// that it is a JSON object, so that handlers decode only well-formed JSON.
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
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0 && r.Method == http.MethodDelete:
		body = []byte("{}")
	case len(trimmed) == 0:
		// Left to the handler: an operation without a body (POST /logout)
		// accepts it, one with a body answers M_NOT_JSON.
	case !utf8.Valid(body) || !json.Valid(trimmed):
		return errNotJSON
	case trimmed[0] != '{':
		return errNotObject
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// record adds the answered request to the journal and the log.
func (s *Server) record(r *http.Request, path string, ex *exchange, status int, began time.Time) {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
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
