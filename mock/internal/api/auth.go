package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/limit"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Handlers implements the generated strict server interfaces of the
// client-server API and the OAuth 2.0 API. Each method is one operation,
// in the file of its area; it takes its request's Exchange from ctx once
// (From) and works on what it holds. Successful answers are the generated
// response types; errors are returned as errors and sent by the router's
// error handler as Matrix JSON. The operations no file defines yet are
// answered by the embedded CannedServer: a fixed answer built from the spec,
// marked with the operation.CannedHeader header, behind the same guard,
// rules and journal as every other operation.
type Handlers struct {
	clientserver.CannedServer
}

var (
	_ clientserver.StrictServerInterface = Handlers{}
	_ oauth2.StrictServerInterface       = Handlers{}
)

// Authentication: login, refresh, logout, whoami, login tokens.

// Login types and stages.
const (
	loginPassword = "m.login.password"
	loginToken    = "m.login.token"
	loginDummy    = "m.login.dummy"
	idUser        = "m.id.user"
)

// errLegacyOff answers the legacy login API on a server that has turned it
// off in favour of OAuth 2.0.
var errLegacyOff = Errorf(http.StatusNotFound, "M_UNRECOGNIZED", "This server logs clients in through OAuth 2.0 only: see GET "+AuthMetadataStable)

// checkPassword checks a password for user, counting a wrong one against
// the user and the client's address (world.Attempts): wrong is the answer
// then, and once either has failed too often, every attempt is answered
// 429 M_LIMIT_EXCEEDED until the window ends.
func checkPassword(x *Exchange, user, password string, wrong *Error) *Error {
	st := x.Store()
	keys := limit.Keys(x.req.RemoteAddr, st.UserID(user))
	if wait := x.World.Attempts.Wait(keys...); wait > 0 {
		e := Errorf(http.StatusTooManyRequests, "M_LIMIT_EXCEEDED", "Too many failed attempts; try again later")
		e.RetryAfterMs = wait.Milliseconds()
		return e
	}
	if st.CheckPassword(user, password) != nil {
		x.World.Attempts.Fail(keys...)
		return wrong
	}
	return nil
}

// GetLoginFlows lists the login types. A server that logs clients in
// through OAuth 2.0 only answers 404 M_UNRECOGNIZED, as the spec's
// discovery of the authentication API says.
func (Handlers) GetLoginFlows(ctx context.Context, _ clientserver.GetLoginFlowsRequestObject) (clientserver.GetLoginFlowsResponseObject, error) {
	if From(ctx).World.LegacyOff {
		return nil, errLegacyOff
	}
	var resp clientserver.GetLoginFlows200JSONResponse
	flows := make([]clientserver.GetLoginFlowsResponseFlowsItem, 2)
	flows[0].Type = loginPassword
	flows[1].Type, flows[1].GetLoginToken = loginToken, new(true)
	resp.Flows = &flows
	return resp, nil
}

func (Handlers) Login(ctx context.Context, req clientserver.LoginRequestObject) (clientserver.LoginResponseObject, error) {
	x, b := From(ctx), req.Body
	if x.World.LegacyOff {
		return nil, errLegacyOff
	}
	st := x.Store()
	var userID string
	switch b.Type {
	case "":
		return nil, MissingParam("type")
	case loginPassword:
		who, err := loginUser(b)
		if err != nil {
			return nil, err
		}
		if b.Password == nil {
			return nil, MissingParam("password")
		}
		if e := checkPassword(x, who, *b.Password, errForbidden); e != nil {
			return nil, e
		}
		userID = st.UserID(who)
	case loginToken:
		if deref(b.Token) == "" {
			return nil, MissingParam("token")
		}
		var err error
		if userID, err = st.RedeemLoginToken(*b.Token); err != nil {
			return nil, Errorf(http.StatusForbidden, "M_FORBIDDEN", "Invalid login token")
		}
	default:
		return nil, Errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown login type "+b.Type)
	}
	sess, err := st.Login(loginRequest(userID, b.DeviceID, b.InitialDeviceDisplayName, b.RefreshToken))
	if err != nil {
		return nil, err
	}
	a := &loginAnswer{serverName: st.ServerName(), wellKnown: discovery(x)}
	a.body = clientserver.Login200JSONResponse{
		UserID: sess.UserID, DeviceID: sess.DeviceID, AccessToken: sess.AccessToken,
		HomeServer: &a.serverName, WellKnown: &a.wellKnown,
	}
	a.body.RefreshToken, a.body.ExpiresInMs = a.tokens.of(sess)
	return a, nil
}

// loginRequest is a login on the device a client asked for (nil: a new
// one), with a refresh token if it asked for one.
func loginRequest(user string, device, displayName *string, refresh *bool) state.LoginRequest {
	return state.LoginRequest{UserID: user, DeviceID: deref(device), InitialDisplayName: deref(displayName), WithRefresh: deref(refresh)}
}

// loginUser returns who a password login names: the m.id.user identifier,
// or the deprecated top-level user field.
func loginUser(b *clientserver.LoginJSONRequestBody) (string, error) {
	if b.Identifier == nil {
		if deref(b.User) == "" {
			return "", MissingParam("identifier")
		}
		return *b.User, nil
	}
	switch b.Identifier.Type {
	case idUser:
		user, _ := b.Identifier.AdditionalProperties["user"].(string)
		if user == "" {
			return "", MissingParam("identifier.user")
		}
		return user, nil
	case "m.id.thirdparty", "m.id.phone":
		return "", Errorf(http.StatusForbidden, "M_FORBIDDEN", "No account has this third-party identifier")
	case "":
		return "", MissingParam("identifier.type")
	}
	return "", Errorf(http.StatusBadRequest, "M_UNKNOWN", "Unknown identifier type "+b.Identifier.Type)
}

func (Handlers) GenerateLoginToken(ctx context.Context, _ clientserver.GenerateLoginTokenRequestObject) (clientserver.GenerateLoginTokenResponseObject, error) {
	x := From(ctx)
	token, lifetime := x.Store().NewLoginToken(x.Principal.UserID)
	return clientserver.GenerateLoginToken200JSONResponse{LoginToken: token, ExpiresInMs: int(lifetime / time.Millisecond)}, nil
}

func (Handlers) GetTokenOwner(ctx context.Context, _ clientserver.GetTokenOwnerRequestObject) (clientserver.GetTokenOwnerResponseObject, error) {
	p := From(ctx).Principal
	a := &tokenOwnerAnswer{deviceID: p.DeviceID, isGuest: p.IsGuest}
	a.body = clientserver.GetTokenOwner200JSONResponse{UserID: p.UserID, DeviceID: &a.deviceID, IsGuest: &a.isGuest}
	return a, nil
}

func (Handlers) Refresh(ctx context.Context, req clientserver.RefreshRequestObject) (clientserver.RefreshResponseObject, error) {
	x := From(ctx)
	if x.World.LegacyOff {
		return nil, errLegacyOff
	}
	if req.Body.RefreshToken == "" {
		return nil, MissingParam("refresh_token")
	}
	// Who refreshes, for the journal and the log, also when it fails.
	x.carryRefresh(req.Body.RefreshToken)
	sess, err := x.Store().Refresh(req.Body.RefreshToken)
	var te *state.TokenError
	if errors.As(err, &te) && x.World.SynapseRefresh && (te.Cause == state.CauseExpired || te.Cause == state.CauseRevoked) {
		return nil, Errorf(http.StatusForbidden, "M_FORBIDDEN", te.Reason) // as Synapse answers
	}
	if err != nil {
		return nil, err
	}
	a := &refreshAnswer{}
	a.body.AccessToken = sess.AccessToken
	a.body.RefreshToken, a.body.ExpiresInMs = a.tokens.of(sess)
	return a, nil
}

func (Handlers) Logout(ctx context.Context, _ clientserver.LogoutRequestObject) (clientserver.LogoutResponseObject, error) {
	x := From(ctx)
	if _, err := x.Store().Logout(x.Token); err != nil {
		return nil, err
	}
	return clientserver.Logout200JSONResponse{}, nil
}

func (Handlers) LogoutAll(ctx context.Context, _ clientserver.LogoutAllRequestObject) (clientserver.LogoutAllResponseObject, error) {
	x := From(ctx)
	if err := x.Store().LogoutAll(x.Principal.UserID); err != nil {
		return nil, err
	}
	return clientserver.LogoutAll200JSONResponse{}, nil
}

// millis returns d in whole milliseconds, or nil for 0 (never expires).
func millis(d time.Duration) *int {
	if d <= 0 {
		return nil
	}
	return new(int(d / time.Millisecond))
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
