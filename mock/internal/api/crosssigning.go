package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/keys"
	"github.com/mxauth/mxauth/mock/internal/oauth"
)

// Cross-signing keys: the upload, whose replacing form is a cross-signing
// reset and needs user-interactive auth.

// loginOAuth is the UIA stage of a session made through OAuth 2.0: the
// user approves the action on the account management page.
const loginOAuth = "m.oauth"

// UploadCrossSigningKeys answers POST /keys/device_signing/upload. The
// first upload, and one that repeats the stored keys, need no UIA; one that
// replaces them (a cross-signing reset) does: the m.login.password stage
// for a legacy session, and for a session made through OAuth 2.0 the
// m.oauth stage, whose params name the account page where the user
// approves the reset; for ten minutes after that the upload goes through.
func (Handlers) UploadCrossSigningKeys(ctx context.Context, req clientserver.UploadCrossSigningKeysRequestObject) (clientserver.UploadCrossSigningKeysResponseObject, error) {
	x, b := From(ctx), req.Body
	upload, err := crossSigningUpload(b)
	if err != nil {
		return nil, err
	}
	user := x.Principal.UserID
	_, err = x.World.Keys.UploadCrossSigning(user, upload, false)
	if errors.Is(err, keys.ErrReplaceNeedsAuth) {
		var challenge *clientserver.AuthenticationResponse
		if x.Principal.ViaOAuth {
			challenge, err = approvalUIA(x, b.Auth, "cross_signing_reset")
		} else {
			_, challenge, err = passwordUIA(x, b.Auth, "cross_signing_reset", "")
		}
		if err != nil || challenge != nil {
			return uiaChallenge(deref(challenge)), err
		}
		_, err = x.World.Keys.UploadCrossSigning(user, upload, true)
	}
	if err != nil {
		return nil, crossSigningError(err)
	}
	return clientserver.UploadCrossSigningKeys200JSONResponse{}, nil
}

// crossSigningUpload is the body's keys as the key store takes them.
func crossSigningUpload(b *clientserver.UploadCrossSigningKeysRequest) (keys.CrossSigningKeys, error) {
	var out keys.CrossSigningKeys
	for _, k := range []struct {
		key *clientserver.CrossSigningKey
		raw *json.RawMessage
	}{{b.MasterKey, &out.Master}, {b.SelfSigningKey, &out.SelfSigning}, {b.UserSigningKey, &out.UserSigning}} {
		if k.key == nil {
			continue
		}
		raw, err := json.Marshal(k.key)
		if err != nil {
			return out, err
		}
		*k.raw = raw
	}
	return out, nil
}

// crossSigningError is the answer to a refused cross-signing upload.
func crossSigningError(err error) error {
	switch {
	case errors.Is(err, keys.ErrBadJSON):
		return Errorf(http.StatusBadRequest, "M_BAD_JSON", err.Error())
	case errors.Is(err, keys.ErrOwnerMismatch):
		return Errorf(http.StatusBadRequest, "M_INVALID_PARAM", err.Error())
	case errors.Is(err, keys.ErrMissingMasterKey):
		return Errorf(http.StatusBadRequest, "M_MISSING_PARAM", err.Error())
	}
	return err
}

// approvalUIA runs user-interactive auth with the m.oauth stage for a
// session made through OAuth 2.0, for a cross-signing reset: the challenge
// names the account page's org.matrix.cross_signing_reset action, and the
// stage is done once the user approved the reset there. It returns the
// challenge while it is not, nil once it is (the session is then over), or
// an error.
func approvalUIA(x *Exchange, auth *clientserver.AuthenticationData, purpose string) (*clientserver.AuthenticationResponse, error) {
	st, user, req := x.Store(), x.Principal.UserID, uiaRequest(x, "")
	session := ""
	if auth != nil {
		if t := deref(auth.Type); t != "" && t != loginOAuth {
			return nil, errUnknownStage(t)
		}
		if deref(auth.Session) != "" {
			var err error
			if session, err = uiaSession(st, auth, purpose, user, req); err != nil {
				return nil, err
			}
		}
	}
	if o := x.World.OAuth; o != nil && o.CrossSigningResetApproved(user) {
		if session != "" {
			st.EndUIASession(session)
		}
		return nil, nil
	}
	if session == "" {
		session = st.StartUIA(purpose, user, req)
	}
	url := ""
	if o := x.World.OAuth; o != nil {
		url = o.ActionURL(x.BaseURL(), oauth.ActionSigningReset, "")
	}
	return &clientserver.AuthenticationResponse{
		Flows:   []clientserver.AuthenticationResponseFlowsItem{{Stages: []string{loginOAuth}}},
		Params:  &map[string]map[string]any{loginOAuth: {"url": url}},
		Session: &session,
	}, nil
}

// uiaChallenge is a 401 UIA challenge to the cross-signing upload, whose
// spec lists no 401 answer for the generated code to send.
type uiaChallenge clientserver.AuthenticationResponse

func (c uiaChallenge) VisitUploadCrossSigningKeysResponse(w http.ResponseWriter) error {
	return writeAnswer(w, http.StatusUnauthorized, clientserver.AuthenticationResponse(c))
}
