package mock

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// The device authorization grant (RFC 8628, Matrix v1.18): a device
// without a browser shows the user a code; the user enters it on the
// verification page of another device and signs in; meanwhile the device
// polls the token endpoint.

// userCodeAlphabet has no vowels (no words) and no look-alike characters.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// newUserCode returns a code such as "BCDF-GHJK".
func newUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	code := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			code = append(code, '-')
		}
		code = append(code, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(code)
}

func (h oauthHandlers) RequestDeviceAuthorization(ctx context.Context, req oauth2.RequestDeviceAuthorizationRequestObject) (oauth2.RequestDeviceAuthorizationResponseObject, error) {
	o, st := oauthOf(ctx), storeOf(ctx)
	client := o.client(req.Body.ClientID)
	switch {
	case client == nil:
		return oauth2.RequestDeviceAuthorization400JSONResponse(oauthErr("invalid_client", "unknown client_id")), nil
	case !slices.Contains(client.grantTypes, grantDeviceCode):
		return oauth2.RequestDeviceAuthorization400JSONResponse(oauthErr("unauthorized_client", "this client did not register the device_code grant")), nil
	}
	device, ok := parseScope(deref(req.Body.Scope))
	if !ok {
		return oauth2.RequestDeviceAuthorization400JSONResponse(oauthErr("invalid_scope", "the scope must hold "+scopeAPI+" and one "+scopeDevice+"<device ID>")), nil
	}
	now := serverOf(ctx).Clock.Now()
	g := &deviceGrant{
		client: client.id, scope: *req.Body.Scope, device: device, userCode: newUserCode(),
		expires: now.Add(deviceCodeLifetime), interval: devicePollInterval,
	}
	if user := o.settings.autoApprove; user != "" {
		if _, err := st.AddUser(user, randomString(24)); err != nil && !errors.Is(err, state.ErrUserInUse) {
			return nil, err
		}
		g.user = st.UserID(user)
	}
	code := randomString(32)
	o.mu.Lock()
	for k, old := range o.deviceCodes { // drop expired grants now and then
		if now.After(old.expires) {
			delete(o.userCodes, old.userCode)
			delete(o.deviceCodes, k)
		}
	}
	o.deviceCodes[code], o.userCodes[g.userCode] = g, code
	o.mu.Unlock()
	base := exchangeOf(ctx).baseURL()
	return oauth2.RequestDeviceAuthorization200JSONResponse{
		DeviceCode: code, UserCode: g.userCode, ExpiresIn: int(deviceCodeLifetime / time.Second),
		Interval:                ptr(int(devicePollInterval / time.Second)),
		VerificationURI:         base + oauthVerifyPath,
		VerificationURIComplete: ptr(base + oauthVerifyPath + "?user_code=" + g.userCode),
	}, nil
}

// deviceCodeGrant answers a device's poll (RFC 8628 §3.4, §3.5).
func (h oauthHandlers) deviceCodeGrant(ctx context.Context, client *oauthClient, code string) (oauth2.RequestOAuthTokenResponseObject, error) {
	fail := func(errcode, why string) (oauth2.RequestOAuthTokenResponseObject, error) {
		return oauth2.RequestOAuthToken400JSONResponse(oauthErr(errcode, why)), nil
	}
	if code == "" {
		return fail("invalid_request", "device_code is required")
	}
	o, now := oauthOf(ctx), serverOf(ctx).Clock.Now()
	o.mu.Lock()
	g := o.deviceCodes[code]
	if g == nil || g.client != client.id {
		o.mu.Unlock()
		return fail("invalid_grant", "unknown device_code")
	}
	switch {
	case now.After(g.expires):
		o.mu.Unlock()
		return fail("expired_token", "the device code has expired; start again")
	case g.denied:
		o.mu.Unlock()
		return fail("access_denied", "the user refused")
	case g.user == "":
		early := now.Before(g.nextPoll)
		if early {
			g.interval += 5 * time.Second // RFC 8628 §3.5: slow down for good
		}
		g.nextPoll = now.Add(g.interval)
		o.mu.Unlock()
		if early {
			return fail("slow_down", "poll less often")
		}
		return fail("authorization_pending", "the user has not finished yet")
	}
	delete(o.deviceCodes, code)
	delete(o.userCodes, g.userCode)
	o.mu.Unlock()
	sess, err := storeOf(ctx).Login(state.LoginRequest{UserID: g.user, DeviceID: g.device, WithRefresh: true, ViaOAuth: true})
	if err != nil {
		return fail("invalid_grant", "the user no longer exists")
	}
	o.grant(sess.UserID, sess.DeviceID, client.id)
	return tokenAnswer(sess, g.scope), nil
}

// verifyPage is the page where the user enters a device's code and signs
// in to approve it (GET and POST /oauth2/device).
func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) {
	o, st := oauthOf(r.Context()), storeOf(r.Context())
	show := func(problem string) {
		render(http.StatusOK, view{
			Title: "Connect a device", Error: problem,
			Paragraphs: []string{"Enter the code your device shows, then sign in to let it use your account."},
			Form: &form{
				Action: oauthVerifyPath,
				Fields: []field{
					{Name: "user_code", Label: "Code", Type: "text", Value: r.FormValue("user_code"), Autocomplete: "off"},
					{Name: "username", Label: "Username", Type: "text", Autocomplete: "username"},
					{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"},
				},
				Buttons: []button{{"approve", "Allow"}, {"deny", "Deny"}},
			},
		}).write(w)
	}
	if r.Method != http.MethodPost {
		show("")
		return
	}
	if err := r.ParseForm(); err != nil || !csrfOK(r) {
		errorPage(http.StatusForbidden, "The form has expired or did not come from this server. Go back and try again.").write(w)
		return
	}
	userCode := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("user_code")))
	o.mu.Lock()
	g := o.deviceCodes[o.userCodes[userCode]]
	o.mu.Unlock()
	if g == nil || s.Clock.Now().After(g.expires) {
		show("That code is unknown or has expired.")
		return
	}
	if r.PostForm.Get("action") == "deny" {
		o.mu.Lock()
		g.denied = true
		o.mu.Unlock()
		render(http.StatusOK, view{Title: "Denied", Paragraphs: []string{"The device was not allowed to use your account."}}).write(w)
		return
	}
	user := r.PostForm.Get("username")
	if st.CheckPassword(user, r.PostForm.Get("password")) != nil {
		show("Wrong username or password.")
		return
	}
	o.mu.Lock()
	g.user = st.UserID(user)
	o.mu.Unlock()
	render(http.StatusOK, view{Title: "Device connected", Paragraphs: []string{"You can go back to your device."}}).write(w)
}
