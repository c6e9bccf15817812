package api

import (
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
func challenge(st *state.Store, session, stage string, failure *Error) *clientserver.AuthenticationResponse {
	resp := &clientserver.AuthenticationResponse{
		Flows:   []clientserver.AuthenticationResponseFlowsItem{{Stages: []string{stage}}},
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

// uiaRequest is the exchange's request as a UIA session binds it, with
// fingerprint standing for what its body acts on ("" for nothing).
func uiaRequest(x *Exchange, fingerprint string) state.UIARequest {
	return state.UIARequest{Method: x.req.Method, Path: x.Path, Fingerprint: fingerprint}
}

// errUnknownStage answers a UIA stage that no flow offers.
func errUnknownStage(stage string) *Error {
	return Errorf(http.StatusBadRequest, "M_UNRECOGNIZED", "Unrecognised authentication stage "+stage)
}

// passwordUIA runs user-interactive auth with the m.login.password stage,
// bound to the request with fingerprint (see uiaRequest), for the caller
// or, on an endpoint whose access token is optional and was not given, for
// whoever the stage's identifier names. It returns the authenticated user
// once the stage is done (the session is then over), else a challenge to
// send, or an error. A wrong password keeps the session.
func passwordUIA(x *Exchange, auth *clientserver.AuthenticationData, purpose, fingerprint string) (user string, _ *clientserver.AuthenticationResponse, _ error) {
	st, caller, req := x.Store(), x.Principal.UserID, uiaRequest(x, fingerprint)
	if auth == nil {
		return "", challenge(st, st.StartUIA(purpose, caller, req), loginPassword, nil), nil
	}
	session, err := uiaSession(st, auth, purpose, caller, req)
	if err != nil {
		return "", nil, err
	}
	switch deref(auth.Type) {
	case "":
		return "", challenge(st, session, loginPassword, nil), nil
	case loginPassword:
	default:
		return "", nil, errUnknownStage(*auth.Type)
	}
	user, failure := checkUIAPassword(x, auth, caller)
	switch {
	case failure == errUIAPassword:
		return "", challenge(st, session, loginPassword, failure), nil
	case failure != nil: // too many attempts, a deactivated account
		return "", nil, failure
	}
	st.EndUIASession(session)
	return user, nil, nil
}

// errUIAPassword is the failure of an m.login.password stage, answered in
// a challenge that keeps the session.
var errUIAPassword = Errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")

// checkUIAPassword checks an m.login.password stage and returns the user
// it authenticates: the one its identifier (or legacy user field) names,
// matched as a login matches it, which must be the caller when there is
// one (an absent identifier then stands for the caller); the password must
// be theirs, under the limits on failed attempts (see checkPassword).
func checkUIAPassword(x *Exchange, auth *clientserver.AuthenticationData, caller string) (string, *Error) {
	password, _ := auth.AdditionalProperties["password"].(string)
	named := caller
	if id, ok := auth.AdditionalProperties["identifier"].(map[string]any); ok {
		named, _ = id["user"].(string)
	} else if u, ok := auth.AdditionalProperties["user"].(string); ok {
		named = u
	}
	if password == "" || named == "" {
		return "", errUIAPassword
	}
	user, failure := checkPassword(x, named, password, errUIAPassword)
	switch {
	case failure != nil:
		return "", failure
	case caller != "" && user != caller:
		return "", errUIAPassword
	}
	return user, nil
}
