package api

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/operation"
)

// The hand-written answers below send what the generated Visit methods
// send, byte for byte and through the same writer (operation.WriteJSON),
// with fewer allocations: the values the generated bodies' pointers point
// to live in the same struct as the answer.

// encodedVersions is the answer to GET /versions, the generated
// GetVersions200JSONResponse encoded once per world, with the newline the
// generated Visit method ends it with.
type encodedVersions []byte

func (a encodedVersions) VisitGetVersionsResponse(w http.ResponseWriter) error {
	return operation.WriteEncodedJSON(w, http.StatusOK, a)
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
		return operation.WriteJSON(w, http.StatusOK, &a.body)
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
	return operation.WriteEncodedJSON(w, http.StatusOK, body)
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
	return operation.WriteJSON(w, http.StatusOK, &a.body)
}

// refreshAnswer is a refresh's answer, the generated
// Refresh200JSONResponse.
type refreshAnswer struct {
	body   clientserver.Refresh200JSONResponse
	tokens issuedTokens
}

func (a *refreshAnswer) VisitRefreshResponse(w http.ResponseWriter) error {
	return operation.WriteJSON(w, http.StatusOK, &a.body)
}

// jsonAnswer is an answer encoded from a value as is, sent as the generated
// Visit methods send theirs: the rooms package's values, which marshal to
// the spec's shapes; keys and signed objects as stored; or an answer the
// spec gives no type for (the UIA challenge of a cross-signing key
// replacement).
type jsonAnswer struct {
	status int
	body   any
}

func (a jsonAnswer) write(w http.ResponseWriter) error {
	return operation.WriteJSON(w, a.status, a.body)
}

func (a jsonAnswer) VisitCreateRoomResponse(w http.ResponseWriter) error       { return a.write(w) }
func (a jsonAnswer) VisitJoinRoomResponse(w http.ResponseWriter) error         { return a.write(w) }
func (a jsonAnswer) VisitJoinRoomByIDResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a jsonAnswer) VisitInviteUserResponse(w http.ResponseWriter) error       { return a.write(w) }
func (a jsonAnswer) VisitLeaveRoomResponse(w http.ResponseWriter) error        { return a.write(w) }
func (a jsonAnswer) VisitForgetRoomResponse(w http.ResponseWriter) error       { return a.write(w) }
func (a jsonAnswer) VisitKickResponse(w http.ResponseWriter) error             { return a.write(w) }
func (a jsonAnswer) VisitBanResponse(w http.ResponseWriter) error              { return a.write(w) }
func (a jsonAnswer) VisitUnbanResponse(w http.ResponseWriter) error            { return a.write(w) }
func (a jsonAnswer) VisitGetJoinedRoomsResponse(w http.ResponseWriter) error   { return a.write(w) }
func (a jsonAnswer) VisitGetMembersByRoomResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitGetJoinedMembersByRoomResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGetRoomStateResponse(w http.ResponseWriter) error        { return a.write(w) }
func (a jsonAnswer) VisitGetRoomStateWithKeyResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitSetRoomStateWithKeyResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitSendMessageResponse(w http.ResponseWriter) error         { return a.write(w) }
func (a jsonAnswer) VisitRedactEventResponse(w http.ResponseWriter) error         { return a.write(w) }
func (a jsonAnswer) VisitGetRoomEventsResponse(w http.ResponseWriter) error       { return a.write(w) }
func (a jsonAnswer) VisitGetEventContextResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a jsonAnswer) VisitGetOneRoomEventResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a jsonAnswer) VisitGetLocalAliasesResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a jsonAnswer) VisitSetRoomAliasResponse(w http.ResponseWriter) error        { return a.write(w) }
func (a jsonAnswer) VisitGetRoomIDByAliasResponse(w http.ResponseWriter) error    { return a.write(w) }
func (a jsonAnswer) VisitDeleteRoomAliasResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a jsonAnswer) VisitGetRoomVisibilityOnDirectoryResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitSetRoomVisibilityOnDirectoryResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGetPublicRoomsResponse(w http.ResponseWriter) error   { return a.write(w) }
func (a jsonAnswer) VisitQueryPublicRoomsResponse(w http.ResponseWriter) error { return a.write(w) }
func (a jsonAnswer) VisitQueryKeysResponse(w http.ResponseWriter) error        { return a.write(w) }
func (a jsonAnswer) VisitClaimKeysResponse(w http.ResponseWriter) error        { return a.write(w) }
func (a jsonAnswer) VisitUploadCrossSigningKeysResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitUploadCrossSigningSignaturesResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGetRoomKeysVersionCurrentResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a jsonAnswer) VisitGetRoomKeysVersionResponse(w http.ResponseWriter) error { return a.write(w) }
