package oauth

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/oauth2"
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
	device, problem := parseScope(str(req.Body.Scope))
	if problem != "" {
		return deviceAuthError("invalid_scope", problem), nil
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
	sess, err := s.login(client, g.user, g.device, "")
	if err != nil {
		return tokenError("invalid_grant", "the user no longer exists")
	}
	return tokenAnswer(sess, g.scope)
}

// The verification page works in two steps. First the user enters the
// code and signs in: the password is checked before the code, so that the
// page says nothing about a code to someone who cannot sign in, and both a
// wrong password and an unknown code count as failed attempts. Then the
// page shows which client asks, for which device, and the signed-in user
// allows or denies; that second form carries a single-use confirmation
// that names the user and the grant.

// The verification page's buttons (name="action").
const (
	buttonContinue = "continue"
	buttonApprove  = "approve"
	buttonDeny     = "deny"
)

// confirmationLifetime is how long the user has to allow or deny once
// signed in on the verification page.
const confirmationLifetime = 5 * time.Minute

// deviceConfirmation is a signed-in user's pending decision on a grant.
type deviceConfirmation struct {
	user, deviceCode string
	expires          time.Time
}

// normalizeUserCode reads a user code as typed: in any case, with or
// without the dash or spaces (RFC 8628 §6.1).
func normalizeUserCode(typed string) string {
	code := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(typed))
	if len(code) == 8 {
		code = code[:4] + "-" + code[4:]
	}
	return code
}

// ServeVerify is the page where the user enters a device's code, signs in,
// and allows or denies the device (GET and POST to VerifyPath).
func (s *Server) ServeVerify(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.verifyForm(r.URL.Query().Get("user_code"), "").write(w)
		return
	}
	if !s.readForm(w, r, "The form has expired or did not come from this server. Go back and try again.") {
		return
	}
	switch r.PostForm.Get("action") {
	case buttonApprove, buttonDeny:
		s.decide(w, r)
		return
	}
	typed, user := r.PostForm.Get("user_code"), strings.TrimSpace(r.PostForm.Get("username"))
	if problem, status := s.checkPassword(r, user, r.PostForm.Get("password"), "Wrong username or password."); problem != "" {
		s.verifyForm(typed, problem).withStatus(status).write(w)
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	code := s.userCodes[normalizeUserCode(typed)]
	g := s.deviceCodes[code]
	s.mu.Unlock()
	if g == nil || now.After(g.expires) {
		s.attempts.Fail(s.attemptKeys(r, user)...)
		s.verifyForm(typed, "That code is unknown or has expired.").write(w)
		return
	}
	s.confirmForm(g, code, s.store.UserID(user), now).write(w)
}

// verifyForm asks for a device's code and the user's password.
func (s *Server) verifyForm(userCode, problem string) page {
	return s.render(http.StatusOK, view{
		Title: "Connect a device", Error: problem,
		Paragraphs: []string{"Enter the code your device shows, then sign in: the next page shows which application asks."},
		Form: &form{
			Action: VerifyPath,
			Fields: []field{
				{Name: "user_code", Label: "Code", Type: "text", Value: userCode, Autocomplete: "off"},
				{Name: "username", Label: "Username", Type: "text", Autocomplete: "username"},
				{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"},
			},
			Buttons: []button{{buttonContinue, "Continue"}},
		},
	})
}

// confirmForm shows a signed-in user which client asks for which device,
// with a single-use confirmation to allow or deny it.
func (s *Server) confirmForm(g *deviceGrant, deviceCode, user string, now time.Time) page {
	ticket := s.store.RandomString(32)
	s.mu.Lock()
	for k, old := range s.confirmations { // drop expired ones now and then
		if now.After(old.expires) {
			delete(s.confirmations, k)
		}
	}
	s.confirmations[ticket] = deviceConfirmation{user: user, deviceCode: deviceCode, expires: now.Add(confirmationLifetime)}
	s.mu.Unlock()
	name, about := "An application", ""
	if c := s.client(g.client); c != nil {
		name, about = clientLabel(c)
	}
	v := view{
		Title: "Allow " + name + "?",
		Paragraphs: []string{
			name + " asks to use the account " + user + " on device " + g.device + ".",
			"Allow it only if you started this on your device and the code matches.",
		},
		Form: &form{
			Action: VerifyPath, Hidden: map[string]string{"confirmation": ticket},
			Buttons: []button{{buttonApprove, "Allow"}, {buttonDeny, "Deny"}},
		},
	}
	if about != "" {
		v.Links = []link{{URL: about, Label: "About " + name}}
	}
	return s.render(http.StatusOK, v)
}

// decide answers the confirmation form: the grant is approved for the
// signed-in user, or denied.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	ticket := r.PostForm.Get("confirmation")
	s.mu.Lock()
	c, ok := s.confirmations[ticket]
	delete(s.confirmations, ticket)
	g := s.deviceCodes[c.deviceCode]
	live := ok && !now.After(c.expires) && g != nil && !now.After(g.expires) && g.user == "" && !g.denied
	if live {
		if r.PostForm.Get("action") == buttonDeny {
			g.denied = true
		} else {
			g.user = c.user
		}
	}
	s.mu.Unlock()
	switch {
	case !live:
		s.errorPage(http.StatusBadRequest, "This confirmation has expired or was used already. Enter the code again.").write(w)
	case r.PostForm.Get("action") == buttonDeny:
		s.render(http.StatusOK, view{Title: "Denied", Paragraphs: []string{"The device was not allowed to use your account."}}).write(w)
	default:
		s.render(http.StatusOK, view{Title: "Device connected", Paragraphs: []string{"You can go back to your device."}}).write(w)
	}
}
