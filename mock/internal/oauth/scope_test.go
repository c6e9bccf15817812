package oauth

import (
	"strings"
	"testing"
)

// TestParseScopeSaysWhatIsWrong: each way a scope can be wrong has its own
// message (a scope whose one device scope has a short device ID used to be
// told it lacked a device scope).
func TestParseScopeSaysWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		scope, device, problem string
	}{
		{scopeAPI + " " + scopeDevice + "ABCDEFGHIJ", "ABCDEFGHIJ", ""},
		{scopeAPIUnstable + " " + scopeDeviceUnstabl + "ABCDEFGHIJ", "ABCDEFGHIJ", ""},
		{scopeAPI + " " + scopeDevice + "SHORT", "", `device ID "SHORT" in the scope must be 10 to 255 characters`},
		{scopeAPI + " " + scopeDevice + "ABCDEFGHIJ " + scopeDevice + "KLMNOPQRST", "", "more than one"},
		{scopeAPI + " openid", "", `unknown scope token "openid"`},
		{scopeDevice + "ABCDEFGHIJ", "", "must hold " + scopeAPI},
		{scopeAPI, "", "must hold one " + scopeDevice},
	} {
		device, problem := parseScope(c.scope)
		if device != c.device || (c.problem == "") != (problem == "") || !strings.Contains(problem, c.problem) {
			t.Errorf("%q: device %q, problem %q; want %q and a problem with %q", c.scope, device, problem, c.device, c.problem)
		}
	}
}
