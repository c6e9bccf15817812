package mock_test

import (
	"slices"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// TestGoAPIAppliesDueTimeRules: a time rule that has come due takes effect
// before the Go API reads the state, without waiting for a request.
func TestGoAPIAppliesDueTimeRules(t *testing.T) {
	hs := mock.Start(t, mock.WithScenarioData("due.yaml", []byte(`
clock: {mode: virtual}
users: [{id: alice, password: pw, devices: [{id: PHONE, access_token: at}]}]
rules:
  - when: {at: 10m}
    then: {hard_logout: {user: alice, device: PHONE}}
`)))
	if got := hs.Devices("alice"); len(got) != 1 {
		t.Fatalf("before the rule: %d devices, want 1", len(got))
	}
	hs.Clock().Advance(10 * time.Minute)
	if got := hs.Devices("alice"); len(got) != 0 {
		t.Fatalf("after the rule came due: devices %v, want none", got)
	}
}

// TestDeterministicOAuthIdentifiers: with WithDeterministic, the OAuth 2.0
// client IDs and authorization codes are the same on every run.
func TestDeterministicOAuthIdentifiers(t *testing.T) {
	run := func() (clientID, code string) {
		hs := mock.Start(t, mock.WithDeterministic(7), mock.WithOAuthAutoApprove("alice"))
		clientID = register(t, hs, nil)
		resp := follow(t, hs.URL+"/oauth2/authorize?"+authorizeQuery(clientID, loopback, "DEVICEABCDEF").Encode())
		return clientID, redirected(t, resp, loopback).Get("code")
	}
	id1, code1 := run()
	id2, code2 := run()
	if id1 == "" || code1 == "" {
		t.Fatalf("client ID %q, code %q: want both", id1, code1)
	}
	if id1 != id2 || code1 != code2 {
		t.Fatalf("two runs with one seed gave client IDs %q, %q and codes %q, %q", id1, id2, code1, code2)
	}
}

// TestDefaultVersionsIsACopy: changing what DefaultVersions returned
// changes neither a later call nor a server's answer.
func TestDefaultVersionsIsACopy(t *testing.T) {
	v := mock.DefaultVersions()
	want := slices.Clone(v)
	v[0] = "v0.0"
	if got := mock.DefaultVersions(); !slices.Equal(got, want) {
		t.Fatalf("DefaultVersions after a caller changed its slice: %v", got)
	}
	if !mock.DefaultStart().Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("DefaultStart = %v", mock.DefaultStart())
	}
}
