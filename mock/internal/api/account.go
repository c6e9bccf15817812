package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Accounts: registration, username availability, third-party identifiers.

// Register answers POST /register. Guests register at once (when allowed);
// users after the m.login.dummy stage, as on Synapse with open registration.
// The username is checked before any UIA, so a taken name fails at once.
func (Handlers) Register(ctx context.Context, req clientserver.RegisterRequestObject) (clientserver.RegisterResponseObject, error) {
	x, b := From(ctx), req.Body
	st := x.Store()
	if x.World.LegacyOff {
		return nil, errLegacyOff
	}
	if req.Params.Kind != nil && *req.Params.Kind == clientserver.Guest {
		user, err := st.Register("", "", true)
		if err != nil {
			return nil, err
		}
		return registered(st, user, b)
	}
	if req.Params.Kind != nil && !req.Params.Kind.Valid() {
		return nil, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "kind must be user or guest")
	}
	localpart := deref(b.Username)
	if localpart != "" {
		if err := st.UsernameAvailable(localpart); err != nil {
			return nil, err
		}
	}
	// As on Synapse, the flows come first: POST /register with {} is how a
	// client discovers them. The password is needed once the stage is done.
	bound := uiaRequest(x, "")
	if b.Auth == nil {
		return clientserver.Register401JSONResponse(*challenge(st, st.StartUIA("register", "", bound), loginDummy, nil)), nil
	}
	session, err := uiaSession(st, b.Auth, "register", "", bound)
	if err != nil {
		return nil, err
	}
	switch deref(b.Auth.Type) {
	case "":
		return clientserver.Register401JSONResponse(*challenge(st, session, loginDummy, nil)), nil
	case loginDummy:
	default:
		return nil, errUnknownStage(*b.Auth.Type)
	}
	if deref(b.Password) == "" {
		return nil, MissingParam("password") // the session stays for a retry with one
	}
	st.EndUIASession(session)
	var user string
	for {
		if localpart == "" {
			localpart = st.NewLocalpart()
		}
		user, err = st.Register(localpart, *b.Password, false)
		if !errors.Is(err, state.ErrUserInUse) || b.Username != nil {
			break
		}
		localpart = "" // a generated name was taken meanwhile: pick another
	}
	if err != nil {
		return nil, err
	}
	return registered(st, user, b)
}

// registered answers a successful registration: the user ID, and a login on
// a new device unless inhibit_login.
func registered(st *state.Store, user string, b *clientserver.RegisterJSONRequestBody) (clientserver.RegisterResponseObject, error) {
	resp := clientserver.Register200JSONResponse{UserID: user, HomeServer: new(st.ServerName())}
	if deref(b.InhibitLogin) {
		return resp, nil
	}
	sess, err := st.Login(loginRequest(user, b.DeviceID, b.InitialDeviceDisplayName, b.RefreshToken))
	if err != nil {
		return nil, err
	}
	resp.AccessToken, resp.DeviceID = &sess.AccessToken, &sess.DeviceID
	resp.RefreshToken, resp.ExpiresInMs = optional(sess.RefreshToken), millis(sess.ExpiresIn)
	return resp, nil
}

func (Handlers) CheckUsernameAvailability(ctx context.Context, req clientserver.CheckUsernameAvailabilityRequestObject) (clientserver.CheckUsernameAvailabilityResponseObject, error) {
	if err := From(ctx).Store().UsernameAvailable(req.Params.Username); err != nil {
		return nil, err
	}
	return clientserver.CheckUsernameAvailability200JSONResponse{Available: new(true)}, nil
}

func (Handlers) RequestTokenToRegisterEmail(context.Context, clientserver.RequestTokenToRegisterEmailRequestObject) (clientserver.RequestTokenToRegisterEmailResponseObject, error) {
	return nil, errThreepidDenied
}

func (Handlers) RequestTokenToRegisterMSISDN(context.Context, clientserver.RequestTokenToRegisterMSISDNRequestObject) (clientserver.RequestTokenToRegisterMSISDNResponseObject, error) {
	return nil, errThreepidDenied
}

// errThreepidDenied answers requests to validate an email address or phone
// number: the mock sends neither mail nor text messages.
var errThreepidDenied = Errorf(http.StatusForbidden, "M_THREEPID_DENIED", "This server does not validate email addresses or phone numbers")
