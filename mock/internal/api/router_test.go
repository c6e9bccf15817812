package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gorilla/mux"
)

// TestExactRoutes checks which requests the exact-path index serves: the
// paths without variables, for their methods, as gorilla/mux would route
// them; everything else is left to mux.
func TestExactRoutes(t *testing.T) {
	e, ok := sharedRouter().(*exactRoutes)
	if !ok {
		t.Fatalf("the router is a %T, not an exact-path index in front of mux", sharedRouter())
	}
	for _, c := range []struct {
		method, path string
		indexed      bool
	}{
		{"GET", "/_matrix/client/v3/account/whoami", true},
		{"GET", "/_matrix/client/v3/sync", true},
		{"POST", "/_matrix/client/v3/login", true},
		{"GET", "/_matrix/client/versions", true},
		{"DELETE", "/_matrix/client/v3/account/whoami", false},                // no such method: mux answers 405
		{"PUT", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/1", false}, // variables: mux
		{"GET", "/_matrix/client/v3/nowhere", false},
	} {
		h := e.byPath[c.path][c.method]
		if (h != nil) != c.indexed {
			t.Errorf("%s %s: indexed %v, want %v", c.method, c.path, h != nil, c.indexed)
			continue
		}
		if h == nil {
			continue
		}
		var match mux.RouteMatch
		if !e.mux.Match(&http.Request{Method: c.method, URL: &url.URL{Path: c.path}}, &match) {
			t.Errorf("%s %s: indexed, but mux matches no route", c.method, c.path)
		}
	}
	if n := len(e.byPath); n < 40 {
		t.Errorf("only %d paths indexed", n)
	}
}
