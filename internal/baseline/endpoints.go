package baseline

import (
	"fmt"
	"slices"
	"strings"
)

// Endpoints names the measured sign-in requests, in the order the load
// tools (cmd/loadtest, bench/outside) run them: GET /versions, an
// authenticated whoami, a password login, a refresh, and the OAuth 2.0
// refresh grant.
var Endpoints = []string{"versions", "whoami", "login", "refresh", "oauth-refresh"}

// RoomEndpoints names the measured requests of a signed-in client, which
// bench/outside runs after Endpoints: a /sync with nothing new (since a
// current token, timeout=0) and a message send with a fresh transaction
// ID.
var RoomEndpoints = []string{"sync", "send"}

// ParseEndpoints reads a comma-separated list of names from known (one of
// the lists above, or both), as the load tools' flags take it.
func ParseEndpoints(list string, known []string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if !slices.Contains(known, e) {
			return nil, fmt.Errorf("unknown endpoint %q (want some of %s)", e, strings.Join(known, ", "))
		}
		out = append(out, e)
	}
	return out, nil
}
