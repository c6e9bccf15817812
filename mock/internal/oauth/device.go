package oauth

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/mock/internal/csrf"
)

// The device authorization grant (RFC 8628, Matrix v1.18): a device
// without a browser shows the user a code; the user enters it on the
// verification page of another device and signs in; meanwhile the device
// polls the token endpoint.

// deviceGrant is a device authorization waiting for the user.
type deviceGrant struct {
	client, scope, device string
	userCode              string
	expires, nextPoll     time.Time
	interval              time.Duration
	user                  string // set once approved
	denied                bool
}

// userCodeAlphabet has no vowels (no words) and no look-alike characters.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// newUserCode returns a code such as "BCDF-GHJK".
func (s *Server) newUserCode() string {
	var b [8]byte
	s.store.RandomBytes(b[:])
	code := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			code = append(code, '-')
		}
		code = append(code, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(code)
}

// deviceAuthError is the device authorization endpoint's 400 answer.
func deviceAuthError(code, description string) oauth2.RequestDeviceAuthorizationResponseObject {
	return oauth2.RequestDeviceAuthorization400JSONResponse(ErrorBody(code, description))
}

// DeviceAuthorization answers the device authorization endpoint for a
// homeserver at base (RFC 8628 §3.1, §3.2).
func (s *Server) DeviceAuthorization(req oauth2.RequestDeviceAuthorizationRequestObject, base string) (oauth2.RequestDeviceAuthorizationResponseObject, error) {
	client := s.client(req.Body.ClientID)
	switch {
	case client == nil:
		return deviceAuthError("invalid_client", "unknown client_id"), nil
	case !slices.Contains(client.grantTypes, grantDeviceCode):
		return deviceAuthError("unauthorized_client", "this client did not register the device_code grant"), nil
	}
	device, ok := parseScope(str(req.Body.Scope))
	if !ok {
		return deviceAuthError("invalid_scope", "the scope must hold "+scopeAPI+" and one "+scopeDevice+"<device ID>"), nil
	}
	now := s.clock.Now()
	g := &deviceGrant{
		client: client.id, scope: *req.Body.Scope, device: device, userCode: s.newUserCode(),
		expires: now.Add(deviceCodeLifetime), interval: devicePollInterval,
	}
	user, err := s.autoApproveUser()
	if err != nil {
		return nil, err
	}
	g.user = user
	code := s.store.RandomString(32)
	s.mu.Lock()
	for k, old := range s.deviceCodes { // drop expired grants now and then
		if now.After(old.expires) {
			delete(s.userCodes, old.userCode)
			delete(s.deviceCodes, k)
		}
	}
	s.deviceCodes[code], s.userCodes[g.userCode] = g, code
	s.mu.Unlock()
	return oauth2.RequestDeviceAuthorization200JSONResponse{
		DeviceCode: code, UserCode: g.userCode, ExpiresIn: int(deviceCodeLifetime / time.Second),
		Interval:                new(int(devicePollInterval / time.Second)),
		VerificationURI:         base + VerifyPath,
		VerificationURIComplete: new(base + VerifyPath + "?user_code=" + g.userCode),
	}, nil
}

// deviceCodeGrant answers a device's poll (RFC 8628 §3.4, §3.5).
func (s *Server) deviceCodeGrant(client *client, code string) oauth2.RequestOAuthTokenResponseObject {
	if code == "" {
		return tokenError("invalid_request", "device_code is required")
	}
	now := s.clock.Now()
	s.mu.Lock()
	g := s.deviceCodes[code]
	if g == nil || g.client != client.id {
		s.mu.Unlock()
		return tokenError("invalid_grant", "unknown device_code")
	}
	switch {
	case now.After(g.expires):
		s.mu.Unlock()
		return tokenError("expired_token", "the device code has expired; start again")
	case g.denied:
		s.mu.Unlock()
		return tokenError("access_denied", "the user refused")
	case g.user == "":
		early := now.Before(g.nextPoll)
		if early {
			g.interval += 5 * time.Second // RFC 8628 §3.5: slow down for good
		}
		g.nextPoll = now.Add(g.interval)
		s.mu.Unlock()
		if early {
			return tokenError("slow_down", "poll less often")
		}
		return tokenError("authorization_pending", "the user has not finished yet")
	}
	delete(s.deviceCodes, code)
	delete(s.userCodes, g.userCode)
	s.mu.Unlock()
	sess, err := s.login(client, g.user, g.device)
	if err != nil {
		return tokenError("invalid_grant", "the user no longer exists")
	}
	return tokenAnswer(sess, g.scope)
}

// ServeVerify is the page where the user enters a device's code and signs
// in to approve it (GET and POST to VerifyPath).
func (s *Server) ServeVerify(w http.ResponseWriter, r *http.Request) {
	show := func(problem string) {
		s.render(http.StatusOK, view{
			Title: "Connect a device", Error: problem,
			Paragraphs: []string{"Enter the code your device shows, then sign in to let it use your account."},
			Form: &form{
				Action: VerifyPath,
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
	if err := r.ParseForm(); err != nil || !csrf.Valid(r) {
		s.errorPage(http.StatusForbidden, "The form has expired or did not come from this server. Go back and try again.").write(w)
		return
	}
	userCode := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("user_code")))
	s.mu.Lock()
	g := s.deviceCodes[s.userCodes[userCode]]
	s.mu.Unlock()
	if g == nil || s.clock.Now().After(g.expires) {
		show("That code is unknown or has expired.")
		return
	}
	if r.PostForm.Get("action") == "deny" {
		s.mu.Lock()
		g.denied = true
		s.mu.Unlock()
		s.render(http.StatusOK, view{Title: "Denied", Paragraphs: []string{"The device was not allowed to use your account."}}).write(w)
		return
	}
	user := r.PostForm.Get("username")
	if s.store.CheckPassword(user, r.PostForm.Get("password")) != nil {
		show("Wrong username or password.")
		return
	}
	s.mu.Lock()
	g.user = s.store.UserID(user)
	s.mu.Unlock()
	s.render(http.StatusOK, view{Title: "Device connected", Paragraphs: []string{"You can go back to your device."}}).write(w)
}
