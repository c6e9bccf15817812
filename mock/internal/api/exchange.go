// Package api answers the mock homeserver's operations: the generated
// client-server and OAuth 2.0 strict server interfaces, one file per API
// area (auth.go, account.go, devices.go, discovery.go, oauth.go; the whole
// client-server API adds sync.go, rooms.go, userdata.go, keys.go, media.go), and the
// router that puts the operation naming, the access-token guard and the
// scenario rules in front of them (router.go).
//
// A handler finds everything it uses in its request's Exchange, which is
// the context it is handed (From): the world (state, OAuth server,
// settings), the caller and the base URL. The router is shared by every server,
// because building one is most of what New would cost, so a handler's
// receiver cannot hold one server's state.
//
// It may touch the world and its state through their methods; it knows
// nothing of how state is stored, and only pipeline.go writes the journal
// and the log.
//
// # Adding an endpoint
//
// Once the operation is in the spec and generated (gen/clientserver gives
// its strict interface method, route and Info with its auth), it is one
// method of Handlers in the file of its area:
//
//	func (Handlers) GetProfile(ctx context.Context, req clientserver.GetProfileRequestObject) (clientserver.GetProfileResponseObject, error) {
//		x := From(ctx)
//		... x.Store(), x.World, x.Principal ...
//		return clientserver.GetProfile200JSONResponse{...}, nil // or an *Error, or a state error
//	}
//
// CORS, the body check, the guard (from the operation's auth), scenario
// rules, error answers, the journal and the log come from the pipeline.
// State of a new kind (rooms, sync streams) goes in a package of its own
// under mock/internal, held by world.World and reached as x.World.<Name>.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/internal/world"
)

// Exchange is what the server learns about one request while answering it,
// for the handlers, the journal and the log. It is also the request's
// ResponseWriter, remembering the status, so that the layers that are
// handed the writer find it there; and from the route chain on, the
// request's context, so that the guard's Verify and the handlers, which
// are handed only the request or its context, find it without a search.
type Exchange struct {
	http.ResponseWriter
	context.Context // the request's context, with the router's values
	World           *world.World
	Path            string // as sent, before any rewriting
	Operation       string // the operationId of the route, "" for none
	Principal       state.Principal
	Token           string // the access token that authenticated the caller
	// Carried is whose token the request carried when it did not
	// authenticate it: a refused access token's owner, a refresh token's.
	Carried    state.Principal
	Errcode    string
	SoftLogout bool // the error answer said soft_logout true
	Dropped    bool // a scenario dropped the connection
	Status     int  // the answer's, 0 until written

	req       *http.Request // as received, for BaseURL
	publicURL string
}

// NewExchange starts the exchange of r, answered through w on world.
// publicURL, when set, is the base URL told to clients.
func NewExchange(w http.ResponseWriter, r *http.Request, wd *world.World, publicURL string) *Exchange {
	return &Exchange{ResponseWriter: w, Context: r.Context(), World: wd, Path: r.URL.Path, req: r, publicURL: publicURL}
}

type exchangeKey struct{}

// withExchange returns r with x as its context, x holding r's context
// until then: done once, by the route chain, after the router has put its
// values in.
func withExchange(r *http.Request, x *Exchange) *http.Request {
	x.Context = r.Context()
	return r.WithContext(x)
}

// Value returns the exchange itself for its key, and the request
// context's values for others.
func (x *Exchange) Value(key any) any {
	if key == (exchangeKey{}) {
		return x
	}
	return x.Context.Value(key)
}

// From returns the exchange of a request's context: the context itself,
// or, should something have wrapped it, the exchange it wraps.
func From(ctx context.Context) *Exchange {
	if x, ok := ctx.(*Exchange); ok {
		return x
	}
	return ctx.Value(exchangeKey{}).(*Exchange)
}

// writerExchange returns the exchange that w is, or nil.
func writerExchange(w http.ResponseWriter) *Exchange {
	x, _ := w.(*Exchange)
	return x
}

// BaseURL is the URL clients are told to use in well_known answers and the
// OAuth 2.0 metadata. It is built when an answer asks for it rather than
// for every request: most answers do not, and building it allocates.
func (x *Exchange) BaseURL() string {
	switch {
	case x.publicURL != "":
		return x.publicURL
	case x.req.TLS != nil:
		return "https://" + x.req.Host
	}
	return "http://" + x.req.Host
}

// Store is the state the request works on.
func (x *Exchange) Store() *state.Store { return x.World.Store }

// WriteHeader sends the status, remembering the first.
func (x *Exchange) WriteHeader(status int) {
	if x.Status == 0 {
		x.Status = status
	}
	x.ResponseWriter.WriteHeader(status)
}

// Write sends body bytes; the status is 200 unless written before. The
// first bytes of an error answer that did not go through fail (a UIA
// challenge, an OAuth 2.0 error of a generated response) give the
// exchange its errcode, for the journal and the log.
func (x *Exchange) Write(b []byte) (int, error) {
	if x.Status == 0 {
		x.Status = http.StatusOK
	}
	if x.Status >= 400 && x.Errcode == "" {
		x.Errcode = errcodeIn(x.Header().Get("Content-Type"), b, strings.HasPrefix(x.Path, "/oauth2/"))
	}
	return x.ResponseWriter.Write(b)
}

// errcodeIn returns the errcode of a JSON error body: its errcode member,
// or for an OAuth 2.0 endpoint (oauth) the RFC 6749 error member; "" when
// the body is not JSON or has neither.
func errcodeIn(contentType string, body []byte, oauth bool) string {
	if !strings.HasPrefix(contentType, "application/json") {
		return ""
	}
	var fields struct {
		Errcode string `json:"errcode"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(body, &fields)
	if fields.Errcode == "" && oauth {
		return fields.Error
	}
	return fields.Errcode
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (x *Exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// carryRefresh notes, for the journal, whose refresh token the request
// carries.
func (x *Exchange) carryRefresh(token string) {
	if who, ok := x.Store().RefreshOwner(token); ok {
		x.Carried = who
	}
}
