package mock

import (
	"context"
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// A UIA session is bound to what it authorises: a session started for one
// purpose (and, for a logged-in caller, one user) does not complete another.

// challenge is the 401 answer that asks for stage (the only flow) in the
// session, with what it has completed and, after a failed attempt, why.
func (s *Server) challenge(session, stage string, failure *matrixError) *clientserver.AuthenticationResponse {
	resp := &clientserver.AuthenticationResponse{
		Flows: []struct {
			Stages []string `json:"stages"`
		}{{Stages: []string{stage}}},
		Params:  &map[string]map[string]any{},
		Session: &session,
	}
	if done := s.store.CompletedStages(session); len(done) > 0 {
		resp.Completed = &done
	}
	if failure != nil {
		resp.Errcode, resp.Error = &failure.Errcode, &failure.Message
	}
	return resp
}

// uiaSession returns the session auth refers to, started for purpose and
// user: a new one when auth names none. An unknown or expired session, or
// one started for something else, is an error.
func (s *Server) uiaSession(auth *clientserver.AuthenticationData, purpose, user string) (string, error) {
	id := deref(auth.Session)
	if id == "" {
		return s.store.NewUIASession(purpose, user), nil
	}
	sess, err := s.store.UIASession(id)
	if err != nil {
		return "", err
	}
	if sess.Purpose != purpose || sess.UserID != user {
		return "", state.ErrUnknownUIASession
	}
	return id, nil
}

// errUnknownStage answers a UIA stage that no flow offers.
func errUnknownStage(stage string) *matrixError {
	return errorf(http.StatusBadRequest, "M_UNRECOGNIZED", "Unrecognised authentication stage "+stage)
}

// passwordUIA runs user-interactive auth with the m.login.password stage
// for the logged-in caller. It returns a challenge to send while the stage
// is not done, nil once it is (the session is then over), or an error.
func (s *Server) passwordUIA(ctx context.Context, auth *clientserver.AuthenticationData, purpose string) (*clientserver.AuthenticationResponse, error) {
	user := exchangeOf(ctx).principal.UserID
	if auth == nil {
		return s.challenge(s.store.NewUIASession(purpose, user), loginPassword, nil), nil
	}
	session, err := s.uiaSession(auth, purpose, user)
	if err != nil {
		return nil, err
	}
	switch deref(auth.Type) {
	case "":
		return s.challenge(session, loginPassword, nil), nil
	case loginPassword:
	default:
		return nil, errUnknownStage(*auth.Type)
	}
	if failure := s.checkUIAPassword(auth, user); failure != nil {
		return s.challenge(session, loginPassword, failure), nil
	}
	s.store.EndUIASession(session)
	return nil, nil
}

// checkUIAPassword checks an m.login.password stage for user: the
// identifier (or legacy user field), when given, must name user, and the
// password must be theirs.
func (s *Server) checkUIAPassword(auth *clientserver.AuthenticationData, user string) *matrixError {
	password, _ := auth.AdditionalProperties["password"].(string)
	named := user
	if id, ok := auth.AdditionalProperties["identifier"].(map[string]any); ok {
		named, _ = id["user"].(string)
	} else if u, ok := auth.AdditionalProperties["user"].(string); ok {
		named = u
	}
	if password == "" || s.store.UserID(named) != user {
		return errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")
	}
	if err := s.store.CheckPassword(user, password); err != nil {
		return errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")
	}
	return nil
}

// Register answers POST /register. Guests register at once (when allowed);
// users after the m.login.dummy stage, as on Synapse with open registration.
// The username is checked before any UIA, so a taken name fails at once.
func (h handlers) Register(ctx context.Context, req clientserver.RegisterRequestObject) (clientserver.RegisterResponseObject, error) {
	s, b := h.s, req.Body
	if req.Params.Kind != nil && *req.Params.Kind == clientserver.Guest {
		user, err := s.store.Register("", "", true)
		if err != nil {
			return nil, err
		}
		return h.registered(user, b)
	}
	if req.Params.Kind != nil && !req.Params.Kind.Valid() {
		return nil, errorf(http.StatusBadRequest, "M_INVALID_PARAM", "kind must be user or guest")
	}
	localpart := deref(b.Username)
	if localpart != "" {
		if err := s.store.UsernameAvailable(localpart); err != nil {
			return nil, err
		}
	}
	if deref(b.Password) == "" {
		return nil, missingParam("password")
	}
	if b.Auth == nil {
		return clientserver.Register401JSONResponse(*s.challenge(s.store.NewUIASession("register", ""), loginDummy, nil)), nil
	}
	session, err := s.uiaSession(b.Auth, "register", "")
	if err != nil {
		return nil, err
	}
	switch deref(b.Auth.Type) {
	case "":
		return clientserver.Register401JSONResponse(*s.challenge(session, loginDummy, nil)), nil
	case loginDummy:
	default:
		return nil, errUnknownStage(*b.Auth.Type)
	}
	s.store.EndUIASession(session)
	var user string
	for {
		if localpart == "" {
			localpart = s.store.NewLocalpart()
		}
		user, err = s.store.Register(localpart, *b.Password, false)
		if !errors.Is(err, state.ErrUserInUse) || b.Username != nil {
			break
		}
		localpart = "" // a generated name was taken meanwhile: pick another
	}
	if err != nil {
		return nil, err
	}
	return h.registered(user, b)
}

// registered answers a successful registration: the user ID, and a login on
// a new device unless inhibit_login.
func (h handlers) registered(user string, b *clientserver.RegisterJSONRequestBody) (clientserver.RegisterResponseObject, error) {
	resp := clientserver.Register200JSONResponse{UserID: user, HomeServer: ptr(h.s.ServerName())}
	if deref(b.InhibitLogin) {
		return resp, nil
	}
	sess, err := h.s.store.Login(state.LoginRequest{
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
