package api

import (
	"encoding/json"
	"net/http"
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

func (a *loginAnswer) VisitLoginResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
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
