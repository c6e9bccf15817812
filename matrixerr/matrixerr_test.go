package matrixerr_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/matrixerr"
)

func TestNewReadsEachKindOfBody(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   matrixerr.Error
		is     error
	}{
		{name: "soft logout", status: 401,
			body: `{"errcode":"M_UNKNOWN_TOKEN","error":"Token expired","soft_logout":true}`,
			want: matrixerr.Error{StatusCode: 401, Errcode: "M_UNKNOWN_TOKEN", Message: "Token expired", SoftLogout: true},
			is:   matrixerr.ErrUnknownToken},
		{name: "rate limited in the body", status: 429,
			body: `{"errcode":"M_LIMIT_EXCEEDED","error":"Slow down","retry_after_ms":1500}`,
			want: matrixerr.Error{StatusCode: 429, Errcode: "M_LIMIT_EXCEEDED", Message: "Slow down", RetryAfter: 1500 * time.Millisecond},
			is:   matrixerr.ErrLimitExceeded},
		{name: "rate limited in seconds", status: 429, header: http.Header{"Retry-After": {"3"}},
			body: `{"errcode":"M_LIMIT_EXCEEDED","error":"Slow down"}`,
			want: matrixerr.Error{StatusCode: 429, Errcode: "M_LIMIT_EXCEEDED", Message: "Slow down", RetryAfter: 3 * time.Second},
			is:   matrixerr.ErrLimitExceeded},
		{name: "rate limited until a date", status: 429, header: http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}},
			body: `{"errcode":"M_LIMIT_EXCEEDED"}`,
			want: matrixerr.Error{StatusCode: 429, Errcode: "M_LIMIT_EXCEEDED", RetryAfter: time.Minute},
			is:   matrixerr.ErrLimitExceeded},
		{name: "oauth", status: 400,
			body: `{"error":"invalid_grant","error_description":"The code was used","error_uri":"https://example.org/e"}`,
			want: matrixerr.Error{StatusCode: 400, Errcode: "invalid_grant", Message: "The code was used", ErrorURI: "https://example.org/e"},
			is:   matrixerr.ErrInvalidGrant},
		{name: "a sentence in error is a message", status: 500,
			body: `{"error":"Internal server error"}`,
			want: matrixerr.Error{StatusCode: 500, Message: "Internal server error"}},
		{name: "html", status: 502, body: `<html>Bad gateway</html>`,
			want: matrixerr.Error{StatusCode: 502}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matrixerr.New(tt.status, tt.header, []byte(tt.body), now)
			tt.want.Body = []byte(tt.body)
			if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
			if tt.is != nil && !errors.Is(fmt.Errorf("wrapped: %w", got), tt.is) {
				t.Errorf("errors.Is(err, %v) = false", tt.is)
			}
			if errors.Is(got, matrixerr.ErrForbidden) {
				t.Error("matches M_FORBIDDEN too")
			}
		})
	}
}

func TestNewReadsUIA(t *testing.T) {
	body := `{"flows":[{"stages":["m.login.password"]},{"stages":["m.login.sso"]}],"session":"xyz",
		"completed":["m.login.dummy"],"params":{"m.login.terms":{"policies":{}}},"errcode":"M_FORBIDDEN","error":"Wrong password"}`
	e := matrixerr.New(401, nil, []byte(body), time.Now())
	if e.UIA == nil {
		t.Fatal("no UIA")
	}
	if len(e.UIA.Flows) != 2 || e.UIA.Flows[0].Stages[0] != "m.login.password" || e.UIA.Session != "xyz" ||
		len(e.UIA.Completed) != 1 || string(e.UIA.Params["m.login.terms"]) != `{"policies":{}}` {
		t.Errorf("UIA = %+v", e.UIA)
	}
	if !errors.Is(e, matrixerr.ErrForbidden) {
		t.Error("the errcode of a failed stage is lost")
	}
	if got := matrixerr.New(403, nil, []byte(body), time.Now()); got.UIA != nil {
		t.Error("UIA on a 403")
	}
}

func TestFromResponseLeavesTheBodyReadable(t *testing.T) {
	const body = `{"errcode":"M_NOT_FOUND","error":"No such device"}`
	resp := &http.Response{StatusCode: 404, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	e := matrixerr.FromResponse(resp)
	if !errors.Is(e, matrixerr.ErrNotFound) || e.Message != "No such device" {
		t.Errorf("got %v", e)
	}
	again, err := io.ReadAll(resp.Body)
	if err != nil || string(again) != body {
		t.Errorf("body after FromResponse: %q, %v", again, err)
	}
	if got, want := e.Error(), "M_NOT_FOUND (HTTP 404): No such device"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
