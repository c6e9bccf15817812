package oauth

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/scenario"
)

// The account management page (MSC4191), at AccountPath. A client that
// uses the OAuth 2.0 API sends its user here to do what the Matrix API no
// longer does for it: account_management_uri?action=…&device_id=….
//
// The user signs in on the page with a password, which starts a page
// session: a random cookie (HttpOnly, SameSite=Strict, limited to the
// page's path) that the Server maps to the user for an hour of the
// server's clock. Without a page session any action shows the sign-in form
// first, which carries the action and device ID along and goes on to them.
// Every form is protected by the CSRF double-submit cookie of pages.go.
//
// Deleting a device and deactivating the account ask for the password
// again, even within a page session.
//
// With auto-approval (Settings.AutoApprove), a visitor without a page
// session is signed in as the auto-approved user at once, so that a
// headless test can open any action directly; the destructive actions
// still ask for the password. A user that auto-approval created has a
// random password nobody knows, so a test that deletes devices or
// deactivates on the page gives that user a password of its own.

// The page session and the cross-signing reset approval.
const (
	accountCookie          = "mxauth_account"
	accountSessionLifetime = time.Hour
	resetApprovalLifetime  = 10 * time.Minute
)

// The values of the forms' submit buttons (name="action").
const (
	buttonSignIn     = "signin"
	buttonDelete     = "delete"
	buttonDeactivate = "deactivate"
	buttonReset      = "reset"
)

// pageSession is a page session: who signed in, and until when.
type pageSession struct {
	user    string
	expires time.Time
}

// startAccountSession starts a page session for user and returns the
// cookie that carries it.
func (s *Server) startAccountSession(user string, now time.Time, secure bool) *http.Cookie {
	id := s.store.RandomString(32)
	s.mu.Lock()
	for k, old := range s.pageLogins { // drop expired sessions now and then
		if !now.Before(old.expires) {
			delete(s.pageLogins, k)
		}
	}
	s.pageLogins[id] = pageSession{user: user, expires: now.Add(accountSessionLifetime)}
	s.mu.Unlock()
	return &http.Cookie{Name: accountCookie, Value: id, Path: AccountPath, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode}
}

// accountUser returns the user of the request's page session, or "".
func (s *Server) accountUser(r *http.Request, now time.Time) string {
	c, err := r.Cookie(accountCookie)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.pageLogins[c.Value]
	if !ok || !now.Before(sess.expires) {
		delete(s.pageLogins, c.Value)
		return ""
	}
	return sess.user
}

// endAccountSessions ends every page session of user.
func (s *Server) endAccountSessions(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sess := range s.pageLogins {
		if sess.user == user {
			delete(s.pageLogins, k)
		}
	}
}

// approveReset records that user approved a cross-signing reset.
func (s *Server) approveReset(user string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets[user] = now
}

// CrossSigningResetApproved reports whether the user (a user ID or a bare
// localpart) approved a reset of their cross-signing keys on the account
// management page in the last ten minutes: the time a homeserver gives the
// client to upload new keys without user-interactive auth.
func (s *Server) CrossSigningResetApproved(user string) bool {
	now := s.clock.Now()
	user = s.store.UserID(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.resets[user]
	return ok && !now.Before(at) && now.Sub(at) < resetApprovalLifetime
}

// CrossSigningResetURL is where, on a homeserver at base, the account
// management page asks the user to approve a cross-signing reset: the URL
// of the m.oauth stage of keys/device_signing/upload.
func CrossSigningResetURL(base string) string {
	return base + accountURL(actionSigningReset, "")
}

// accountVisit is one request to the account page.
type accountVisit struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	now    time.Time
	user   string // the page session's, "" before signing in
	raw    string // the action as asked for
	action string // its stable name, "" when unknown or missing
	device string // the device_id asked for
	msc    bool   // links use the MSC's older action names
}

// ServeAccount serves the account management page: GET shows an action,
// POST answers its forms.
func (s *Server) ServeAccount(w http.ResponseWriter, r *http.Request) {
	v := &accountVisit{s: s, w: w, r: r, now: s.clock.Now()}
	post := r.Method == http.MethodPost
	if post {
		if !s.readForm(w, r, "The form has expired or did not come from this server. Go back, reload the page and try again.") {
			return
		}
		v.raw, v.device = r.PostForm.Get("requested_action"), r.PostForm.Get("device_id")
	} else {
		q := r.URL.Query()
		v.raw, v.device = q.Get("action"), q.Get("device_id")
	}
	v.action, v.msc = stableAction(v.raw)
	if v.action == "" { // no known action to follow: use the names the metadata advertises
		v.msc = s.settings.ActionNames == scenario.MSC
	}

	if post && r.PostForm.Get("action") == buttonSignIn {
		v.signIn()
		return
	}
	v.user = s.accountUser(r, v.now)
	if v.user == "" && s.settings.AutoApprove != "" {
		if !v.autoSignIn() {
			return
		}
	}
	if v.user == "" {
		problem := ""
		if post {
			problem = "Your session on this page has ended. Sign in again."
		}
		v.signInForm(problem).write(w)
		return
	}
	if post {
		v.submit()
		return
	}
	v.show()
}

// url returns the page's address for an action (by its stable name, given
// in the visit's naming) on a device.
func (v *accountVisit) url(action, device string) string {
	if old, ok := mscActionNames[action]; ok && v.msc {
		action = old
	}
	return accountURL(action, device)
}

// accountURL returns the page's address for an action as named, on a
// device; both may be empty.
func accountURL(action, device string) string {
	q := url.Values{}
	if action != "" {
		q.Set("action", action)
	}
	if device != "" {
		q.Set("device_id", device)
	}
	if len(q) == 0 {
		return AccountPath
	}
	return AccountPath + "?" + q.Encode()
}

// hidden returns the hidden fields that carry the request along in a form.
func (v *accountVisit) hidden() map[string]string {
	h := map[string]string{}
	if v.raw != "" {
		h["requested_action"] = v.raw
	}
	if v.device != "" {
		h["device_id"] = v.device
	}
	return h
}

// signInForm asks the visitor to sign in, carrying the request along.
func (v *accountVisit) signInForm(problem string) page {
	return v.s.render(http.StatusOK, view{
		Title: "Sign in to manage your account", Error: problem,
		Paragraphs: []string{"Sign in with your username and password to continue."},
		Form: &form{
			Action: AccountPath, Hidden: v.hidden(),
			Fields: []field{
				{Name: "username", Label: "Username", Type: "text", Autocomplete: "username"},
				{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"},
			},
			Buttons: []button{{buttonSignIn, "Sign in"}},
		},
	})
}

// signIn answers the sign-in form: a page session and on to the requested
// action, or the form again.
func (v *accountVisit) signIn() {
	name := strings.TrimSpace(v.r.PostForm.Get("username"))
	if problem, status := v.s.checkPassword(v.r, name, v.r.PostForm.Get("password"), "Wrong username or password."); problem != "" {
		v.signInForm(problem).withStatus(status).write(v.w)
		return
	}
	http.SetCookie(v.w, v.s.startAccountSession(v.s.store.UserID(name), v.now, v.r.TLS != nil))
	redirectPage(accountURL(v.raw, v.device)).write(v.w)
}

// autoSignIn signs the visitor in as the auto-approved user, created if
// missing. It reports false when it answered the request with an error.
func (v *accountVisit) autoSignIn() bool {
	user, err := v.s.autoApproveUser()
	if err != nil {
		v.s.errorPage(http.StatusInternalServerError, "Cannot create the auto-approved user: "+err.Error()).write(v.w)
		return false
	}
	v.user = user
	http.SetCookie(v.w, v.s.startAccountSession(v.user, v.now, v.r.TLS != nil))
	return true
}

// problem is an error page with a way back to the account.
func (v *accountVisit) problem(status int, message string) page {
	return v.s.render(status, view{
		Title: "Something is wrong", Error: message,
		Links: []link{{URL: AccountPath, Label: "Back to your account"}},
	})
}

// ownDevice returns the requested device if it is the user's; otherwise it
// answers the request with an error page and reports false.
func (v *accountVisit) ownDevice() (state.Device, bool) {
	if v.device == "" {
		v.problem(http.StatusBadRequest, "This action needs a device: the address has no device_id.").write(v.w)
		return state.Device{}, false
	}
	d, err := v.s.store.Device(v.user, v.device)
	if err != nil {
		v.problem(http.StatusNotFound, "There is no device "+v.device+" among your devices. It may have been deleted already.").write(v.w)
		return state.Device{}, false
	}
	return d, true
}

// show answers a GET: the page of the requested action, or the main page.
func (v *accountVisit) show() {
	switch v.action {
	case actionProfile:
		v.s.render(http.StatusOK, view{
			Title:      "Your profile",
			Paragraphs: []string{"User ID: " + v.user},
			Links:      []link{{URL: v.url(actionDevicesList, ""), Label: "Your devices"}, {URL: AccountPath, Label: "Your account"}},
		}).write(v.w)
	case actionDevicesList:
		devices := v.s.store.Devices(v.user)
		v.s.render(http.StatusOK, view{
			Title:      "Your devices",
			Paragraphs: []string{v.user + " has " + countDevices(len(devices)) + "."},
			Links:      append(v.deviceLinks(devices), link{URL: AccountPath, Label: "Your account"}),
		}).write(v.w)
	case actionDeviceView:
		if d, ok := v.ownDevice(); ok {
			v.deviceView(d)
		}
	case actionDeviceDelete:
		if d, ok := v.ownDevice(); ok {
			v.deleteForm(d, "").write(v.w)
		}
	case actionDeactivate:
		v.deactivateForm("").write(v.w)
	case actionSigningReset:
		v.s.render(http.StatusOK, view{
			Title: "Reset your cross-signing keys",
			Paragraphs: []string{
				"Your app asks to replace the cross-signing keys of " + v.user + ".",
				"Allow it only if you have lost your old keys: your contacts and your other devices will have to verify you again.",
			},
			Form:  &form{Action: AccountPath, Hidden: v.hidden(), Buttons: []button{{buttonReset, "Allow the reset"}}},
			Links: []link{{URL: AccountPath, Label: "Cancel"}},
		}).write(v.w)
	default:
		v.mainPage()
	}
}

// mainPage shows the profile and the devices, with links to every action.
// An unknown action comes here too, with a note.
func (v *accountVisit) mainPage() {
	devices := v.s.store.Devices(v.user)
	paragraphs := []string{"Signed in as " + v.user + ".", "Your devices (" + strconv.Itoa(len(devices)) + "):"}
	if v.raw != "" {
		paragraphs = append([]string{"This page has no action " + strconv.Quote(v.raw) + "; here is your account instead."}, paragraphs...)
	}
	links := append(v.deviceLinks(devices),
		link{URL: v.url(actionProfile, ""), Label: "Your profile"},
		link{URL: v.url(actionSigningReset, ""), Label: "Reset your cross-signing keys"},
		link{URL: v.url(actionDeactivate, ""), Label: "Deactivate your account"},
	)
	v.s.render(http.StatusOK, view{Title: "Your account", Paragraphs: paragraphs, Links: links}).write(v.w)
}

// deviceLinks links to each device's page.
func (v *accountVisit) deviceLinks(devices []state.Device) []link {
	links := make([]link, len(devices))
	for i, d := range devices {
		label := d.ID
		if d.DisplayName != "" {
			label += " · " + d.DisplayName
		}
		links[i] = link{URL: v.url(actionDeviceView, d.ID), Label: label}
	}
	return links
}

func countDevices(n int) string {
	if n == 1 {
		return "1 device"
	}
	return strconv.Itoa(n) + " devices"
}

// deviceView shows one device.
func (v *accountVisit) deviceView(d state.Device) {
	name, seen := d.DisplayName, "never"
	if name == "" {
		name = "(none)"
	}
	if !d.LastSeenTS.IsZero() {
		seen = d.LastSeenTS.UTC().Format("2006-01-02 15:04:05 UTC")
		if d.LastSeenIP != "" {
			seen += " from " + d.LastSeenIP
		}
	}
	v.s.render(http.StatusOK, view{
		Title:      "Device " + d.ID,
		Paragraphs: []string{"Device ID: " + d.ID, "Name: " + name, "Last seen: " + seen},
		Links: []link{
			{URL: v.url(actionDeviceDelete, d.ID), Label: "Sign this device out"},
			{URL: v.url(actionDevicesList, ""), Label: "All your devices"},
		},
	}).write(v.w)
}

// passwordField asks for the password again before a destructive action.
var passwordField = field{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"}

// deleteForm asks to confirm a device's deletion with the password.
func (v *accountVisit) deleteForm(d state.Device, problem string) page {
	what := d.ID
	if d.DisplayName != "" {
		what += " (" + d.DisplayName + ")"
	}
	return v.s.render(http.StatusOK, view{
		Title: "Sign out device " + d.ID, Error: problem,
		Paragraphs: []string{
			"Signing out device " + what + " deletes it: its access and refresh tokens stop working at once.",
			"Enter your password to confirm that it is you.",
		},
		Form: &form{
			Action: AccountPath, Hidden: v.hidden(), Fields: []field{passwordField},
			Buttons: []button{{buttonDelete, "Sign out and delete"}},
		},
		Links: []link{{URL: v.url(actionDeviceView, d.ID), Label: "Cancel"}},
	})
}

// deactivateForm asks to confirm the account's deactivation with the
// password.
func (v *accountVisit) deactivateForm(problem string) page {
	return v.s.render(http.StatusOK, view{
		Title: "Deactivate your account", Error: problem,
		Paragraphs: []string{
			"Deactivating " + v.user + " signs out every device, and nobody can sign in to the account again. It cannot be undone.",
			"Enter your password to confirm that it is you.",
		},
		Form: &form{
			Action: AccountPath, Hidden: v.hidden(), Fields: []field{passwordField},
			Buttons: []button{{buttonDeactivate, "Deactivate account"}},
		},
		Links: []link{{URL: AccountPath, Label: "Cancel"}},
	})
}

// submit answers a form of a signed-in user.
func (v *accountVisit) submit() {
	password := v.r.PostForm.Get("password")
	switch v.r.PostForm.Get("action") {
	case buttonDelete:
		d, ok := v.ownDevice()
		if !ok {
			return
		}
		if problem, status := v.s.checkPassword(v.r, v.user, password, "Wrong password."); problem != "" {
			v.deleteForm(d, problem).withStatus(status).write(v.w)
			return
		}
		if err := v.s.store.DeleteDevice(v.user, d.ID); err != nil {
			v.problem(http.StatusNotFound, "There is no device "+d.ID+" among your devices. It may have been deleted already.").write(v.w)
			return
		}
		v.s.render(http.StatusOK, view{
			Title:      "Device signed out",
			Paragraphs: []string{"Device " + d.ID + " is signed out and deleted."},
			Links:      []link{{URL: v.url(actionDevicesList, ""), Label: "Your devices"}},
		}).write(v.w)
	case buttonDeactivate:
		if problem, status := v.s.checkPassword(v.r, v.user, password, "Wrong password."); problem != "" {
			v.deactivateForm(problem).withStatus(status).write(v.w)
			return
		}
		if err := v.s.store.Deactivate(v.user); err != nil {
			v.problem(http.StatusNotFound, "The account no longer exists.").write(v.w)
			return
		}
		v.s.endAccountSessions(v.user)
		http.SetCookie(v.w, &http.Cookie{Name: accountCookie, Path: AccountPath, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		v.s.render(http.StatusOK, view{
			Title:      "Account deactivated",
			Paragraphs: []string{v.user + " is deactivated and all its devices are signed out."},
		}).write(v.w)
	case buttonReset:
		v.s.approveReset(v.user, v.now)
		v.s.render(http.StatusOK, view{
			Title: "Cross-signing reset approved",
			Paragraphs: []string{
				"Go back to your app: for the next " + strconv.Itoa(int(resetApprovalLifetime/time.Minute)) +
					" minutes it may replace the cross-signing keys of " + v.user + " without asking for your password.",
			},
			Links: []link{{URL: AccountPath, Label: "Your account"}},
		}).write(v.w)
	default:
		v.problem(http.StatusBadRequest, "This form asks for nothing this page does.").write(v.w)
	}
}
