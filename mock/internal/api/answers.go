package api

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// The hand-written answers below send what the generated Visit methods
// send, byte for byte, with fewer allocations: the values the bodies'
// pointers point to live in the same struct, and writeAnswer encodes
// without the generated json.Encoder and bytes.Buffer. They are the
// generated response types' fast form, kept here until the generator
// emits it (see the report of issue 17).

// jsonContentType is the Content-Type of JSON answers, set by its canonical
// key without the allocation of Header.Set. Its capacity is its length, so
// that a Header.Add appends to a copy.
var jsonContentType = []string{"application/json"}

// writeAnswer sends a success answer as the generated Visit methods do,
// byte for byte: status, Content-Type application/json, and v encoded as
// json.Encoder encodes it, with a newline. It encodes with json.Marshal,
// which saves the Encoder and the growing Buffer those methods allocate.
func writeAnswer(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeEncoded(w, status, append(body, '\n'))
}

// writeEncoded sends an encoded JSON answer.
func writeEncoded(w http.ResponseWriter, status int, body []byte) error {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// encodedVersions is the answer to GET /versions, the generated
// GetVersions200JSONResponse encoded once per world, with the newline the
// generated Visit method ends it with.
type encodedVersions []byte

func (a encodedVersions) VisitGetVersionsResponse(w http.ResponseWriter) error {
	return writeEncoded(w, http.StatusOK, a)
}

// issuedTokens holds what a login's or a refresh's answer points to for
// the refresh token and the access token's lifetime.
type issuedTokens struct {
	refresh     string
	expiresInMs int
}

// of returns the answer's refresh_token and expires_in_ms for sess,
// pointing into t; nil for what sess does not have.
func (t *issuedTokens) of(sess state.Session) (refresh *string, expiresInMs *int) {
	if sess.RefreshToken != "" {
		t.refresh, refresh = sess.RefreshToken, &t.refresh
	}
	if sess.ExpiresIn > 0 {
		t.expiresInMs, expiresInMs = int(sess.ExpiresIn/time.Millisecond), &t.expiresInMs
	}
	return refresh, expiresInMs
}

// loginAnswer is a login's answer, the generated Login200JSONResponse.
type loginAnswer struct {
	body       clientserver.Login200JSONResponse
	tokens     issuedTokens
	serverName string
	wellKnown  clientserver.DiscoveryInformation
}

// VisitLoginResponse sends the answer. Its well_known, the last member of
// the generated type, is encoded once per base URL (discoveryJSON) and
// appended to the rest: the generated DiscoveryInformation.MarshalJSON
// builds a map for every answer: 5% of the process CPU time of a login
// under load (pprof of the mockserver binary).
func (a *loginAnswer) VisitLoginResponse(w http.ResponseWriter) error {
	wellKnown := a.body.WellKnown
	if wellKnown == nil {
		return writeAnswer(w, http.StatusOK, &a.body)
	}
	encodedWellKnown, err := discoveryJSON(wellKnown)
	if err != nil {
		return err
	}
	a.body.WellKnown = nil
	body, err := json.Marshal(&a.body)
	a.body.WellKnown = wellKnown
	if err != nil {
		return err
	}
	body = append(body[:len(body)-1], `,"well_known":`...) // in place of the closing brace
	body = append(append(body, encodedWellKnown...), "}\n"...)
	return writeEncoded(w, http.StatusOK, body)
}

// encodedDiscovery is a well_known answer for one base URL, encoded.
type encodedDiscovery struct {
	baseURL string
	json    []byte
}

// lastDiscovery is the well_known encoded last: a server tells its clients
// one base URL (its -public-url, or the Host they all send), so one entry
// serves nearly every login.
var lastDiscovery atomic.Pointer[encodedDiscovery]

// discoveryJSON returns d encoded as json.Marshal encodes it, from
// lastDiscovery when it holds d's base URL and d has nothing else.
func discoveryJSON(d *clientserver.DiscoveryInformation) ([]byte, error) {
	if d.MIdentityServer != nil || len(d.AdditionalProperties) > 0 {
		return json.Marshal(d)
	}
	if e := lastDiscovery.Load(); e != nil && e.baseURL == d.MHomeserver.BaseURL {
		return e.json, nil
	}
	b, err := json.Marshal(d)
	if err == nil {
		lastDiscovery.Store(&encodedDiscovery{baseURL: d.MHomeserver.BaseURL, json: b})
	}
	return b, err
}

// tokenOwnerAnswer is whoami's answer, the generated
// GetTokenOwner200JSONResponse. whoami does so little else that the answer
// is a large share of its cost: this one takes two allocations (itself and
// the encoded bytes) where the generated one takes seven.
type tokenOwnerAnswer struct {
	body     clientserver.GetTokenOwner200JSONResponse
	deviceID string
	isGuest  bool
}

func (a *tokenOwnerAnswer) VisitGetTokenOwnerResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
}

// refreshAnswer is a refresh's answer, the generated
// Refresh200JSONResponse.
type refreshAnswer struct {
	body   clientserver.Refresh200JSONResponse
	tokens issuedTokens
}

func (a *refreshAnswer) VisitRefreshResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
}
