// Package csrf protects the mock's HTML forms (the OAuth 2.0 pages, the
// control page) by double submit: the token travels in an HttpOnly,
// SameSite=Strict cookie, which other sites cannot send, and in a hidden
// field named "csrf"; a submitted form is valid when the two match. It
// makes no tokens: callers draw them from the store's random source.
package csrf

import (
	"crypto/subtle"
	"net/http"
)

// CookieName is the cookie that holds a form's token.
const CookieName = "mxauth_csrf"

// Field is the form field that carries the token.
const Field = "csrf"

// Cookie returns the cookie that carries token.
func Cookie(token string) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// Current returns the token the request's cookie holds, "" without one.
func Current(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// Valid reports whether the parsed form of r carries its cookie's token.
func Valid(r *http.Request) bool {
	token := Current(r)
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(r.PostForm.Get(Field))) == 1
}
