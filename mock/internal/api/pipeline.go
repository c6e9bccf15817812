package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/journal"
)

// ControlPrefix is where the control API lives when it is on: at the root
// for the default world, and below each world's prefix for that world.
const ControlPrefix = "/_mock/"

// WorldsPrefix is where the worlds other than a server's default one
// live: the world with ID "SERVER-LOCAL" below WorldsPrefix + "SERVER/LOCAL",
// so that a load balancer routes a server's worlds by the path element of
// the server's ID (WorldPath).
const WorldsPrefix = "/_worlds/"

// WorldPath returns the path prefix of the world with the given ID.
func WorldPath(id string) string { return WorldsPrefix + strings.Replace(id, "-", "/", 1) }

// SplitWorldPath returns the ID of the world a path below WorldsPrefix is
// for, and the path within the world; ok is false for other paths.
func SplitWorldPath(path string) (id, within string, ok bool) {
	rest, ok := strings.CutPrefix(path, WorldsPrefix)
	if !ok {
		return "", "", false
	}
	server, rest, _ := strings.Cut(rest, "/")
	local, within, _ := strings.Cut(rest, "/")
	return server + "-" + local, "/" + within, true
}

// MaxBodyBytes is the largest request body the server reads; a larger one
// is answered 413 M_TOO_LARGE. Media uploads have the media store's cap
// instead (rawBodyEndpoint).
const MaxBodyBytes = 1 << 20

// Paths answered as others: refreshV1 is where Synapse before 1.72 served
// /refresh, and where clients such as matrix-js-sdk fall back to, answered
// as /v3/refresh; AuthMetadataUnstable is MSC2965's path of auth_metadata.
const (
	refreshV1            = "/_matrix/client/v1/refresh"
	refreshV3            = "/_matrix/client/v3/refresh"
	AuthMetadataUnstable = "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"
	AuthMetadataStable   = "/_matrix/client/v1/auth_metadata"
)

// Config is what a server's request pipeline works with.
type Config struct {
	// Route returns the world a request path is for; false when the path
	// names a world that does not exist (anymore). A request keeps the
	// world it started in.
	Route     func(path string) (Target, bool)
	Logger    *slog.Logger
	PublicURL string       // the base URL told to clients; empty: the request's scheme and Host
	Control   http.Handler // the control API under ControlPrefix; nil when off
}

// Target is the world a request is for, as Config.Route finds it.
type Target struct {
	World   *world.World
	Journal *journal.Journal // where the world's answered requests go
	// Prefix is the path the world's URLs sit under: "" for a world at
	// the root, WorldPath(ID) for another. The pipeline strips it
	// before routing and puts it back in the URLs it tells clients.
	Prefix string
}

// errNoWorld answers a request for a world that does not exist.
var errNoWorld = Errorf(http.StatusNotFound, "M_NOT_FOUND", "No such world: it was dropped, expired when idle, or never existed")

// pipeline is a server's HTTP handler.
type pipeline struct {
	Config
	router http.Handler
}

// NewHandler returns the handler of a server configured by cfg.
func NewHandler(cfg Config) http.Handler { return &pipeline{Config: cfg, router: sharedRouter()} }

// ServeHTTP is the way every request goes, in order: the control API
// aside; the exchange that follows the request, and the journal and log
// entry it ends with; time rules due now; CORS; paths answered as others;
// the body read and checked; then the router: route → operation → guard →
// rules → handler (router.go).
func (p *pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.Control != nil && isControl(r.URL.Path) {
		p.Control.ServeHTTP(w, r) // not journaled, and no rule sees it
		return
	}
	began := time.Now()
	t, ok := p.Route(r.URL.Path)
	if !ok {
		setCORS(w.Header())
		WriteJSON(w, errNoWorld.Status, errNoWorld)
		return
	}
	stripPrefix(r.URL, t.Prefix)
	wd := t.World
	x := NewExchange(w, r, t, p.PublicURL)
	defer p.finish(x, r, began)
	wd.ApplyDue()

	setCORS(w.Header())
	if r.Method == http.MethodOptions {
		WriteJSON(x, http.StatusOK, struct{}{})
		return
	}
	switch {
	case x.Path == refreshV1:
		r.URL.Path, r.URL.RawPath = refreshV3, ""
	case x.Path == AuthMetadataUnstable:
		r.URL.Path, r.URL.RawPath = AuthMetadataStable, ""
	case wd.OAuth == nil && (strings.HasPrefix(x.Path, "/oauth2/") || strings.HasPrefix(x.Path, oauth.AccountPath)):
		outsideAPI(errUnrecognized).ServeHTTP(x, r) // served by no route while OAuth is off
		return
	case strings.HasPrefix(x.Path, "/oauth2/"):
		w.Header().Set("Cache-Control", "no-store") // RFC 6749 §5.1
	}
	if e := readBody(w, r); e != nil {
		if strings.HasPrefix(x.Path, "/oauth2/") {
			oauthRequestError(x, e.Status, e.Message)
			return
		}
		fail(x, e)
		return
	}
	if strings.HasPrefix(x.Path, "/oauth2/") {
		if name := repeatedParameter(r); name != "" {
			oauthRequestError(x, http.StatusBadRequest, "the parameter "+name+" appears more than once")
			return
		}
	}
	p.router.ServeHTTP(x, r)
}

// repeatedParameter returns the name of a parameter that r's query or form
// body gives more than once, "" when none does: RFC 6749 §3.1 and §3.2 say
// OAuth 2.0 request parameters must not be repeated, and a server that
// read the first or the last of them would be guessing.
func repeatedParameter(r *http.Request) string {
	sources := []string{r.URL.RawQuery}
	if body, ok := r.Body.(*bodyCopy); ok && isForm(r.Header.Get("Content-Type")) {
		raw := make([]byte, body.Len())
		_, _ = body.ReadAt(raw, body.Size()-int64(body.Len())) // leaves the body unread
		sources = append(sources, string(raw))
	}
	for _, src := range sources {
		values, _ := url.ParseQuery(src) // a malformed one is the handler's to refuse
		for name, v := range values {
			if len(v) > 1 {
				return name
			}
		}
	}
	return ""
}

// isControl reports whether path is the control API's, the default
// world's or another's.
func isControl(path string) bool {
	if strings.HasPrefix(path, ControlPrefix) {
		return true
	}
	_, within, ok := SplitWorldPath(path)
	return ok && strings.HasPrefix(within, ControlPrefix)
}

// stripPrefix removes a world's path prefix from u, so that the router
// sees the path within the world; the prefix alone becomes "/".
func stripPrefix(u *url.URL, prefix string) {
	if prefix == "" {
		return
	}
	u.Path = cmp.Or(strings.TrimPrefix(u.Path, prefix), "/")
	if u.RawPath != "" {
		u.RawPath = cmp.Or(strings.TrimPrefix(u.RawPath, prefix), "/")
	}
}

// finish ends a request: a panic becomes 500 M_UNKNOWN (unless a scenario
// dropped the connection on purpose), and the answer goes to the journal
// and the log.
func (p *pipeline) finish(x *Exchange, r *http.Request, began time.Time) {
	panicked := recover()
	if panicked != nil && !x.Dropped {
		p.Logger.Error("panic while answering a request", "method", r.Method, "path", x.Path, "panic", panicked)
		if x.Status == 0 {
			fail(x, errInternal)
		}
	}
	p.record(r, x, began)
	if x.Dropped {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
}

// record adds the answered request to the journal and the log.
func (p *pipeline) record(r *http.Request, x *Exchange, began time.Time) {
	status := x.Status
	switch {
	case x.Dropped:
		status = 0
	case status == 0:
		status = http.StatusOK // nothing written: net/http sends 200
	}
	e := journal.Entry{
		Time: x.World.Now(), Method: r.Method, Path: x.Path, Operation: x.Operation,
		UserID: x.Principal.UserID, DeviceID: x.Principal.DeviceID,
		Status: status, Errcode: x.Errcode, SoftLogout: x.SoftLogout,
	}
	who := x.Principal
	if e.DeviceID == "" {
		e.TokenUserID, e.TokenDeviceID = x.Carried.UserID, x.Carried.DeviceID
		who = x.Carried
	}
	x.journal.Add(e)
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelWarn
	}
	if p.Logger.Enabled(r.Context(), level) {
		p.Logger.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", x.prefix+x.Path), slog.String("operation", x.Operation),
			slog.Int("status", status), slog.String("errcode", x.Errcode),
			slog.String("user", who.UserID), slog.String("device", who.DeviceID),
			slog.Duration("took", time.Since(began)))
	}
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

// readBody reads a POST, PUT or DELETE body up to MaxBodyBytes (a client
// registration's up to oauth.MaxRegistrationBytes) and checks
// that it is a JSON object, so that handlers decode only well-formed JSON;
// form-encoded bodies are only limited in size, and media uploads are left
// to their handlers (rawBodyEndpoint).
// An empty DELETE body counts as {}: DELETE /devices/{deviceId} is often
// sent without one. Other requests pass untouched.
func readBody(w http.ResponseWriter, r *http.Request) *Error {
	switch {
	case r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodDelete:
		return nil
	case rawBodyEndpoint(r.URL.Path):
		return nil // media: read by the handler, after the guard
	}
	limit, tooLargeErr := int64(MaxBodyBytes), ErrTooLarge
	if r.URL.Path == oauth.RegistrationPath {
		limit, tooLargeErr = oauth.MaxRegistrationBytes, errRegistrationTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tooLargeErr
		}
		return errNotJSON
	}
	if formEndpoint(r.URL.Path) {
		if !isForm(r.Header.Get("Content-Type")) {
			return Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "The body must be "+formType)
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
	case !utf8.Valid(body) || !json.Valid(body):
		return errNotJSON
	case trimmed[0] != '{':
		return errNotObject
	case foldFreeNames(body):
		// encoding/json, which the generated binding falls back to, can
		// only match these names exactly: it decodes the body once,
		// straight into the operation's type.
		r.Body = newJSONBody(body)
		return nil
	}
	value, e := decodeObject(body)
	if e != nil {
		return e
	}
	d := &decodedBody{value: value}
	d.init(body)
	r.Body = d
	return nil
}

// foldFreeNames reports whether every member name in body, a valid JSON
// text, is one that encoding/json can match to a struct field only
// exactly: written without escapes, upper-case ASCII letters or anything
// beyond ASCII. encoding/json matches names case-insensitively (it reads
// "User" as "user", and folds a few letters beyond ASCII, such as the
// Kelvin sign, into ASCII ones); the JSON names of the generated body
// types are lower-case ASCII (TestBodyFieldNamesFoldFree), so a name
// without those can only equal them.
func foldFreeNames(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		folds := false
		for i++; body[i] != '"'; i++ {
			switch c := body[i]; {
			case c == '\\':
				folds = true
				i++ // the escaped byte, which may be a quote
			case 'A' <= c && c <= 'Z', c >= utf8.RuneSelf:
				folds = true
			}
		}
		if folds && isMemberName(body, i+1) {
			return false
		}
	}
	return true
}

// isMemberName reports whether the string that ends before body[i] is a
// member name: in valid JSON, one that a colon follows.
func isMemberName(body []byte, i int) bool {
	for ; i < len(body); i++ {
		switch body[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// errRegistrationTooLarge answers a client registration over
// oauth.MaxRegistrationBytes.
var errRegistrationTooLarge = Errorf(http.StatusRequestEntityTooLarge, "M_TOO_LARGE",
	"A client registration is at most "+strconv.Itoa(oauth.MaxRegistrationBytes>>10)+" KiB")

// formEndpoint reports whether path takes a form rather than JSON: the
// OAuth 2.0 endpoints but registration, and the HTML pages.
func formEndpoint(path string) bool {
	return strings.HasPrefix(path, "/oauth2/") && path != oauth.RegistrationPath || strings.HasPrefix(path, oauth.AccountPath)
}

// decodeObject decodes a body that must be exactly one JSON object.
func decodeObject(body []byte) (map[string]any, *Error) {
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

// jsonBody is a JSON body readBody checked: one object, in UTF-8. The
// generated handlers decode it again (runtime.BindJSONBody); raw is kept for
// those that need it after that (bodyObject).
type jsonBody struct {
	bodyCopy
	raw []byte
}

func newJSONBody(b []byte) *jsonBody {
	j := new(jsonBody)
	j.init(b)
	return j
}

func (j *jsonBody) init(b []byte) {
	j.raw = b
	j.Reset(b)
}

// decodedBody is a JSON body decoded by readBody because encoding/json
// could match some of its member names to others (foldFreeNames). The
// generated handlers bind its value (runtime.BindJSONBody looks for
// ValidatedValue) instead of decoding the bytes again, which makes member
// names match exactly: encoding/json would read "User" as "user".
type decodedBody struct {
	jsonBody
	value map[string]any
}

// ValidatedValue returns the decoded body.
func (b *decodedBody) ValidatedValue() any { return b.value }

// bodyObject returns the JSON object of a request body readBody checked,
// decoding it when readBody did not; false when the request has no JSON
// body.
func bodyObject(body io.Reader) (map[string]any, bool) {
	switch b := body.(type) {
	case *decodedBody:
		return b.value, true
	case *jsonBody:
		value, e := decodeObject(b.raw)
		return value, e == nil
	}
	return nil, false
}

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
