package csrf

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// form returns a submitted form with the field and, unless empty, the
// cookie.
func form(field, cookie string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{Field: {field}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		r.AddCookie(Cookie(cookie))
	}
	_ = r.ParseForm()
	return r
}

// TestValid: only a form whose field matches its cookie passes.
func TestValid(t *testing.T) {
	tests := []struct {
		field, cookie string
		want          bool
	}{
		{"tok", "tok", true},
		{"tok", "other", false},
		{"tok", "", false},
		{"", "", false},
		{"", "tok", false},
	}
	for _, tt := range tests {
		if got := Valid(form(tt.field, tt.cookie)); got != tt.want {
			t.Errorf("field %q, cookie %q: Valid = %v, want %v", tt.field, tt.cookie, got, tt.want)
		}
	}
}

// TestCookie: the cookie is out of script's and other sites' reach.
func TestCookie(t *testing.T) {
	c := Cookie("tok")
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v", c)
	}
	if got := Current(form("", "tok")); got != "tok" {
		t.Errorf("Current = %q", got)
	}
}
