// Package operation is the small hand-written runtime that mxauth's generated
// code imports: a table that says, for every operation of an API, its method,
// path and how it authenticates, and what the generated code calls.
//
// A client looks an operation up in the request's context, where the
// generated typed API puts it (see [WithInfo] and [InfoFrom]), or by the
// concrete request (see [Table.Match]), to decide whether to attach a token;
// the typed API finishes each call with [JSONResult], [EmptyResult] or
// [RawResult], which turn an answer other than 2xx into a
// *matrixerr.Error. A server looks an operation up by its route (see
// [Table.ByRoute]) to enforce authentication (package guard) and to name
// requests in logs; generated strict servers write JSON answers with
// [WriteJSON].
package operation

import (
	"net/http"
	"sort"
	"strings"
)

// Auth says how an operation authenticates its caller.
type Auth uint8

const (
	// AuthNone means the operation takes no access token.
	AuthNone Auth = iota
	// AuthOptional means the operation works with or without an access token
	// (GET /versions, for example, may answer differently to a known user).
	AuthOptional
	// AuthRequired means the operation refuses a request without a valid
	// access token.
	AuthRequired
)

// String returns "none", "optional" or "required".
func (a Auth) String() string {
	switch a {
	case AuthOptional:
		return "optional"
	case AuthRequired:
		return "required"
	default:
		return "none"
	}
}

// Info describes one operation.
type Info struct {
	// ID is the operationId exactly as the spec gives it, such as "getTokenOwner".
	ID string
	// Method is the HTTP method in upper case.
	Method string
	// Path is the full path template, such as "/_matrix/client/v3/devices/{deviceId}".
	Path string
	// Auth says whether the operation takes an access token.
	Auth Auth
	// QueryToken reports whether the spec also accepts the token in the
	// deprecated access_token query parameter.
	QueryToken bool
	// AddedIn is the Matrix version that introduced the operation, from
	// x-addedInMatrixVersion; empty when the spec does not say.
	AddedIn string
}

// Table indexes a set of operations by ID, by route and by concrete request.
// A Table is read-only after [NewTable] and safe for concurrent use.
type Table struct {
	all     []*Info
	byID    map[string]*Info
	byRoute map[string]*Info
}

// NewTable builds a table from infos. It panics on a duplicate ID or route,
// which only a broken generator could produce.
func NewTable(infos ...Info) *Table {
	t := &Table{
		all:     make([]*Info, 0, len(infos)),
		byID:    make(map[string]*Info, len(infos)),
		byRoute: make(map[string]*Info, len(infos)),
	}
	for i := range infos {
		info := &infos[i]
		route := routeKey(info.Method, info.Path)
		if _, dup := t.byID[info.ID]; dup {
			panic("operation: duplicate operation ID " + info.ID)
		}
		if _, dup := t.byRoute[route]; dup {
			panic("operation: duplicate route " + route)
		}
		t.all = append(t.all, info)
		t.byID[info.ID] = info
		t.byRoute[route] = info
	}
	sort.Slice(t.all, func(i, j int) bool { return t.all[i].ID < t.all[j].ID })
	return t
}

// All returns every operation, sorted by ID. The caller must not modify it.
func (t *Table) All() []*Info { return t.all }

// ByID returns the operation with the given operationId.
func (t *Table) ByID(id string) (*Info, bool) {
	info, ok := t.byID[id]
	return info, ok
}

// ByRoute returns the operation served at method and path template, as
// gorilla/mux reports them for a matched route (mux.CurrentRoute(r).GetPathTemplate()).
func (t *Table) ByRoute(method, pathTemplate string) (*Info, bool) {
	info, ok := t.byRoute[routeKey(method, pathTemplate)]
	return info, ok
}

// Match returns the operation that a request with this method and concrete
// path (such as "/_matrix/client/v3/devices/ABC") would reach. A literal
// segment wins over a parameter, so "/login/get_token" is not taken for
// "/login/{x}".
func (t *Table) Match(method, path string) (*Info, bool) {
	var best *Info
	bestLiterals := -1
	for _, info := range t.all {
		if info.Method != method {
			continue
		}
		if literals, ok := matchPath(info.Path, path); ok && literals > bestLiterals {
			best, bestLiterals = info, literals
		}
	}
	return best, best != nil
}

// matchPath reports whether path fits template, and how many of the
// template's segments were literals.
func matchPath(template, path string) (literals int, ok bool) {
	for {
		tseg, trest, tmore := strings.Cut(template, "/")
		pseg, prest, pmore := strings.Cut(path, "/")
		if strings.HasPrefix(tseg, "{") && strings.HasSuffix(tseg, "}") {
			if pseg == "" {
				return 0, false
			}
		} else if tseg != pseg {
			return 0, false
		} else {
			literals++
		}
		if tmore != pmore {
			return 0, false
		}
		if !tmore {
			return literals, true
		}
		template, path = trest, prest
	}
}

func routeKey(method, path string) string { return method + " " + path }

// AccessToken returns the access token a request carries: the
// "Authorization: Bearer" header, or, when allowQuery is true, the deprecated
// access_token query parameter. It reports false when there is none.
func AccessToken(r *http.Request, allowQuery bool) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, found := strings.Cut(h, " ")
		if found && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(token)
			return token, token != ""
		}
		return "", false
	}
	if allowQuery && r.URL.RawQuery != "" {
		if token := r.URL.Query().Get("access_token"); token != "" {
			return token, true
		}
	}
	return "", false
}
