package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Backend is the server the control page shows and acts on.
type Backend interface {
	// Model returns the server's state and journal now.
	Model() Model
	// Act applies a device action of the control API ("expire",
	// "soft_logout", "hard_logout", "revoke_refresh_token") to the
	// device; an error says the device or the action is unknown.
	Act(action, user, device string) error
	// AdvanceClock moves the clock by d; SetClock sets it. Both fire the
	// time rules that fall due.
	AdvanceClock(d time.Duration)
	SetClock(t time.Time)
}

// CSRF protects the page's forms as the server's other pages are
// protected.
type CSRF interface {
	// Token returns the token to put in the forms of a page served in
	// answer to r, and the cookie to set with it (nil: r's is current).
	Token(r *http.Request) (string, *http.Cookie)
	// Valid reports whether the parsed form of r carries its cookie's
	// token.
	Valid(r *http.Request) bool
}

// Config is what a Handler needs.
type Config struct {
	Backend      Backend
	ControlToken string // the control API's bearer token
	CSRF         CSRF
	Refresh      time.Duration    // how often the page reloads itself (DefaultRefresh when zero)
	Now          func() time.Time // wall time, for cookie sessions and the sign-in limit (time.Now when nil)
}

// Defaults and bounds of a Handler.
const (
	DefaultRefresh = 5 * time.Second
	// SessionCookie is the cookie that signs a browser in to the control
	// pages: a random session ID, never the token itself.
	SessionCookie  = "mxauth_control"
	sessionLife    = 12 * time.Hour
	maxSessions    = 64
	maxFailures    = 10 // wrong tokens per failureWindow, then 429
	failureWindow  = time.Minute
	maxFormBytes   = 16 << 10
	cookiePath     = "/_mock/"
	sessionIDBytes = 32
)

// Handler serves the control page, its forms and the timeline file. A
// browser signs in once with the control token and gets an HttpOnly,
// SameSite=Strict session cookie for this server's control paths; the
// page then needs no script. Requests with the control token as a bearer
// token are served too.
type Handler struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	sessions map[string]time.Time // session ID -> end
	failures []time.Time          // recent wrong tokens
}

// NewHandler returns the handler of the control page.
func NewHandler(cfg Config) *Handler {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), sessions: map[string]time.Time{}}
	h.mux.HandleFunc("GET "+PagePath, h.page)
	h.mux.HandleFunc("POST "+SignInPath, h.signIn)
	h.mux.HandleFunc("POST "+SignOutPath, h.form(h.signOut))
	h.mux.HandleFunc("POST "+ClockPath, h.form(h.clock))
	h.mux.HandleFunc("POST "+DevicePath, h.form(h.device))
	h.mux.HandleFunc("GET "+TimelinePath, h.timeline)
	return h
}

// Serves reports whether path is one of the handler's.
func Serves(path string) bool {
	return path == PagePath || strings.HasPrefix(path, PagePath+"/") || path == TimelinePath
}

// ServeHTTP serves the page, its forms and the timeline file.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Authorized reports whether r carries the control token as a bearer
// token, or the cookie of a signed-in browser.
func (h *Handler) Authorized(r *http.Request) bool { return h.bearer(r) || h.signedIn(r) }

func (h *Handler) bearer(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.cfg.ControlToken)) == 1
}

func (h *Handler) signedIn(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	end, ok := h.sessions[c.Value]
	return ok && h.cfg.Now().Before(end)
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if !h.Authorized(r) {
		h.signInPage(w, r, http.StatusOK, "")
		return
	}
	h.livePage(w, r, http.StatusOK, "")
}

// paused reports whether the page should not reload itself: ?live=0 on
// the page, live=0 in a form sent from a paused page.
func paused(r *http.Request) bool {
	return r.URL.Query().Get("live") == "0" || r.PostForm.Get("live") == "0"
}

func (h *Handler) livePage(w http.ResponseWriter, r *http.Request, status int, notice string) {
	csrf, cookie := h.cfg.CSRF.Token(r)
	o := Options{Live: true, CSRF: csrf, Refresh: h.cfg.Refresh, Notice: notice}
	if paused(r) {
		o.Refresh = 0
	}
	page, err := Render(h.cfg.Backend.Model(), o)
	write(w, status, page, err, cookie)
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request, status int, notice string) {
	csrf, cookie := h.cfg.CSRF.Token(r)
	page, err := RenderSignIn(csrf, notice)
	write(w, status, page, err, cookie)
}

func (h *Handler) timeline(w http.ResponseWriter, r *http.Request) {
	if !h.Authorized(r) {
		http.Error(w, "Sign in at "+PagePath+" or send the control token", http.StatusUnauthorized)
		return
	}
	page, err := Render(h.cfg.Backend.Model(), Options{})
	write(w, http.StatusOK, page, err, nil)
}

// write sends a rendered page with its policy and the headers that keep it
// from being framed, sniffed, cached or leaking its address.
func write(w http.ResponseWriter, status int, page Rendered, err error, cookie *http.Cookie) {
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", page.Policy)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	if cookie != nil {
		http.SetCookie(w, cookie)
	}
	w.WriteHeader(status)
	_, _ = w.Write(page.HTML)
}

// parseForm reads a small form body.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm()
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil || !h.cfg.CSRF.Valid(r) {
		h.signInPage(w, r, http.StatusForbidden, "The form expired; try again.")
		return
	}
	if h.tooManyFailures() {
		h.signInPage(w, r, http.StatusTooManyRequests, "Too many wrong tokens; wait a minute.")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(h.cfg.ControlToken)) != 1 {
		h.fail()
		h.signInPage(w, r, http.StatusForbidden, "Wrong control token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: h.newSession(), Path: cookiePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, PagePath, http.StatusSeeOther)
}

// tooManyFailures reports whether maxFailures wrong tokens came within the
// last failureWindow.
func (h *Handler) tooManyFailures() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	cutoff := h.cfg.Now().Add(-failureWindow)
	kept := h.failures[:0]
	for _, t := range h.failures {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	h.failures = kept
	return len(kept) >= maxFailures
}

func (h *Handler) fail() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, h.cfg.Now())
}

// newSession starts a cookie session, ending the oldest when maxSessions
// are open.
func (h *Handler) newSession() string {
	b := make([]byte, sessionIDBytes)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	id := base64.RawURLEncoding.EncodeToString(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	for sid, end := range h.sessions {
		if !now.Before(end) {
			delete(h.sessions, sid)
		}
	}
	if len(h.sessions) >= maxSessions {
		oldest := ""
		for sid, end := range h.sessions {
			if oldest == "" || end.Before(h.sessions[oldest]) {
				oldest = sid
			}
		}
		delete(h.sessions, oldest)
	}
	h.sessions[id] = now.Add(sessionLife)
	return id
}

// form wraps the handler of a form: the request must come from a signed-in
// browser with the form's CSRF token, or carry the control token (which a
// cross-site form cannot). It answers 303 to the page when act succeeds,
// and the page with the problem otherwise.
func (h *Handler) form(act func(*http.Request) (status int, problem string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch err := parseForm(w, r); {
		case err != nil:
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		case h.bearer(r):
		case !h.signedIn(r):
			h.signInPage(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		case !h.cfg.CSRF.Valid(r):
			h.livePage(w, r, http.StatusForbidden, "The form expired; try again.")
			return
		}
		if status, problem := act(r); problem != "" {
			h.livePage(w, r, status, problem)
			return
		}
		back := PagePath
		if paused(r) {
			back += "?live=0"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

func (h *Handler) signOut(r *http.Request) (int, string) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		h.mu.Lock()
		delete(h.sessions, c.Value)
		h.mu.Unlock()
	}
	return 0, ""
}

func (h *Handler) clock(r *http.Request) (int, string) {
	switch r.PostForm.Get("action") {
	case "advance":
		d, err := time.ParseDuration(strings.TrimSpace(r.PostForm.Get("by")))
		if err != nil {
			return http.StatusBadRequest, `Advance by a duration such as "6m" or "1h30m".`
		}
		h.cfg.Backend.AdvanceClock(d)
	case "set":
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(r.PostForm.Get("time")))
		if err != nil {
			return http.StatusBadRequest, `Set the clock to an RFC 3339 time such as "2026-01-01T00:10:00Z".`
		}
		h.cfg.Backend.SetClock(t)
	default:
		return http.StatusBadRequest, "Unknown clock action."
	}
	return 0, ""
}

func (h *Handler) device(r *http.Request) (int, string) {
	f := r.PostForm
	if err := h.cfg.Backend.Act(f.Get("action"), f.Get("user"), f.Get("device")); err != nil {
		return http.StatusNotFound, "Cannot " + f.Get("action") + " " + f.Get("user") + " " + f.Get("device") + ": " + err.Error()
	}
	return 0, ""
}
