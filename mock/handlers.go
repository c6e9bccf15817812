package mock

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// handlers implements the generated strict server interface. Each request
// works on the world its exchange holds (see storeOf). Successful answers
// are the generated response types; errors are returned as errors and sent
// by the server's error handler as Matrix JSON.
type handlers struct{}

var _ clientserver.StrictServerInterface = handlers{}

// Login types and stages.
const (
	loginPassword = "m.login.password"
	loginToken    = "m.login.token"
	loginDummy    = "m.login.dummy"
	idUser        = "m.id.user"
)

// refreshTokenFeature is the unstable feature flag of refresh tokens (MSC2918).
const refreshTokenFeature = "org.matrix.msc2918.refresh_token"

func ptr[T any](v T) *T { return &v }

// millis returns d in whole milliseconds, or nil for 0 (never expires).
func millis(d time.Duration) *int {
	if d <= 0 {
		return nil
	}
	return ptr(int(d / time.Millisecond))
}

// optional returns nil for the zero value, else a pointer to v.
func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func (h handlers) GetVersions(ctx context.Context, _ clientserver.GetVersionsRequestObject) (clientserver.GetVersionsResponseObject, error) {
	return exchangeOf(ctx).world.versionsAnswer(), nil
}

// newVersionsAnswer returns the answer to GET /versions for a world that
// advertises versions: the generated GetVersions200JSONResponse, encoded
// now so that each request only writes the bytes.
func newVersionsAnswer(versions []string) clientserver.GetVersionsResponseObject {
	resp := clientserver.GetVersions200JSONResponse{
		Versions:         versions,
		UnstableFeatures: &map[string]bool{refreshTokenFeature: true},
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return resp // its Visit method meets the error again and reports it
	}
	return encodedVersions(append(body, '\n'))
}

// encodedVersions is the answer to GET /versions, encoded, with the
// newline the generated Visit method ends it with.
type encodedVersions []byte

func (a encodedVersions) VisitGetVersionsResponse(w http.ResponseWriter) error {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a)
	return err
}

func (h handlers) GetWellknown(ctx context.Context, _ clientserver.GetWellknownRequestObject) (clientserver.GetWellknownResponseObject, error) {
	return clientserver.GetWellknown200JSONResponse(discovery(ctx)), nil
}

// discovery tells clients where the server is.
func discovery(ctx context.Context) clientserver.DiscoveryInformation {
	return clientserver.DiscoveryInformation{MHomeserver: clientserver.HomeserverInformation{BaseURL: exchangeOf(ctx).baseURL()}}
}

func (h handlers) GetAuthMetadata(ctx context.Context, _ clientserver.GetAuthMetadataRequestObject) (clientserver.GetAuthMetadataResponseObject, error) {
	o := oauthOf(ctx)
	if o == nil {
		return nil, errorf(http.StatusNotFound, "M_UNRECOGNIZED", "This server does not offer the OAuth 2.0 API")
	}
	return o.metadata(exchangeOf(ctx).baseURL()), nil
}

// errLegacyOff answers the legacy login API on a server that has turned it
// off in favour of OAuth 2.0.
var errLegacyOff = errorf(http.StatusNotFound, "M_UNRECOGNIZED", "This server logs clients in through OAuth 2.0 only: see GET "+authMetadataStable)

// legacyOff reports whether the legacy login API is off for the request.
func legacyOff(ctx context.Context) bool { return exchangeOf(ctx).world.legacyOff }

// refuseOAuthSession refuses a UIA endpoint to a session made through
// OAuth 2.0, which has no password stage to offer (the spec warns that such
// endpoints cannot be used with these tokens): what says what the caller
// cannot do, and the answer names the account management page with action
// (a stable name) on device, where the user can do it instead. Without an
// action the user is told to use OAuth 2.0 itself.
func refuseOAuthSession(ctx context.Context, what, action, device string) error {
	ex := exchangeOf(ctx)
	if !ex.principal.ViaOAuth {
		return nil
	}
	msg := "Sessions made through OAuth 2.0 cannot " + what + " with user-interactive auth"
	switch o := ex.world.oauth; {
	case action == "":
		msg += ": sign the other client in through OAuth 2.0 instead"
	case o != nil:
		msg += ": use the account management page, " + ex.baseURL() + accountURL(o.advertisedAction(action), device)
	}
	return errorf(http.StatusForbidden, "M_FORBIDDEN", msg)
}

// Room versions: the one new rooms get, as the spec recommends since v1.6,
// and the stable ones the server can create.
const defaultRoomVersion = "10"

var stableRoomVersions = []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}

// GetCapabilities answers GET /capabilities for the caller. What needs
// user-interactive auth (a password change, 3PID changes, a login token)
// is off for a session made through OAuth 2.0, which has no password stage;
// password changes are also off when the server turns them off.
func (h handlers) GetCapabilities(ctx context.Context, _ clientserver.GetCapabilitiesRequestObject) (clientserver.GetCapabilitiesResponseObject, error) {
	ex := exchangeOf(ctx)
	uia := !ex.principal.ViaOAuth
	on := func(enabled bool) *clientserver.BooleanCapability {
		return &clientserver.BooleanCapability{Enabled: enabled}
	}
	caps := clientserver.GetCapabilities200JSONResponseBody_Capabilities{
		MChangePassword: on(uia && !ex.world.noPasswordChanges),
		M3PidChanges:    on(uia),
		MGetLoginToken:  on(uia),
		MSetDisplayname: on(true),
		MSetAvatarURL:   on(true),
	}
	caps.MRoomVersions = &struct {
		Available map[string]clientserver.GetCapabilities200JSONResponseBodyCapabilitiesMRoomVersionsAvailable `json:"available"`
		Default   string                                                                                       `json:"default"`
	}{Default: defaultRoomVersion, Available: map[string]clientserver.GetCapabilities200JSONResponseBodyCapabilitiesMRoomVersionsAvailable{}}
	for _, v := range stableRoomVersions {
		caps.MRoomVersions.Available[v] = clientserver.Stable
	}
	return clientserver.GetCapabilities200JSONResponse{Capabilities: caps}, nil
}

func (h handlers) GetLoginFlows(ctx context.Context, _ clientserver.GetLoginFlowsRequestObject) (clientserver.GetLoginFlowsResponseObject, error) {
	var resp clientserver.GetLoginFlows200JSONResponse
	flows := make([]struct {
		GetLoginToken *bool  `json:"get_login_token,omitempty"`
		Type          string `json:"type"`
	}, 2)
	flows[0].Type = loginPassword
	flows[1].Type, flows[1].GetLoginToken = loginToken, ptr(true)
	if legacyOff(ctx) {
		flows = flows[:0]
	}
	resp.Flows = &flows
	return resp, nil
}

func (h handlers) Login(ctx context.Context, req clientserver.LoginRequestObject) (clientserver.LoginResponseObject, error) {
	b := req.Body
	if legacyOff(ctx) {
		return nil, errLegacyOff
	}
	var userID string
	switch b.Type {
	case "":
		return nil, missingParam("type")
	case loginPassword:
		who, err := loginUser(b)
		if err != nil {
			return nil, err
		}
		if b.Password == nil {
			return nil, missingParam("password")
		}
		if userID, err = storeOf(ctx).VerifyPassword(who, *b.Password); err != nil {
			return nil, err
		}
	case loginToken:
		if deref(b.Token) == "" {
			return nil, missingParam("token")
		}
		var err error
		if userID, err = storeOf(ctx).RedeemLoginToken(*b.Token); err != nil {
			return nil, errorf(http.StatusForbidden, "M_FORBIDDEN", "Invalid login token")
		}
	default:
		return nil, errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown login type "+b.Type)
	}
	sess, err := storeOf(ctx).Login(state.LoginRequest{
		UserID:             userID,
		DeviceID:           deref(b.DeviceID),
		InitialDisplayName: deref(b.InitialDeviceDisplayName),
		WithRefresh:        deref(b.RefreshToken),
	})
	if err != nil {
		return nil, err
	}
	a := &loginAnswer{refresh: sess.RefreshToken, serverName: storeOf(ctx).ServerName(), wellKnown: discovery(ctx)}
	a.body = clientserver.Login200JSONResponse{
		UserID: sess.UserID, DeviceID: sess.DeviceID, AccessToken: sess.AccessToken,
		HomeServer: &a.serverName, WellKnown: &a.wellKnown,
	}
	if a.refresh != "" {
		a.body.RefreshToken = &a.refresh
	}
	if sess.ExpiresIn > 0 {
		a.expiresInMs = int(sess.ExpiresIn / time.Millisecond)
		a.body.ExpiresInMs = &a.expiresInMs
	}
	return a, nil
}

// loginAnswer is a login's answer, the generated Login200JSONResponse, sent
// as its own Visit method would send it. As for tokenOwnerAnswer, the
// values its pointers point to live in the same struct, and writeAnswer
// encodes it without the generated json.Encoder and bytes.Buffer.
type loginAnswer struct {
	body        clientserver.Login200JSONResponse
	refresh     string
	expiresInMs int
	serverName  string
	wellKnown   clientserver.DiscoveryInformation
}

func (a *loginAnswer) VisitLoginResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
}

// loginUser returns who a password login names: the m.id.user identifier,
// or the deprecated top-level user field.
func loginUser(b *clientserver.LoginJSONRequestBody) (string, error) {
	if b.Identifier == nil {
		if deref(b.User) == "" {
			return "", missingParam("identifier")
		}
		return *b.User, nil
	}
	switch b.Identifier.Type {
	case idUser:
		user, _ := b.Identifier.AdditionalProperties["user"].(string)
		if user == "" {
			return "", missingParam("identifier.user")
		}
		return user, nil
	case "m.id.thirdparty", "m.id.phone":
		return "", errorf(http.StatusForbidden, "M_FORBIDDEN", "No account has this third-party identifier")
	case "":
		return "", missingParam("identifier.type")
	}
	return "", errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown identifier type "+b.Identifier.Type)
}

// GenerateLoginToken answers POST /login/get_token after the
// m.login.password stage, every time: the spec says servers always
// re-prompt here, as the token makes a second session.
func (h handlers) GenerateLoginToken(ctx context.Context, req clientserver.GenerateLoginTokenRequestObject) (clientserver.GenerateLoginTokenResponseObject, error) {
	if err := refuseOAuthSession(ctx, "get a login token", "", ""); err != nil {
		return nil, err
	}
	var auth *clientserver.AuthenticationData
	if req.Body != nil {
		auth = req.Body.Auth
	}
	challenge, err := passwordUIA(ctx, auth, "get_token", "")
	if err != nil || challenge != nil {
		return clientserver.GenerateLoginToken401JSONResponse(deref(challenge)), err
	}
	token, lifetime := storeOf(ctx).NewLoginToken(exchangeOf(ctx).principal.UserID)
	return clientserver.GenerateLoginToken200JSONResponse{LoginToken: token, ExpiresInMs: int(lifetime / time.Millisecond)}, nil
}

func (h handlers) GetTokenOwner(ctx context.Context, _ clientserver.GetTokenOwnerRequestObject) (clientserver.GetTokenOwnerResponseObject, error) {
	p := exchangeOf(ctx).principal
	a := &tokenOwnerAnswer{deviceID: p.DeviceID, isGuest: p.IsGuest}
	a.body = clientserver.GetTokenOwner200JSONResponse{UserID: p.UserID, DeviceID: &a.deviceID, IsGuest: &a.isGuest}
	return a, nil
}

// tokenOwnerAnswer is whoami's answer, the generated
// GetTokenOwner200JSONResponse, sent as its own Visit method would send it.
// whoami does so little else that the answer is a large share of its cost:
// this one takes two allocations (itself and the encoded bytes) where the
// generated one takes seven, because the values the body's pointers point
// to live in the same struct and writeAnswer encodes it without the
// generated json.Encoder and bytes.Buffer.
type tokenOwnerAnswer struct {
	body     clientserver.GetTokenOwner200JSONResponse
	deviceID string
	isGuest  bool
}

func (a *tokenOwnerAnswer) VisitGetTokenOwnerResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
}

func (h handlers) Refresh(ctx context.Context, req clientserver.RefreshRequestObject) (clientserver.RefreshResponseObject, error) {
	if legacyOff(ctx) {
		return nil, errLegacyOff
	}
	if req.Body.RefreshToken == "" {
		return nil, missingParam("refresh_token")
	}
	if who, ok := storeOf(ctx).RefreshOwner(req.Body.RefreshToken); ok && who.ViaOAuth {
		return nil, errOAuthRefresh
	}
	sess, err := storeOf(ctx).Refresh(req.Body.RefreshToken)
	var te *state.TokenError
	if errors.As(err, &te) && exchangeOf(ctx).world.synapseRefresh && (te.Cause == state.CauseExpired || te.Cause == state.CauseRevoked) {
		return nil, errorf(http.StatusForbidden, "M_FORBIDDEN", te.Reason) // as Synapse answers
	}
	if err != nil {
		return nil, err
	}
	a := &refreshAnswer{refresh: sess.RefreshToken}
	a.body.AccessToken = sess.AccessToken
	if a.refresh != "" {
		a.body.RefreshToken = &a.refresh
	}
	if sess.ExpiresIn > 0 {
		a.expiresInMs = int(sess.ExpiresIn / time.Millisecond)
		a.body.ExpiresInMs = &a.expiresInMs
	}
	return a, nil
}

// errOAuthRefresh answers POST /refresh with a refresh token issued by the
// OAuth 2.0 token endpoint: such sessions refresh there only, where the
// token is bound to its client. A token keeps the API it was issued through
// for its whole life (a new login on the device ends it), so checking before
// the refresh is enough.
var errOAuthRefresh = &matrixError{
	status: http.StatusUnauthorized, Errcode: "M_UNKNOWN_TOKEN", SoftLogout: ptr(false),
	Message: "This refresh token was issued through OAuth 2.0: refresh it at the token endpoint",
}

// refreshAnswer is a refresh's answer, the generated
// Refresh200JSONResponse, sent as loginAnswer is.
type refreshAnswer struct {
	body        clientserver.Refresh200JSONResponse
	refresh     string
	expiresInMs int
}

func (a *refreshAnswer) VisitRefreshResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusOK, &a.body)
}

func (h handlers) Logout(ctx context.Context, _ clientserver.LogoutRequestObject) (clientserver.LogoutResponseObject, error) {
	if _, err := storeOf(ctx).Logout(exchangeOf(ctx).token); err != nil {
		return nil, err
	}
	return clientserver.Logout200JSONResponse{}, nil
}

func (h handlers) LogoutAll(ctx context.Context, _ clientserver.LogoutAllRequestObject) (clientserver.LogoutAllResponseObject, error) {
	if err := storeOf(ctx).LogoutAll(exchangeOf(ctx).principal.UserID); err != nil {
		return nil, err
	}
	return clientserver.LogoutAll200JSONResponse{}, nil
}

func (h handlers) GetDevices(ctx context.Context, _ clientserver.GetDevicesRequestObject) (clientserver.GetDevicesResponseObject, error) {
	devices := storeOf(ctx).Devices(exchangeOf(ctx).principal.UserID)
	out := make([]clientserver.Device, len(devices))
	for i, d := range devices {
		out[i] = apiDevice(d)
	}
	return clientserver.GetDevices200JSONResponse{Devices: &out}, nil
}

// apiDevice is d as the device endpoints show it.
func apiDevice(d state.Device) clientserver.Device {
	out := clientserver.Device{DeviceID: d.ID, DisplayName: optional(d.DisplayName), LastSeenIP: optional(d.LastSeenIP)}
	if !d.LastSeenTS.IsZero() {
		out.LastSeenTS = ptr(d.LastSeenTS.UnixMilli())
	}
	return out
}

func (h handlers) GetDevice(ctx context.Context, req clientserver.GetDeviceRequestObject) (clientserver.GetDeviceResponseObject, error) {
	d, err := storeOf(ctx).Device(exchangeOf(ctx).principal.UserID, req.DeviceID)
	if err != nil {
		return nil, err
	}
	return clientserver.GetDevice200JSONResponse(apiDevice(d)), nil
}

func (h handlers) UpdateDevice(ctx context.Context, req clientserver.UpdateDeviceRequestObject) (clientserver.UpdateDeviceResponseObject, error) {
	user := exchangeOf(ctx).principal.UserID
	d, err := storeOf(ctx).Device(user, req.DeviceID)
	if err != nil {
		return nil, err
	}
	if req.Body.DisplayName != nil && *req.Body.DisplayName != d.DisplayName {
		if err := storeOf(ctx).UpdateDevice(user, req.DeviceID, *req.Body.DisplayName); err != nil {
			return nil, err
		}
	}
	return clientserver.UpdateDevice200JSONResponse{}, nil
}

func (h handlers) DeleteDevice(ctx context.Context, req clientserver.DeleteDeviceRequestObject) (clientserver.DeleteDeviceResponseObject, error) {
	user := exchangeOf(ctx).principal.UserID
	if _, err := storeOf(ctx).Device(user, req.DeviceID); err != nil {
		return nil, err
	}
	if err := refuseOAuthSession(ctx, "delete devices", actionDeviceDelete, req.DeviceID); err != nil {
		return nil, err
	}
	challenge, err := passwordUIA(ctx, req.Body.Auth, "delete_devices", "")
	if err != nil || challenge != nil {
		return clientserver.DeleteDevice401JSONResponse(deref(challenge)), err
	}
	if err := storeOf(ctx).DeleteDevice(user, req.DeviceID); err != nil {
		return nil, err
	}
	return clientserver.DeleteDevice200JSONResponse{}, nil
}

func (h handlers) DeleteDevices(ctx context.Context, req clientserver.DeleteDevicesRequestObject) (clientserver.DeleteDevicesResponseObject, error) {
	if req.Body.Devices == nil {
		return nil, missingParam("devices")
	}
	if err := refuseOAuthSession(ctx, "delete devices", actionDevicesList, ""); err != nil {
		return nil, err
	}
	challenge, err := passwordUIA(ctx, req.Body.Auth, "delete_devices", deviceSet(req.Body.Devices))
	if err != nil || challenge != nil {
		return clientserver.DeleteDevices401JSONResponse(deref(challenge)), err
	}
	user := exchangeOf(ctx).principal.UserID
	for _, id := range req.Body.Devices {
		// Devices that do not exist are skipped, as the spec allows.
		_ = storeOf(ctx).DeleteDevice(user, id)
	}
	return clientserver.DeleteDevices200JSONResponse{}, nil
}

// deviceSet is the fingerprint of a list of device IDs for a UIA session:
// the same set of devices, in any order, gives the same fingerprint.
func deviceSet(ids []string) string {
	set := slices.Compact(slices.Sorted(slices.Values(ids)))
	b, _ := json.Marshal(set) // a []string always encodes
	return string(b)
}

func (h handlers) CheckUsernameAvailability(ctx context.Context, req clientserver.CheckUsernameAvailabilityRequestObject) (clientserver.CheckUsernameAvailabilityResponseObject, error) {
	if err := storeOf(ctx).UsernameAvailable(req.Params.Username); err != nil {
		return nil, err
	}
	return clientserver.CheckUsernameAvailability200JSONResponse{Available: ptr(true)}, nil
}

func (h handlers) RequestTokenToRegisterEmail(context.Context, clientserver.RequestTokenToRegisterEmailRequestObject) (clientserver.RequestTokenToRegisterEmailResponseObject, error) {
	return nil, errThreepidDenied
}

func (h handlers) RequestTokenToRegisterMSISDN(context.Context, clientserver.RequestTokenToRegisterMSISDNRequestObject) (clientserver.RequestTokenToRegisterMSISDNResponseObject, error) {
	return nil, errThreepidDenied
}

// errThreepidDenied answers requests to validate an email address or phone
// number: the mock sends neither mail nor text messages.
var errThreepidDenied = errorf(http.StatusForbidden, "M_THREEPID_DENIED", "This server does not validate email addresses or phone numbers")
