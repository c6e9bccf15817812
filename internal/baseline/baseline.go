// Package baseline is the yardstick mxauth's mock homeserver is measured
// against, in the in-process benchmarks (mock/bench_test.go) and in
// cmd/loadtest: a bare net/http server that gives the measured requests
// the same answers on the wire as the mock, with the least work that gets
// them right (Server); and Ceiling, fixed answers of the same shape, the
// limit of net/http itself, for bench/outside, which measures from
// another process.
package baseline

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the yardstick the mock is measured against: a bare net/http
// server that gives the same answers on the wire (status, headers and JSON
// body) to the measured requests (Endpoints and RoomEndpoints), with the
// least work that gets them right. Tokens are random like the mock's, a login on a device ends its
// previous tokens, a refresh rotates (at /refresh, and at the OAuth 2.0
// token endpoint for a known client), and access tokens expire; there is
// no router beyond http.ServeMux, no request journal, no user-interactive
// auth, no scenario rules, and no OAuth 2.0 endpoint but the token
// endpoint's refresh grant. Rooms are not kept: a message is accepted into
// any room ID, a transaction ID seen before on the device gets its first
// event ID back, and /sync never has anything new.
type Server struct {
	serverName string
	baseURL    string // for the well_known part of the login answer
	versions   []string
	lifetime   time.Duration // of access tokens that come with a refresh token

	mu        sync.RWMutex
	passwords map[string]string         // by user ID
	access    map[string]baselineAccess // by access token
	refresh   map[string]baselineDevice // by refresh token
	devices   map[baselineDevice]*baselinePair
	clients   map[string]bool        // registered OAuth 2.0 client IDs
	sent      map[transaction]string // event IDs, by the transaction that sent them
}

// transaction is a message send as the spec scopes its transaction ID: to
// the device that sent it.
type transaction struct {
	baselineDevice
	txnID string
}

// baselineDevice names a device: its user and device ID.
type baselineDevice struct{ user, device string }

// baselineAccess is who an access token belongs to, and until when.
type baselineAccess struct {
	baselineDevice
	expires time.Time // zero: never
}

// baselinePair is a device's current tokens and the access token of the
// pair before, which keeps working until it expires, as on the mock.
type baselinePair struct{ access, refresh, prevAccess string }

// New returns an empty baseline server for serverName whose login answers
// point clients at baseURL (empty: "http://" and the Host the request was
// sent to).
func New(serverName, baseURL string, versions []string) *Server {
	return &Server{
		serverName: serverName,
		baseURL:    baseURL,
		versions:   versions,
		lifetime:   5 * time.Minute,
		passwords:  make(map[string]string),
		access:     make(map[string]baselineAccess),
		refresh:    make(map[string]baselineDevice),
		devices:    make(map[baselineDevice]*baselinePair),
		clients:    make(map[string]bool),
		sent:       make(map[transaction]string),
	}
}

// AddUser creates a user and returns its ID.
func (b *Server) AddUser(localpart, password string) string {
	id := "@" + localpart + ":" + b.serverName
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passwords[id] = password
	return id
}

// AddAccessToken gives device of user (a full user ID) a further access
// token that never expires, to fill the server with sessions quickly.
func (b *Server) AddAccessToken(token, user, device string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.access[token] = baselineAccess{baselineDevice{user, device}, time.Time{}}
}

// AddClient registers an OAuth 2.0 client and returns its ID, random like
// the mock's.
func (b *Server) AddClient() string {
	id := newToken("")[:22]
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients[id] = true
	return id
}

// Login gives user a new token pair on device, ending the device's previous
// tokens. Without withRefresh the access token never expires and no
// refresh token is issued.
func (b *Server) Login(user, device string, withRefresh bool) (access, refresh string) {
	access = newToken("mat_")
	var expires time.Time
	if withRefresh {
		refresh = newToken("mrt_")
		expires = time.Now().Add(b.lifetime)
	}
	key := baselineDevice{user, device}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.devices[key]; old != nil {
		delete(b.access, old.access)
		delete(b.access, old.prevAccess)
		delete(b.refresh, old.refresh)
	}
	b.devices[key] = &baselinePair{access: access, refresh: refresh}
	b.access[access] = baselineAccess{key, expires}
	if refresh != "" {
		b.refresh[refresh] = key
	}
	return access, refresh
}

// newToken returns prefix and 256 random bits in base64url, as the mock's
// tokens are.
func newToken(prefix string) string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	return prefix + base64.RawURLEncoding.EncodeToString(raw[:])
}

// The paths of the room endpoints, as http.ServeMux patterns.
const (
	syncPattern = "GET /_matrix/client/v3/sync"
	sendPattern = "PUT /_matrix/client/v3/rooms/{roomID}/send/{eventType}/{txnID}"
)

// Handler returns the HTTP handler of the measured endpoints.
func (b *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_matrix/client/versions", b.serveVersions)
	mux.HandleFunc("GET /_matrix/client/v3/account/whoami", b.serveWhoami)
	mux.HandleFunc(syncPattern, b.serveSync)
	mux.HandleFunc(sendPattern, b.serveSend)
	mux.HandleFunc("POST /_matrix/client/v3/login", b.serveLogin)
	mux.HandleFunc("POST /_matrix/client/v3/refresh", b.serveRefresh)
	mux.HandleFunc("POST /oauth2/token", b.serveOAuthToken)
	return mux
}

// The answers of the measured requests, shared with Ceiling.
type (
	versionsAnswer struct {
		Versions         []string        `json:"versions"`
		UnstableFeatures map[string]bool `json:"unstable_features"`
	}
	whoamiAnswer struct {
		UserID   string `json:"user_id"`
		DeviceID string `json:"device_id"`
		IsGuest  bool   `json:"is_guest"`
	}
	loginAnswer struct {
		UserID       string            `json:"user_id"`
		AccessToken  string            `json:"access_token"`
		DeviceID     string            `json:"device_id"`
		RefreshToken string            `json:"refresh_token,omitempty"`
		ExpiresInMs  int64             `json:"expires_in_ms,omitempty"`
		HomeServer   string            `json:"home_server"`
		WellKnown    baselineWellKnown `json:"well_known"`
	}
	refreshAnswer struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresInMs  int64  `json:"expires_in_ms"`
	}
	oauthTokenAnswer struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
	}
	sendAnswer struct {
		EventID string `json:"event_id"`
	}
	// syncAnswer is a /sync answer with nothing in it, as the mock gives
	// one: every section present and empty.
	syncAnswer struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join   map[string]struct{} `json:"join"`
			Invite map[string]struct{} `json:"invite"`
			Leave  map[string]struct{} `json:"leave"`
		} `json:"rooms"`
		AccountData eventList `json:"account_data"`
		Presence    eventList `json:"presence"`
		ToDevice    eventList `json:"to_device"`
		DeviceLists struct {
			Changed []string `json:"changed"`
			Left    []string `json:"left"`
		} `json:"device_lists"`
		OneTimeKeysCount map[string]int `json:"device_one_time_keys_count"`
		FallbackKeyTypes []string       `json:"device_unused_fallback_key_types"`
	}
	eventList struct {
		Events []struct{} `json:"events"`
	}
	matrixError struct {
		Errcode string `json:"errcode"`
		Error   string `json:"error"`
	}
)

// refreshTokenFeature is the unstable feature /versions advertises; never
// written to.
var refreshTokenFeature = map[string]bool{"org.matrix.msc2918.refresh_token": true}

func (b *Server) serveVersions(w http.ResponseWriter, _ *http.Request) {
	writeBaselineJSON(w, http.StatusOK, versionsAnswer{b.versions, refreshTokenFeature})
}

func (b *Server) serveWhoami(w http.ResponseWriter, r *http.Request) {
	if d, ok := b.authenticate(w, r); ok {
		writeBaselineJSON(w, http.StatusOK, whoamiAnswer{d.user, d.device, false})
	}
}

// emptySync returns a /sync answer with nothing new since nextBatch.
func emptySync(nextBatch string) syncAnswer {
	a := syncAnswer{NextBatch: nextBatch}
	a.Rooms.Join, a.Rooms.Invite, a.Rooms.Leave = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	a.AccountData.Events, a.Presence.Events, a.ToDevice.Events = []struct{}{}, []struct{}{}, []struct{}{}
	a.DeviceLists.Changed, a.DeviceLists.Left = []string{}, []string{}
	a.OneTimeKeysCount = map[string]int{"signed_curve25519": 0}
	a.FallbackKeyTypes = []string{}
	return a
}

// syncPosition is the baseline's only stream position: nothing ever
// happens on it that /sync would report.
const syncPosition = "s0_k0"

// authenticate returns the device the request's access token belongs to,
// or sends the error answer and returns ok false.
func (b *Server) authenticate(w http.ResponseWriter, r *http.Request) (device baselineDevice, ok bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeBaselineError(w, http.StatusUnauthorized, "M_MISSING_TOKEN")
		return device, false
	}
	b.mu.RLock()
	a, ok := b.access[token]
	b.mu.RUnlock()
	if !ok || !a.expires.IsZero() && !time.Now().Before(a.expires) {
		writeBaselineError(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		return device, false
	}
	return a.baselineDevice, true
}

// serveSync answers /sync at once with nothing new, whatever since is; it
// reads the timeout as the mock does, refusing one that is not a number.
func (b *Server) serveSync(w http.ResponseWriter, r *http.Request) {
	if _, ok := b.authenticate(w, r); !ok {
		return
	}
	if t := r.URL.Query().Get("timeout"); t != "" {
		if _, err := strconv.ParseInt(t, 10, 64); err != nil {
			writeBaselineError(w, http.StatusBadRequest, "M_INVALID_PARAM")
			return
		}
	}
	writeBaselineJSON(w, http.StatusOK, emptySync(syncPosition))
}

// serveSend takes a message event into any room and answers with its
// event ID; the same transaction ID on the same device gets the same one.
func (b *Server) serveSend(w http.ResponseWriter, r *http.Request) {
	device, ok := b.authenticate(w, r)
	if !ok {
		return
	}
	var content map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&content); err != nil {
		writeBaselineError(w, http.StatusBadRequest, "M_NOT_JSON")
		return
	}
	txn := transaction{device, r.PathValue("txnID")}
	eventID := newEventID()
	b.mu.Lock()
	if first, seen := b.sent[txn]; seen {
		eventID = first
	} else {
		b.sent[txn] = eventID
	}
	b.mu.Unlock()
	writeBaselineJSON(w, http.StatusOK, sendAnswer{eventID})
}

// newEventID returns "$" and 144 random bits in base64url: an event ID as
// long as the mock's.
func newEventID() string {
	var raw [18]byte
	_, _ = rand.Read(raw[:])
	return "$" + base64.RawURLEncoding.EncodeToString(raw[:])
}

// baselineWellKnown is the well_known part of a login answer.
type baselineWellKnown struct {
	Homeserver struct {
		BaseURL string `json:"base_url"`
	} `json:"m.homeserver"`
}

func (b *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Type       string `json:"type"`
		Identifier struct {
			Type string `json:"type"`
			User string `json:"user"`
		} `json:"identifier"`
		Password     string `json:"password"`
		DeviceID     string `json:"device_id"`
		RefreshToken bool   `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeBaselineError(w, http.StatusBadRequest, "M_NOT_JSON")
		return
	}
	if req.Type != "m.login.password" || req.Identifier.Type != "m.id.user" || req.DeviceID == "" {
		writeBaselineError(w, http.StatusBadRequest, "M_UNKNOWN")
		return
	}
	user := req.Identifier.User
	if !strings.HasPrefix(user, "@") {
		user = "@" + user + ":" + b.serverName
	}
	b.mu.RLock()
	password, ok := b.passwords[user]
	b.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(password), []byte(req.Password)) != 1 {
		writeBaselineError(w, http.StatusForbidden, "M_FORBIDDEN")
		return
	}
	access, refresh := b.Login(user, req.DeviceID, req.RefreshToken)
	resp := loginAnswer{UserID: user, AccessToken: access, DeviceID: req.DeviceID, RefreshToken: refresh, HomeServer: b.serverName}
	if refresh != "" {
		resp.ExpiresInMs = b.lifetime.Milliseconds()
	}
	resp.WellKnown.Homeserver.BaseURL = b.baseURL
	if b.baseURL == "" {
		resp.WellKnown.Homeserver.BaseURL = "http://" + r.Host
	}
	writeBaselineJSON(w, http.StatusOK, resp)
}

func (b *Server) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeBaselineError(w, http.StatusBadRequest, "M_NOT_JSON")
		return
	}
	access, refresh, ok := b.rotate(req.RefreshToken)
	if !ok {
		writeBaselineError(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		return
	}
	writeBaselineJSON(w, http.StatusOK, refreshAnswer{access, refresh, b.lifetime.Milliseconds()})
}

// serveOAuthToken answers the refresh_token grant of the OAuth 2.0 token
// endpoint (RFC 6749 §6) for a known client, as the mock does: the answer
// of §5.1, which must not be cached, and the errors of §5.2.
func (b *Server) serveOAuthToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeBaselineOAuthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	b.mu.RLock()
	known := b.clients[r.Form.Get("client_id")]
	b.mu.RUnlock()
	if !known {
		writeBaselineOAuthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.Form.Get("grant_type") != "refresh_token" {
		writeBaselineOAuthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	access, refresh, ok := b.rotate(r.Form.Get("refresh_token"))
	if !ok {
		writeBaselineOAuthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	writeBaselineJSON(w, http.StatusOK, oauthTokenAnswer{access, int64(b.lifetime / time.Second), refresh, "Bearer"})
}

// rotate gives the device that refresh belongs to a new token pair. The
// access token of the pair before the current one ends; the current one's
// keeps working until it expires, as on the mock. ok is false for an
// unknown refresh token.
func (b *Server) rotate(refresh string) (newAccess, newRefresh string, ok bool) {
	newAccess, newRefresh = newToken("mat_"), newToken("mrt_")
	expires := time.Now().Add(b.lifetime)
	b.mu.Lock()
	defer b.mu.Unlock()
	key, ok := b.refresh[refresh]
	if !ok {
		return "", "", false
	}
	p := b.devices[key]
	delete(b.refresh, p.refresh)
	delete(b.access, p.prevAccess)
	p.prevAccess, p.access, p.refresh = p.access, newAccess, newRefresh
	b.access[newAccess] = baselineAccess{key, expires}
	b.refresh[newRefresh] = key
	return newAccess, newRefresh, true
}

// writeBaselineError sends a Matrix error answer.
func writeBaselineError(w http.ResponseWriter, status int, errcode string) {
	writeBaselineJSON(w, status, matrixError{errcode, "refused"})
}

// writeBaselineOAuthError sends an RFC 6749 error answer.
func writeBaselineOAuthError(w http.ResponseWriter, status int, code string) {
	writeBaselineJSON(w, status, struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}{code, "refused"})
}

// writeBaselineJSON sends v as JSON with the headers every client-server
// answer carries.
func writeBaselineJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	setAnswerHeaders(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// setAnswerHeaders sets the headers every client-server answer carries.
func setAnswerHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
}
