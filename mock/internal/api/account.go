package api

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Accounts: registration, username availability, password changes,
// deactivation, third-party identifiers.

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
// number for a registration, which offers no stage that would use it.
var errThreepidDenied = Errorf(http.StatusForbidden, "M_THREEPID_DENIED", "This server does not validate email addresses or phone numbers")

// errNoPasswordChanges answers POST /account/password on a server that
// turned password changes off (m.change_password false).
var errNoPasswordChanges = Errorf(http.StatusForbidden, "M_FORBIDDEN", "Password changes are turned off on this server")

// ChangePassword answers POST /account/password after the
// m.login.password stage: the caller's password, or, without an access
// token, that of the user the stage names. logout_devices (default true)
// logs out every other device, whose next request fails with soft_logout
// false; the caller's device stays.
func (Handlers) ChangePassword(ctx context.Context, req clientserver.ChangePasswordRequestObject) (clientserver.ChangePasswordResponseObject, error) {
	x, b := From(ctx), req.Body
	if x.World.NoPasswordChanges {
		return nil, errNoPasswordChanges
	}
	if err := refuseOAuthSession(x, "change the password", oauth.ActionProfile, ""); err != nil {
		return nil, err
	}
	if b.Auth != nil && b.NewPassword == "" {
		return nil, MissingParam("new_password") // before the stage, so the session stays
	}
	user, challenge, err := passwordUIA(x, b.Auth, "change_password", "")
	if err != nil || challenge != nil {
		return clientserver.ChangePassword401JSONResponse(deref(challenge)), err
	}
	keep := ""
	if user == x.Principal.UserID {
		keep = x.Principal.DeviceID
	}
	if err := x.Store().ChangePassword(user, b.NewPassword, keep, b.LogoutDevices == nil || *b.LogoutDevices); err != nil {
		return nil, err
	}
	return clientserver.ChangePassword200JSONResponse{}, nil
}

// DeactivateAccount answers POST /account/deactivate after the
// m.login.password stage: every session of the user ends, on the API and
// the account page, logins are refused with M_USER_DEACTIVATED, and the
// user ID stays taken. erase is accepted; there is no identity server to
// unbind from.
func (Handlers) DeactivateAccount(ctx context.Context, req clientserver.DeactivateAccountRequestObject) (clientserver.DeactivateAccountResponseObject, error) {
	x := From(ctx)
	if err := refuseOAuthSession(x, "deactivate the account", oauth.ActionDeactivate, ""); err != nil {
		return nil, err
	}
	user, challenge, err := passwordUIA(x, req.Body.Auth, "deactivate", "")
	if err != nil || challenge != nil {
		return clientserver.DeactivateAccount401JSONResponse(deref(challenge)), err
	}
	if err := x.World.Deactivate(user); err != nil {
		return nil, err
	}
	return clientserver.DeactivateAccount200JSONResponse{IDServerUnbindResult: clientserver.DeactivateAccountResponseIDServerUnbindResultNoSupport}, nil
}

// GetAccount3PIDs answers GET /account/3pid: the addresses added with
// POST /account/3pid/add.
func (Handlers) GetAccount3PIDs(ctx context.Context, _ clientserver.GetAccount3PIDsRequestObject) (clientserver.GetAccount3PIDsResponseObject, error) {
	x := From(ctx)
	all := x.Store().ThreePIDs(x.Principal.UserID)
	out := make([]clientserver.GetAccount3PIDsResponseThreepidsItem, len(all))
	for i, t := range all {
		out[i] = clientserver.GetAccount3PIDsResponseThreepidsItem{
			Medium: clientserver.GetAccount3PIDsResponseThreepidsItemMedium(t.Medium), Address: t.Address,
			AddedAt: t.AddedAt.UnixMilli(), ValidatedAt: t.ValidatedAt.UnixMilli(),
		}
	}
	return clientserver.GetAccount3PIDs200JSONResponse{Threepids: &out}, nil
}

// RequestTokenTo3PIDEmail answers POST /account/3pid/email/requestToken.
// No mail is sent: the session counts as validated at once, ready for
// POST /account/3pid/add.
func (Handlers) RequestTokenTo3PIDEmail(ctx context.Context, req clientserver.RequestTokenTo3PIDEmailRequestObject) (clientserver.RequestTokenTo3PIDEmailResponseObject, error) {
	b := req.Body
	address := string(b.Email)
	if !strings.Contains(address, "@") {
		return nil, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "email is not an e-mail address")
	}
	sid, err := requestThreePIDToken(From(ctx), b.ClientSecret, "email", address)
	if err != nil {
		return nil, err
	}
	return clientserver.RequestTokenTo3PIDEmail200JSONResponse{Sid: sid}, nil
}

// RequestTokenTo3PIDMSISDN answers POST /account/3pid/msisdn/requestToken
// as RequestTokenTo3PIDEmail does, with no text message. The number is
// stored as its digits, as given in international form.
func (Handlers) RequestTokenTo3PIDMSISDN(ctx context.Context, req clientserver.RequestTokenTo3PIDMSISDNRequestObject) (clientserver.RequestTokenTo3PIDMSISDNResponseObject, error) {
	b := req.Body
	msisdn := strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, b.PhoneNumber)
	if msisdn == "" {
		return nil, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "phone_number has no digits")
	}
	sid, err := requestThreePIDToken(From(ctx), b.ClientSecret, "msisdn", msisdn)
	if err != nil {
		return nil, err
	}
	return clientserver.RequestTokenTo3PIDMSISDN200JSONResponse{Sid: sid}, nil
}

// clientSecretRE is the spec's grammar of a client_secret.
var clientSecretRE = regexp.MustCompile(`^[0-9a-zA-Z.=_-]{1,255}$`)

// requestThreePIDToken starts a validation session for the address.
func requestThreePIDToken(x *Exchange, clientSecret, medium, address string) (string, error) {
	if !clientSecretRE.MatchString(clientSecret) {
		return "", Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "client_secret must be 1 to 255 of 0-9 a-z A-Z . = _ -")
	}
	return x.Store().RequestThreePIDToken(clientSecret, medium, address)
}

// Add3PID answers POST /account/3pid/add after the m.login.password
// stage: the address its validation session (sid, client_secret) names
// goes on the account.
func (Handlers) Add3PID(ctx context.Context, req clientserver.Add3PIDRequestObject) (clientserver.Add3PIDResponseObject, error) {
	x, b := From(ctx), req.Body
	if err := refuseOAuthSession(x, "add a third-party identifier", "", ""); err != nil {
		return nil, err
	}
	if b.Auth != nil {
		if err := requireFields(map[string]string{"sid": b.Sid, "client_secret": b.ClientSecret}); err != nil {
			return nil, err // before the stage, so the session stays
		}
	}
	user, challenge, err := passwordUIA(x, b.Auth, "add_3pid", b.Sid)
	if err != nil || challenge != nil {
		return clientserver.Add3PID401JSONResponse(deref(challenge)), err
	}
	if err := x.Store().AddThreePID(user, b.ClientSecret, b.Sid); err != nil {
		return nil, err
	}
	return clientserver.Add3PID200JSONResponse{}, nil
}

// Bind3PID answers POST /account/3pid/bind. Binding happens on an identity
// server, which the mock does not have: the request is accepted and
// changes nothing.
func (Handlers) Bind3PID(_ context.Context, req clientserver.Bind3PIDRequestObject) (clientserver.Bind3PIDResponseObject, error) {
	b := req.Body
	err := requireFields(map[string]string{"sid": b.Sid, "client_secret": b.ClientSecret, "id_server": b.IDServer, "id_access_token": b.IDAccessToken})
	if err != nil {
		return nil, err
	}
	return clientserver.Bind3PID200JSONResponse{}, nil
}

// Post3PIDs answers the deprecated POST /account/3pid, which the spec
// makes the same as POST /account/3pid/bind.
func (Handlers) Post3PIDs(_ context.Context, req clientserver.Post3PIDsRequestObject) (clientserver.Post3PIDsResponseObject, error) {
	c := req.Body.ThreePidCreds
	err := requireFields(map[string]string{"three_pid_creds.sid": c.Sid, "three_pid_creds.client_secret": c.ClientSecret, "three_pid_creds.id_server": c.IDServer})
	if err != nil {
		return nil, err
	}
	return clientserver.Post3PIDs200JSONResponse{}, nil
}

// Delete3PidFromAccount answers POST /account/3pid/delete: the address
// leaves the account (nothing happens if it was not there); no identity
// server is told.
func (Handlers) Delete3PidFromAccount(ctx context.Context, req clientserver.Delete3PidFromAccountRequestObject) (clientserver.Delete3PidFromAccountResponseObject, error) {
	x, b := From(ctx), req.Body
	if err := checkMedium(string(b.Medium), b.Address); err != nil {
		return nil, err
	}
	if _, err := x.Store().DeleteThreePID(x.Principal.UserID, string(b.Medium), b.Address); err != nil {
		return nil, err
	}
	return clientserver.Delete3PidFromAccount200JSONResponse{IDServerUnbindResult: clientserver.Delete3PidFromAccountResponseIDServerUnbindResultNoSupport}, nil
}

// Unbind3PidFromAccount answers POST /account/3pid/unbind: there is no
// identity server to unbind from.
func (Handlers) Unbind3PidFromAccount(_ context.Context, req clientserver.Unbind3PidFromAccountRequestObject) (clientserver.Unbind3PidFromAccountResponseObject, error) {
	if err := checkMedium(string(req.Body.Medium), req.Body.Address); err != nil {
		return nil, err
	}
	return clientserver.Unbind3PidFromAccount200JSONResponse{IDServerUnbindResult: clientserver.Unbind3PidFromAccountResponseIDServerUnbindResultNoSupport}, nil
}

// checkMedium checks the medium and address of a 3PID request.
func checkMedium(medium, address string) error {
	if medium != "email" && medium != "msisdn" {
		return Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "medium must be email or msisdn")
	}
	return requireFields(map[string]string{"address": address})
}

// requireFields returns M_MISSING_PARAM for the first (by name) of the
// required string fields that is empty.
func requireFields(fields map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if fields[name] == "" {
			return MissingParam(name)
		}
	}
	return nil
}
