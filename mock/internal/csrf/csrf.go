// Package csrf protects the mock's HTML forms (the OAuth 2.0 pages, the
// control page). The browser holds a random nonce in an HttpOnly,
// SameSite=Strict cookie, which other sites cannot send; a form carries
// the nonce's token, an HMAC-SHA256 of it under a Key only the server
// knows, in a hidden field named "csrf". A submitted form is valid when
// its field holds the token of its cookie's nonce and the browser does not
// say another origin posted it (Sec-Fetch-Site). Binding the token to the
// server's key is what stops a page of the same site (another port on the
// loopback address), which can plant a cookie of its choice, from posting
// a form: it cannot make the token that goes with its nonce. The package
// makes no nonces: callers draw them from the store's random source.
package csrf

import (
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CookieName is the cookie that holds the browser's nonce.
const CookieName = "mxauth_csrf"

// Field is the form field that carries the token.
const Field = "csrf"

// Key signs nonces into tokens. The zero Key is not secret: use NewKey.
type Key struct{ secret [32]byte }

// NewKey returns a key drawn from crypto/rand, never from a deterministic
// generator, which a seed would make predictable.
func NewKey() *Key {
	k := new(Key)
	_, _ = cryptorand.Read(k.secret[:]) // never fails
	return k
}

// Token returns the token of nonce, for a form's hidden field.
func (k *Key) Token(nonce string) string {
	mac := hmac.New(sha256.New, k.secret[:])
	mac.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether the parsed form of r carries the token of its
// cookie's nonce, and was not posted, as the browser says, from another
// origin.
func (k *Key) Valid(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	nonce := Current(r)
	return nonce != "" && hmac.Equal([]byte(k.Token(nonce)), []byte(r.PostForm.Get(Field)))
}

// Cookie returns the cookie that carries nonce.
func Cookie(nonce string) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: nonce, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// Current returns the nonce the request's cookie holds, "" without one.
func Current(r *http.Request) string {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}
