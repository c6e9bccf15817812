package csrf

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// form returns a submitted form with the field, unless empty the cookie,
// and unless empty the Sec-Fetch-Site header.
func form(field, cookie, site string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{Field: {field}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		r.AddCookie(Cookie(cookie))
	}
	if site != "" {
		r.Header.Set("Sec-Fetch-Site", site)
	}
	_ = r.ParseForm()
	return r
}

// TestValid: only a form whose field holds the token of its cookie's
// nonce, under this key, passes; a planted cookie with a field of the
// same value does not, nor a post another origin made.
func TestValid(t *testing.T) {
	k, other := NewKey(), NewKey()
	tok := k.Token("nonce")
	tests := []struct {
		name                string
		field, cookie, site string
		want                bool
	}{
		{"token of the nonce", tok, "nonce", "", true},
		{"same origin", tok, "nonce", "same-origin", true},
		{"typed in", tok, "nonce", "none", true},
		{"planted cookie, field alike", "x", "x", "", false},
		{"the nonce itself", "nonce", "nonce", "", false},
		{"another nonce", tok, "other", "", false},
		{"another key", other.Token("nonce"), "nonce", "", false},
		{"no cookie", tok, "", "", false},
		{"nothing", "", "", "", false},
		{"same site, another port", tok, "nonce", "same-site", false},
		{"cross site", tok, "nonce", "cross-site", false},
	}
	for _, tt := range tests {
		if got := k.Valid(form(tt.field, tt.cookie, tt.site)); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCookie: the cookie is out of script's and other sites' reach.
func TestCookie(t *testing.T) {
	c := Cookie("nonce")
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v", c)
	}
	if got := Current(form("", "nonce", "")); got != "nonce" {
		t.Errorf("Current = %q", got)
	}
}
