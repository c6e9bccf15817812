package mock

import (
	"context"
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// A UIA session is bound to what it authorises: a session started for one
// purpose (and, for a logged-in caller, one user) does not complete
// another, and a later stage must come with the request the session was
// started for (method, path and, where the body names what to act on, a
// fingerprint of it), as the spec requires.

// challenge is the 401 answer that asks for stage (the only flow) in the
// session, with what it has completed and, after a failed attempt, why.
func challenge(st *state.Store, session, stage string, failure *matrixError) *clientserver.AuthenticationResponse {
	resp := &clientserver.AuthenticationResponse{
		Flows: []struct {
			Stages []string `json:"stages"`
		}{{Stages: []string{stage}}},
		Params:  &map[string]map[string]any{},
		Session: &session,
	}
	if done := st.CompletedStages(session); len(done) > 0 {
		resp.Completed = &done
	}
	if failure != nil {
		resp.Errcode, resp.Error = &failure.Errcode, &failure.Message
	}
	return resp
}

// uiaSession returns the session auth refers to, started for purpose, user
// and req: a new one when auth names none. An unknown or expired session,
// or one started for something else, is an error.
func uiaSession(st *state.Store, auth *clientserver.AuthenticationData, purpose, user string, req state.UIARequest) (string, error) {
	id := deref(auth.Session)
	if id == "" {
		return st.StartUIA(purpose, user, req), nil
	}
	if err := st.ResumeUIA(id, purpose, user, req); err != nil {
		return "", err
	}
	return id, nil
}

// uiaRequest is the request of ctx as a UIA session binds it, with
// fingerprint standing for what its body acts on ("" for nothing).
func uiaRequest(ctx context.Context, fingerprint string) state.UIARequest {
	ex := exchangeOf(ctx)
	return state.UIARequest{Method: ex.req.Method, Path: ex.path, Fingerprint: fingerprint}
}

// errUnknownStage answers a UIA stage that no flow offers.
func errUnknownStage(stage string) *matrixError {
	return errorf(http.StatusBadRequest, "M_UNRECOGNIZED", "Unrecognised authentication stage "+stage)
}

// passwordUIA runs user-interactive auth with the m.login.password stage
// for the logged-in caller, bound to the request with fingerprint (see
// uiaRequest). It returns a challenge to send while the stage is not done,
// nil once it is (the session is then over), or an error. A wrong password
// keeps the session.
func passwordUIA(ctx context.Context, auth *clientserver.AuthenticationData, purpose, fingerprint string) (*clientserver.AuthenticationResponse, error) {
	st, user, req := storeOf(ctx), exchangeOf(ctx).principal.UserID, uiaRequest(ctx, fingerprint)
	if auth == nil {
		return challenge(st, st.StartUIA(purpose, user, req), loginPassword, nil), nil
	}
	session, err := uiaSession(st, auth, purpose, user, req)
	if err != nil {
		return nil, err
	}
	switch deref(auth.Type) {
	case "":
		return challenge(st, session, loginPassword, nil), nil
	case loginPassword:
	default:
		return nil, errUnknownStage(*auth.Type)
	}
	if failure := checkUIAPassword(st, auth, user); failure != nil {
		return challenge(st, session, loginPassword, failure), nil
	}
	st.EndUIASession(session)
	return nil, nil
}

// checkUIAPassword checks an m.login.password stage for user: the
// identifier (or legacy user field), when given, must name user, and the
// password must be theirs.
func checkUIAPassword(st *state.Store, auth *clientserver.AuthenticationData, user string) *matrixError {
	password, _ := auth.AdditionalProperties["password"].(string)
	named := user
	if id, ok := auth.AdditionalProperties["identifier"].(map[string]any); ok {
		named, _ = id["user"].(string)
	} else if u, ok := auth.AdditionalProperties["user"].(string); ok {
		named = u
	}
	if password == "" || st.UserID(named) != user {
		return errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")
	}
	if err := st.CheckPassword(user, password); err != nil {
		return errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")
	}
	return nil
}

// Register answers POST /register. Guests register at once (when allowed);
// users after the m.login.dummy stage, as on Synapse with open registration.
// The username is checked before any UIA, so a taken name fails at once.
func (h handlers) Register(ctx context.Context, req clientserver.RegisterRequestObject) (clientserver.RegisterResponseObject, error) {
	st, b := storeOf(ctx), req.Body
	if legacyOff(ctx) {
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
		return nil, errorf(http.StatusBadRequest, "M_INVALID_PARAM", "kind must be user or guest")
	}
	localpart := deref(b.Username)
	if localpart != "" {
		if err := st.UsernameAvailable(localpart); err != nil {
			return nil, err
		}
	}
	// As on Synapse, the flows come first: POST /register with {} is how a
	// client discovers them. The password is needed once the stage is done.
	bound := uiaRequest(ctx, "")
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
		return nil, missingParam("password") // the session stays for a retry with one
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
	resp := clientserver.Register200JSONResponse{UserID: user, HomeServer: ptr(st.ServerName())}
	if deref(b.InhibitLogin) {
		return resp, nil
	}
	sess, err := st.Login(state.LoginRequest{
		UserID:             user,
		DeviceID:           deref(b.DeviceID),
		InitialDisplayName: deref(b.InitialDeviceDisplayName),
		WithRefresh:        deref(b.RefreshToken),
	})
	if err != nil {
		return nil, err
	}
	resp.AccessToken, resp.DeviceID = &sess.AccessToken, &sess.DeviceID
	resp.RefreshToken, resp.ExpiresInMs = optional(sess.RefreshToken), millis(sess.ExpiresIn)
	return resp, nil
}
