package api

import (
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// A UIA session is bound to what it authorises: a session started for one
// purpose (and, for a logged-in caller, one user) does not complete another.

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

// uiaSession returns the session auth refers to, started for purpose and
// user: a new one when auth names none. An unknown or expired session, or
// one started for something else, is an error.
func uiaSession(st *state.Store, auth *clientserver.AuthenticationData, purpose, user string) (string, error) {
	id := deref(auth.Session)
	if id == "" {
		return st.NewUIASession(purpose, user), nil
	}
	sess, err := st.UIASession(id)
	if err != nil {
		return "", err
	}
	if sess.Purpose != purpose || sess.UserID != user {
		return "", state.ErrUnknownUIASession
	}
	return id, nil
}

// errUnknownStage answers a UIA stage that no flow offers.
func errUnknownStage(stage string) *Error {
	return Errorf(http.StatusBadRequest, "M_UNRECOGNIZED", "Unrecognised authentication stage "+stage)
}

// passwordUIA runs user-interactive auth with the m.login.password stage
// for the logged-in caller. It returns a challenge to send while the stage
// is not done, nil once it is (the session is then over), or an error.
func passwordUIA(x *Exchange, auth *clientserver.AuthenticationData, purpose string) (*clientserver.AuthenticationResponse, error) {
	st, user := x.Store(), x.Principal.UserID
	if auth == nil {
		return challenge(st, st.NewUIASession(purpose, user), loginPassword, nil), nil
	}
	session, err := uiaSession(st, auth, purpose, user)
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
	if failure := checkUIAPassword(x, auth, user); failure != nil {
		if failure.Status == http.StatusTooManyRequests {
			return nil, failure
		}
		return challenge(st, session, loginPassword, failure), nil
	}
	st.EndUIASession(session)
	return nil, nil
}

// checkUIAPassword checks an m.login.password stage for user: the
// identifier (or legacy user field), when given, must name user, and the
// password must be theirs, under the limits on failed attempts.
func checkUIAPassword(x *Exchange, auth *clientserver.AuthenticationData, user string) *Error {
	st := x.Store()
	password, _ := auth.AdditionalProperties["password"].(string)
	named := user
	if id, ok := auth.AdditionalProperties["identifier"].(map[string]any); ok {
		named, _ = id["user"].(string)
	} else if u, ok := auth.AdditionalProperties["user"].(string); ok {
		named = u
	}
	if password == "" || st.UserID(named) != user {
		return Errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password")
	}
	return checkPassword(x, user, password, Errorf(http.StatusUnauthorized, "M_FORBIDDEN", "Invalid password"))
}
