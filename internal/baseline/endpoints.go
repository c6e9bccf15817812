package baseline

import (
	"fmt"
	"slices"
	"strings"
)

// Endpoints names the measured requests, in the order the load tools
// (cmd/loadtest, bench/outside) run them: GET /versions, an authenticated
// whoami, a password login, a refresh, and the OAuth 2.0 refresh grant.
var Endpoints = []string{"versions", "whoami", "login", "refresh", "oauth-refresh"}

// ParseEndpoints reads a comma-separated list of Endpoints, as the load
// tools' flags take it.
func ParseEndpoints(list string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if !slices.Contains(Endpoints, e) {
			return nil, fmt.Errorf("unknown endpoint %q (want some of %s)", e, strings.Join(Endpoints, ", "))
		}
		out = append(out, e)
	}
	return out, nil
}
