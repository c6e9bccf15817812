package oauth

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/mxauth/mxauth/mock/internal/csrf"
)

// page is an HTML answer of the authorization server or the account
// management pages, or a redirect.
type page struct {
	status   int
	body     []byte
	cookie   *http.Cookie
	location string // a 302 to here when set
}

// securityHeaders keep the pages from being framed, sniffed, cached or
// from loading anything. form-action is left open: Chromium applies it to
// the redirect a form's answer makes, which goes to the client's own URI.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
}

func (p page) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	if p.cookie != nil {
		http.SetCookie(w, p.cookie)
	}
	if p.location != "" {
		h.Set("Location", p.location)
		w.WriteHeader(http.StatusFound)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(p.status)
	_, _ = w.Write(p.body)
}

// VisitAuthorizeOAuthClientResponse sends the page as the authorization
// endpoint's answer.
func (p page) VisitAuthorizeOAuthClientResponse(w http.ResponseWriter) error {
	p.write(w)
	return nil
}

func redirectPage(location string) page { return page{location: location} }

// newCSRF returns a fresh nonce's token for a form and the cookie that
// carries the nonce (package csrf).
func (s *Server) newCSRF() (string, *http.Cookie) {
	nonce := s.store.RandomString(32)
	return s.csrfKey.Token(nonce), csrf.Cookie(nonce)
}

// readForm parses a submitted form and checks its CSRF token. On a problem
// it answers with an error page, saying expired when the token does not
// match, and reports false.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, expired string) bool {
	if err := r.ParseForm(); err != nil {
		s.errorPage(http.StatusBadRequest, "The form could not be read.").write(w)
		return false
	}
	if !s.csrfKey.Valid(r) {
		s.errorPage(http.StatusForbidden, expired).write(w)
		return false
	}
	return true
}

//go:embed pages/*.html
var pageFiles embed.FS

// pages is the layout every page is drawn with.
var pages = template.Must(template.ParseFS(pageFiles, "pages/layout.html"))

// view is what the layout shows.
type view struct {
	Title      string
	Error      string
	Paragraphs []string
	Form       *form
	Links      []link
}

type form struct {
	Action  string
	CSRF    string
	Hidden  map[string]string
	Fields  []field
	Buttons []button
}

type field struct{ Name, Label, Type, Value, Autocomplete string }

type button struct{ Value, Label string }

type link struct{ URL, Label string }

// render fills the layout; a form gets a fresh CSRF nonce's token, and
// the cookie that carries the nonce.
func (s *Server) render(status int, v view) page {
	p := page{status: status}
	if v.Form != nil {
		v.Form.CSRF, p.cookie = s.newCSRF()
	}
	var buf bytes.Buffer
	if err := pages.Execute(&buf, v); err != nil {
		return page{status: http.StatusInternalServerError, body: []byte("internal error")}
	}
	p.body = buf.Bytes()
	return p
}

func (s *Server) errorPage(status int, message string) page {
	return s.render(status, view{Title: "Something is wrong", Error: message})
}

// signInPage asks the user to approve an authorization request: sign in,
// or create an account when the client asked for prompt=create.
func (s *Server) signInPage(req *authRequest, problem string, status int) page {
	name, about := clientLabel(req.client)
	user := req.loginHint
	if u, ok := strings.CutPrefix(user, "mxid:"); ok {
		user = u
	}
	v := view{
		Title: "Sign in", Error: problem,
		Paragraphs: []string{name + " wants to use your account on device " + req.device + "."},
		Form: &form{
			Action: AuthorizePath, Hidden: req.hidden(),
			Fields: []field{
				{Name: "username", Label: "Username", Type: "text", Value: user, Autocomplete: "username"},
				{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"},
			},
			Buttons: []button{{"approve", "Sign in and allow"}, {"deny", "Cancel"}},
		},
	}
	if req.prompt == "create" {
		v.Title = "Create an account"
		v.Form.Fields[1].Autocomplete = "new-password"
		v.Form.Buttons[0] = button{"create", "Create account and allow"}
	}
	if about != "" {
		v.Links = append(v.Links, link{URL: about, Label: "About " + name})
	}
	return s.render(status, v)
}

// clientLabel returns how the pages name a client (its client_name, else
// its client_uri) and the link to its site ("" when not https).
func clientLabel(c *client) (name, about string) {
	name = str(c.info.ClientName)
	if name == "" {
		name = str(c.info.ClientURI)
	}
	if uri := str(c.info.ClientURI); uri != "" {
		if u, err := url.Parse(uri); err == nil && u.Scheme == "https" {
			about = uri
		}
	}
	return name, about
}
