package session_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
)

// fakeAS is a homeserver with the OAuth 2.0 API, just enough of it for the
// unit tests: metadata, registration, an authorization endpoint that
// approves at once, the token and revocation endpoints, and whoami. Tests
// change its fields (under mu) to make it misbehave.
type fakeAS struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock.Clock

	mu sync.Mutex
	// stable and unstable answer the two metadata paths; nil: the
	// metadata, with stable field names.
	stable, unstable http.HandlerFunc
	// edit changes the metadata before it is sent.
	edit func(map[string]any)
	// lifetime of access tokens (default 5m).
	lifetime time.Duration
	// noRotation: refreshes give no new refresh token.
	noRotation bool
	// tokenDelay is how long the token endpoint takes.
	tokenDelay time.Duration
	// tokenError, when set, is what the token endpoint answers.
	tokenError *fakeError
	// registrationError, when set, is what registration answers.
	registrationError *fakeError
	// authError, when set, is the error the authorization redirects with.
	authError string
	// otherDevice, when set, is the device tokens are issued for, whatever
	// the scope says.
	otherDevice string

	clients       map[string]bool
	registrations []map[string]any
	codes         map[string]fakeCode
	access        map[string]*fakeAccess
	refresh       map[string]*fakeSession
	refreshes     int // successful refresh grants
	tokenForms    []url.Values
	revocations   []url.Values
	n             int
}

type fakeError struct {
	status int
	body   string
}

type fakeCode struct {
	clientID, redirectURI, challenge, device string
}

// fakeSession is a login: all its tokens die with it.
type fakeSession struct {
	user, device string
	dead         bool
}

type fakeAccess struct {
	s       *fakeSession
	expires time.Time
}

func newFakeAS(t *testing.T) *fakeAS {
	f := &fakeAS{
		t: t, clock: clock.Virtual(epoch), lifetime: 5 * time.Minute,
		clients: map[string]bool{}, codes: map[string]fakeCode{}, access: map[string]*fakeAccess{}, refresh: map[string]*fakeSession{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_matrix/client/v1/auth_metadata", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.stable
		f.mu.Unlock()
		if h == nil {
			h = f.metadata
		}
		h(w, r)
	})
	mux.HandleFunc("GET /_matrix/client/unstable/org.matrix.msc2965/auth_metadata", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.unstable
		f.mu.Unlock()
		if h == nil {
			h = f.metadata
		}
		h(w, r)
	})
	mux.HandleFunc("POST /oauth2/registration", f.register)
	mux.HandleFunc("GET /oauth2/authorize", f.authorize)
	mux.HandleFunc("POST /oauth2/token", f.token)
	mux.HandleFunc("POST /oauth2/revoke", f.revoke)
	mux.HandleFunc("GET /_matrix/client/v3/account/whoami", f.whoami)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// metadataFields is the metadata the fake sends, before edit.
func (f *fakeAS) metadataFields() map[string]any {
	base := f.srv.URL
	return map[string]any{
		"issuer":                           base + "/",
		"authorization_endpoint":           base + "/oauth2/authorize",
		"token_endpoint":                   base + "/oauth2/token",
		"registration_endpoint":            base + "/oauth2/registration",
		"revocation_endpoint":              base + "/oauth2/revoke",
		"account_management_uri":           base + "/account/",
		"response_types_supported":         []string{"code"},
		"response_modes_supported":         []string{"query", "fragment"},
		"grant_types_supported":            []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported": []string{"S256"},
		"prompt_values_supported":          []string{"create"},
		"account_management_actions_supported": []string{
			"org.matrix.profile", "org.matrix.devices_list", "org.matrix.device_view", "org.matrix.device_delete",
			"org.matrix.account_deactivate", "org.matrix.cross_signing_reset",
		},
	}
}

func (f *fakeAS) metadata(w http.ResponseWriter, _ *http.Request) {
	m := f.metadataFields()
	f.mu.Lock()
	if f.edit != nil {
		f.edit(m)
	}
	f.mu.Unlock()
	writeJSON(w, 200, m)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, e *fakeError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.body))
}

// unrecognized answers as a server that does not know the endpoint.
func unrecognized(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status, map[string]any{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
	}
}

func (f *fakeAS) next(prefix string) string {
	f.n++
	return fmt.Sprintf("%s%d", prefix, f.n)
}

func (f *fakeAS) register(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_client_metadata", "error_description": err.Error()})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registrations = append(f.registrations, body)
	if f.registrationError != nil {
		writeRaw(w, f.registrationError)
		return
	}
	id := f.next("client-")
	f.clients[id] = true
	writeJSON(w, 201, map[string]any{"client_id": id, "client_id_issued_at": 0})
}

// authorize approves at once, as the user "alice", and redirects back.
func (f *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !f.clients[q.Get("client_id")] || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "bad authorization request", 400)
		return
	}
	var device string
	for _, s := range strings.Fields(q.Get("scope")) {
		if d, ok := strings.CutPrefix(s, "urn:matrix:client:device:"); ok {
			device = d
		}
	}
	back := url.Values{"state": {q.Get("state")}}
	if f.authError != "" {
		back.Set("error", f.authError)
		back.Set("error_description", "the user said no")
	} else {
		code := f.next("code-")
		f.codes[code] = fakeCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), device: device}
		back.Set("code", code)
	}
	if q.Get("response_mode") == "fragment" {
		redirect.Fragment = back.Encode()
	} else {
		redirect.RawQuery = back.Encode()
	}
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (f *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		oauthErr(w, 400, "invalid_request", "content type "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(w, 400, "invalid_request", err.Error())
		return
	}
	form := r.PostForm
	f.mu.Lock()
	f.tokenForms = append(f.tokenForms, form)
	delay := f.tokenDelay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenError != nil {
		writeRaw(w, f.tokenError)
		return
	}
	if !f.clients[form.Get("client_id")] {
		oauthErr(w, 401, "invalid_client", "unknown client")
		return
	}
	var s *fakeSession
	answer := map[string]any{"token_type": "Bearer", "expires_in": int(f.lifetime / time.Second), "scope": "urn:matrix:client:api:*"}
	switch form.Get("grant_type") {
	case "authorization_code":
		c, ok := f.codes[form.Get("code")]
		delete(f.codes, form.Get("code"))
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		switch {
		case !ok || c.clientID != form.Get("client_id"):
			oauthErr(w, 400, "invalid_grant", "unknown code")
			return
		case c.redirectURI != form.Get("redirect_uri"):
			oauthErr(w, 400, "invalid_grant", "redirect URI mismatch")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			oauthErr(w, 400, "invalid_grant", "PKCE verification failed")
			return
		}
		s = &fakeSession{user: "@alice:fake", device: c.device}
		if f.otherDevice != "" {
			s.device = f.otherDevice
		}
		rt := f.next("rt-")
		f.refresh[rt] = s
		answer["refresh_token"] = rt
	case "refresh_token":
		var ok bool
		old := form.Get("refresh_token")
		s, ok = f.refresh[old]
		if !ok || s.dead {
			oauthErr(w, 400, "invalid_grant", "refresh token unknown, used or revoked")
			return
		}
		f.refreshes++
		if !f.noRotation {
			delete(f.refresh, old)
			rt := f.next("rt-")
			f.refresh[rt] = s
			answer["refresh_token"] = rt
		}
	default:
		oauthErr(w, 400, "unsupported_grant_type", form.Get("grant_type"))
		return
	}
	at := f.next("at-")
	f.access[at] = &fakeAccess{s: s, expires: f.clock.Now().Add(f.lifetime)}
	answer["access_token"] = at
	writeJSON(w, 200, answer)
}

func (f *fakeAS) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthErr(w, 400, "invalid_request", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revocations = append(f.revocations, r.PostForm)
	token := r.PostForm.Get("token")
	if s, ok := f.refresh[token]; ok {
		s.dead = true
	}
	if a, ok := f.access[token]; ok {
		a.s.dead = true
	}
	w.WriteHeader(200)
}

func (f *fakeAS) whoami(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.access[token]
	switch {
	case !ok || a.s.dead:
		writeJSON(w, 401, map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "Unknown token", "soft_logout": false})
	case !f.clock.Now().Before(a.expires):
		writeJSON(w, 401, map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "Token expired", "soft_logout": true})
	default:
		writeJSON(w, 200, map[string]any{"user_id": a.s.user, "device_id": a.s.device})
	}
}

// killRefreshTokens makes every refresh token fail, as when the server has
// dropped them, while the sessions stay.
func (f *fakeAS) killRefreshTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.refresh)
}

func (f *fakeAS) set(change func(f *fakeAS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeAS) refreshCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes
}

func (f *fakeAS) forms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tokenForms)
}

func (f *fakeAS) revoked() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.revocations)
}

func (f *fakeAS) registered() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.registrations)
}
