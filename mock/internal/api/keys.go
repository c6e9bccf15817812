package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/keys"
	"github.com/mxauth/mxauth/mock/internal/oauth"
)

// End-to-end encryption bookkeeping: device and one-time keys, cross-signing
// keys and signatures, to-device messages, key backup versions. Keys are
// stored and handed out as uploaded (package keys); no signature is checked.
// The backed-up room keys (room_keys/keys) are left to the canned answers.
//
// Keys and signed objects travel as the client sent them: the handlers read
// the body again from its decoded JSON (keysBody) and answer with jsonAnswer,
// because the generated types name only the spec's fields and would drop the
// others, and a client checks its signatures over every field.

func (Handlers) UploadKeys(ctx context.Context, _ clientserver.UploadKeysRequestObject) (clientserver.UploadKeysResponseObject, error) {
	x := From(ctx)
	var body struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := keysBody(x, &body); err != nil {
		return nil, err
	}
	counts, err := x.World.Keys.Upload(x.Principal.UserID, x.Principal.DeviceID, keys.UploadRequest{
		DeviceKeys: nullAsAbsent(body.DeviceKeys), OneTimeKeys: body.OneTimeKeys, FallbackKeys: body.FallbackKeys,
	})
	if err != nil {
		return nil, keysError(err)
	}
	return clientserver.UploadKeys200JSONResponse{OneTimeKeyCounts: counts}, nil
}

func (Handlers) QueryKeys(ctx context.Context, req clientserver.QueryKeysRequestObject) (clientserver.QueryKeysResponseObject, error) {
	x := From(ctx)
	if req.Body.DeviceKeys == nil {
		return nil, MissingParam("device_keys")
	}
	return jsonAnswer{http.StatusOK, x.World.Keys.Query(x.Principal.UserID, req.Body.DeviceKeys)}, nil
}

func (Handlers) ClaimKeys(ctx context.Context, req clientserver.ClaimKeysRequestObject) (clientserver.ClaimKeysResponseObject, error) {
	if req.Body.OneTimeKeys == nil {
		return nil, MissingParam("one_time_keys")
	}
	claimed := From(ctx).World.Keys.Claim(req.Body.OneTimeKeys)
	return jsonAnswer{http.StatusOK, map[string]any{"one_time_keys": claimed, "failures": struct{}{}}}, nil
}

func (Handlers) GetKeysChanges(ctx context.Context, req clientserver.GetKeysChangesRequestObject) (clientserver.GetKeysChangesResponseObject, error) {
	x := From(ctx)
	from, err := keysPos(req.Params.From)
	if err != nil {
		return nil, err
	}
	to, err := keysPos(req.Params.To)
	if err != nil {
		return nil, err
	}
	changed := x.World.Keys.Changed(x.Principal.UserID, from, to)
	if changed == nil {
		changed = []string{}
	}
	// Who stopped sharing a room with the caller is the rooms' to tell;
	// the mock leaves it empty.
	return clientserver.GetKeysChanges200JSONResponse{Changed: &changed, Left: &[]string{}}, nil
}

// keysTokenPart introduces the keys stream's part of a sync token:
// "s42_k7" is rooms position 42 and keys position 7 (see package rooms on
// sync tokens). The sync handler writes it; keys/changes reads it.
const keysTokenPart = "k"

// keysPos reads the keys position of a sync token. A token without a keys
// part is read as position 0, so that keys/changes tells too much rather
// than too little.
func keysPos(token string) (int64, error) {
	_, rest, _ := strings.Cut(token, "_")
	for part := range strings.SplitSeq(rest, "_") {
		if num, ok := strings.CutPrefix(part, keysTokenPart); ok {
			pos, err := strconv.ParseInt(num, 10, 64)
			if err != nil || pos < 0 {
				return 0, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "Malformed sync token "+strconv.Quote(token))
			}
			return pos, nil
		}
	}
	if !strings.HasPrefix(token, "s") {
		return 0, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "Malformed sync token "+strconv.Quote(token))
	}
	return 0, nil
}

func (Handlers) SendToDevice(ctx context.Context, req clientserver.SendToDeviceRequestObject) (clientserver.SendToDeviceResponseObject, error) {
	x := From(ctx)
	var body struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := keysBody(x, &body); err != nil {
		return nil, err
	}
	if body.Messages == nil {
		return nil, MissingParam("messages")
	}
	p := x.Principal
	if err := x.World.Keys.SendToDevice(p.UserID, p.DeviceID, req.TxnID, req.EventType, body.Messages); err != nil {
		return nil, keysError(err)
	}
	return clientserver.SendToDevice200JSONResponse{}, nil
}

// crossSigningPurpose is the UIA purpose of a cross-signing key replacement.
const crossSigningPurpose = "cross_signing_upload"

// UploadCrossSigningKeys stores the caller's cross-signing keys. A first
// upload, or one that repeats the stored keys, needs no user-interactive
// auth; one that replaces a stored key needs m.login.password.
func (Handlers) UploadCrossSigningKeys(ctx context.Context, req clientserver.UploadCrossSigningKeysRequestObject) (clientserver.UploadCrossSigningKeysResponseObject, error) {
	x := From(ctx)
	var body struct {
		MasterKey      json.RawMessage `json:"master_key"`
		SelfSigningKey json.RawMessage `json:"self_signing_key"`
		UserSigningKey json.RawMessage `json:"user_signing_key"`
	}
	if err := keysBody(x, &body); err != nil {
		return nil, err
	}
	csk := keys.CrossSigningKeys{
		Master: nullAsAbsent(body.MasterKey), SelfSigning: nullAsAbsent(body.SelfSigningKey), UserSigning: nullAsAbsent(body.UserSigningKey),
	}
	user := x.Principal.UserID
	_, err := x.World.Keys.UploadCrossSigning(user, csk, false)
	if !errors.Is(err, keys.ErrReplaceNeedsAuth) {
		if err != nil {
			return nil, keysError(err)
		}
		return clientserver.UploadCrossSigningKeys200JSONResponse{}, nil
	}
	if x.Principal.ViaOAuth {
		// No password stage for an OAuth 2.0 session: the user approves
		// the reset on the account management page (m.oauth), and the
		// client uploads again within the approval's lifetime.
		if x.World.OAuth == nil || !x.World.OAuth.CrossSigningResetApproved(user) {
			return jsonAnswer{http.StatusUnauthorized, oauthResetChallenge(x)}, nil
		}
	} else {
		_, challenge, err := passwordUIA(x, req.Body.Auth, crossSigningPurpose, "")
		if err != nil {
			return nil, err
		}
		if challenge != nil {
			return jsonAnswer{http.StatusUnauthorized, challenge}, nil
		}
	}
	if _, err := x.World.Keys.UploadCrossSigning(user, csk, true); err != nil {
		return nil, keysError(err)
	}
	return clientserver.UploadCrossSigningKeys200JSONResponse{}, nil
}

// oauthResetChallenge is the m.oauth stage of a cross-signing reset: the
// account management page, with the reset action, where the user approves.
func oauthResetChallenge(x *Exchange) *clientserver.AuthenticationResponse {
	st := x.Store()
	session := st.StartUIA(crossSigningPurpose, x.Principal.UserID, uiaRequest(x, ""))
	return &clientserver.AuthenticationResponse{
		Flows:   []clientserver.AuthenticationResponseFlowsItem{{Stages: []string{loginOAuth}}},
		Params:  &map[string]map[string]any{loginOAuth: {"url": oauth.CrossSigningResetURL(x.BaseURL())}},
		Session: &session,
	}
}

// loginOAuth is the UIA stage that sends the user to the account page.
const loginOAuth = "m.oauth"

func (Handlers) UploadCrossSigningSignatures(ctx context.Context, _ clientserver.UploadCrossSigningSignaturesRequestObject) (clientserver.UploadCrossSigningSignaturesResponseObject, error) {
	x := From(ctx)
	var signed map[string]map[string]json.RawMessage
	if err := keysBody(x, &signed); err != nil {
		return nil, err
	}
	failures := map[string]map[string]*Error{}
	for user, byKey := range x.World.Keys.UploadSignatures(x.Principal.UserID, signed) {
		failures[user] = map[string]*Error{}
		for key, err := range byKey {
			failures[user][key] = keysError(err)
		}
	}
	return jsonAnswer{http.StatusOK, map[string]any{"failures": failures}}, nil
}

// Key backup: the versions are kept, the backed-up keys are not.

func (Handlers) GetRoomKeysVersionCurrent(ctx context.Context, _ clientserver.GetRoomKeysVersionCurrentRequestObject) (clientserver.GetRoomKeysVersionCurrentResponseObject, error) {
	x := From(ctx)
	b, err := x.World.Keys.Backup(x.Principal.UserID, "")
	if err != nil {
		return nil, keysError(err)
	}
	return jsonAnswer{http.StatusOK, b}, nil
}

func (Handlers) GetRoomKeysVersion(ctx context.Context, req clientserver.GetRoomKeysVersionRequestObject) (clientserver.GetRoomKeysVersionResponseObject, error) {
	x := From(ctx)
	b, err := x.World.Keys.Backup(x.Principal.UserID, req.Version)
	if err != nil {
		return nil, keysError(err)
	}
	return jsonAnswer{http.StatusOK, b}, nil
}

func (Handlers) PostRoomKeysVersion(ctx context.Context, req clientserver.PostRoomKeysVersionRequestObject) (clientserver.PostRoomKeysVersionResponseObject, error) {
	x := From(ctx)
	if req.Body.Algorithm == "" {
		return nil, MissingParam("algorithm")
	}
	authData, err := backupAuthData(x)
	if err != nil {
		return nil, err
	}
	version := x.World.Keys.CreateBackup(x.Principal.UserID, string(req.Body.Algorithm), authData)
	return clientserver.PostRoomKeysVersion200JSONResponse{Version: version}, nil
}

func (Handlers) PutRoomKeysVersion(ctx context.Context, req clientserver.PutRoomKeysVersionRequestObject) (clientserver.PutRoomKeysVersionResponseObject, error) {
	x := From(ctx)
	authData, err := backupAuthData(x)
	if err != nil {
		return nil, err
	}
	err = x.World.Keys.UpdateBackup(x.Principal.UserID, req.Version, deref(req.Body.Version), string(req.Body.Algorithm), authData)
	if err != nil {
		return nil, keysError(err)
	}
	return clientserver.PutRoomKeysVersion200JSONResponse{}, nil
}

// backupAuthData returns a backup version's auth_data as sent, which
// must be there.
func backupAuthData(x *Exchange) (json.RawMessage, error) {
	var body struct {
		AuthData json.RawMessage `json:"auth_data"`
	}
	if err := keysBody(x, &body); err != nil {
		return nil, err
	}
	if nullAsAbsent(body.AuthData) == nil {
		return nil, MissingParam("auth_data")
	}
	return body.AuthData, nil
}

func (Handlers) DeleteRoomKeysVersion(ctx context.Context, req clientserver.DeleteRoomKeysVersionRequestObject) (clientserver.DeleteRoomKeysVersionResponseObject, error) {
	x := From(ctx)
	if err := x.World.Keys.DeleteBackup(x.Principal.UserID, req.Version); err != nil {
		return nil, keysError(err)
	}
	return clientserver.DeleteRoomKeysVersion200JSONResponse{}, nil
}

// keysBody decodes the request's JSON body into v again, from its object
// (bodyObject), so that keys and signed objects stay whole
// (json.RawMessage fields) where the generated types keep only the
// spec's fields.
func keysBody(x *Exchange, v any) error {
	value, ok := bodyObject(x.req.Body)
	if !ok {
		return errNotJSON // the generated binding refuses an empty body first
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return decodeError(err)
	}
	return nil
}

// nullAsAbsent returns nil for a member that was absent or null.
func nullAsAbsent(m json.RawMessage) json.RawMessage {
	if string(m) == "null" {
		return nil
	}
	return m
}

// keysError answers an error of package keys with the Matrix error its
// documentation names.
func keysError(err error) *Error { return fromStore(err, keysErrors) }

var keysErrors = []storeError{
	{keys.ErrBadJSON, http.StatusBadRequest, "M_BAD_JSON"},
	{keys.ErrOwnerMismatch, http.StatusBadRequest, "M_INVALID_PARAM"},
	{keys.ErrBadKeyID, http.StatusBadRequest, "M_INVALID_PARAM"},
	{keys.ErrKeyExists, http.StatusBadRequest, "M_INVALID_PARAM"},
	{keys.ErrBackupMismatch, http.StatusBadRequest, "M_INVALID_PARAM"},
	{keys.ErrMissingMasterKey, http.StatusBadRequest, "M_MISSING_PARAM"},
	{keys.ErrUnknownKey, http.StatusNotFound, "M_NOT_FOUND"},
	{keys.ErrNoBackup, http.StatusNotFound, "M_NOT_FOUND"},
	{keys.ErrNoSignature, http.StatusBadRequest, "M_INVALID_SIGNATURE"},
}
