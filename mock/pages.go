package mock

import (
	"bytes"
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"strings"
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

// csrfCookie is the name of the cookie that holds a form's CSRF token: the
// form carries the same token in a hidden field (double submit), and
// SameSite=Strict keeps other sites from sending the cookie.
const csrfCookie = "mxauth_csrf"

// newCSRF returns a fresh token and the cookie that carries it.
func newCSRF() (string, *http.Cookie) {
	token := randomString(32)
	return token, &http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// csrfOK reports whether a submitted form carries the token of its cookie.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	form := r.PostForm.Get("csrf")
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) == 1
}

var pages = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · mxauth mock</title>
<style>body{font:16px system-ui,sans-serif;max-width:32em;margin:3em auto;padding:0 1em}
label{display:block;margin:.8em 0 .2em}input[type=text],input[type=password]{width:100%;padding:.4em}
button{margin:1em .5em 0 0;padding:.5em 1em}.error{color:#b00020}.muted{color:#555}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{range .Paragraphs}}<p>{{.}}</p>{{end}}
{{if .Form}}<form method="post" action="{{.Form.Action}}">
<input type="hidden" name="csrf" value="{{.Form.CSRF}}">
{{range $k, $v := .Form.Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{range .Form.Fields}}<label for="{{.Name}}">{{.Label}}</label><input id="{{.Name}}" name="{{.Name}}" type="{{.Type}}" value="{{.Value}}" autocomplete="{{.Autocomplete}}">{{end}}
{{range .Form.Buttons}}<button type="submit" name="action" value="{{.Value}}">{{.Label}}</button>{{end}}
</form>{{end}}
{{range .Links}}<p><a href="{{.URL}}">{{.Label}}</a></p>{{end}}
</body></html>`))

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

// render fills the layout; a form gets a fresh CSRF token and its cookie.
func render(status int, v view) page {
	p := page{status: status}
	if v.Form != nil {
		v.Form.CSRF, p.cookie = newCSRF()
	}
	var buf bytes.Buffer
	if err := pages.Execute(&buf, v); err != nil {
		return page{status: http.StatusInternalServerError, body: []byte("internal error")}
	}
	p.body = buf.Bytes()
	return p
}

func errorPage(status int, message string) page {
	return render(status, view{Title: "Something is wrong", Error: message})
}

// signInPage asks the user to approve an authorization request: sign in,
// or create an account when the client asked for prompt=create.
func signInPage(req *authRequest, problem string, status int) page {
	hidden := map[string]string{
		"response_type": req.responseType, "client_id": req.client.id, "redirect_uri": req.redirectURI,
		"scope": req.scope, "state": req.state, "code_challenge": req.challenge,
		"code_challenge_method": req.challengeKind, "response_mode": req.mode, "prompt": req.prompt,
		"login_hint": req.loginHint,
	}
	name := deref(req.client.info.ClientName)
	if name == "" {
		name = deref(req.client.info.ClientURI)
	}
	user := req.loginHint
	if u, ok := strings.CutPrefix(user, "mxid:"); ok {
		user = u
	}
	v := view{
		Title: "Sign in", Error: problem,
		Paragraphs: []string{name + " wants to use your account on device " + req.device + "."},
		Form: &form{
			Action: oauthAuthorizePath, Hidden: hidden,
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
	if uri := deref(req.client.info.ClientURI); uri != "" {
		if u, err := url.Parse(uri); err == nil && u.Scheme == "https" {
			v.Links = append(v.Links, link{URL: uri, Label: "About " + name})
		}
	}
	return render(status, v)
}
