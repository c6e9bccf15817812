package operation

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
)

func TestBearerToken(t *testing.T) {
	edit := table.BearerToken(func(context.Context) (string, error) { return "tok", nil })
	for _, tc := range []struct {
		method, path, want string
	}{
		{"GET", "/_matrix/client/v3/devices", "Bearer tok"},
		{"GET", "/_matrix/client/versions", "Bearer tok"},
		{"POST", "/_matrix/client/v1/login/sso", ""},
		{"GET", "/not/an/operation", ""},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if err := edit(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Authorization"); got != tc.want {
			t.Errorf("%s %s: Authorization = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	failing := table.BearerToken(func(context.Context) (string, error) { return "", errors.New("no session") })
	if err := failing(context.Background(), httptest.NewRequest("GET", "/_matrix/client/v3/devices", nil)); err == nil {
		t.Error("the token source's error was not returned")
	}
}
