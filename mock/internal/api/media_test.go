package api_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

const (
	mediaV3 = "/_matrix/media/v3/"
	mediaV1 = "/_matrix/client/v1/media/"
)

// mediaID returns the server name and media ID of an mxc URI.
func mediaID(t *testing.T, uri any) (server, id string) {
	t.Helper()
	s, _ := uri.(string)
	rest, ok := strings.CutPrefix(s, "mxc://")
	server, id, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || id == "" {
		t.Fatalf("content_uri %q is not an mxc URI", s)
	}
	return server, id
}

func TestMediaConfig(t *testing.T) {
	hs, alice, _ := keysServer(t)
	for _, path := range []string{mediaV3 + "config", mediaV1 + "config"} {
		a := jsonCall(t, hs, "GET", path, alice.token, nil)
		a.want(t, http.StatusOK, "")
		if a.body["m.upload.size"] != float64(50<<20) {
			t.Errorf("%s: %s, want m.upload.size 50 MiB", path, a.raw)
		}
	}
}

// TestMediaUploadDownload: an upload larger than the JSON body cap, and
// not JSON, comes back byte for byte from every download and thumbnail
// path, with its content type and file name.
func TestMediaUploadDownload(t *testing.T) {
	hs, alice, _ := keysServer(t)
	data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}, 300_000) // 2.4 MB, past the 1 MiB JSON cap
	up := request(t, hs, "POST", mediaV3+"upload?filename=cat%20picture.png", alice.token, data, "image/png")
	up.want(t, http.StatusOK, "")
	server, id := mediaID(t, up.body["content_uri"])
	if server != "localhost" {
		t.Errorf("content_uri %s: want server localhost", up.body["content_uri"])
	}
	ref := server + "/" + id
	cases := []struct {
		path, token, filename string
	}{
		{mediaV1 + "download/" + ref, alice.token, "cat picture.png"},
		{mediaV1 + "download/" + ref + "/other.png", alice.token, "other.png"},
		{mediaV1 + "thumbnail/" + ref + "?width=32&height=32", alice.token, "cat picture.png"},
		{mediaV3 + "download/" + ref, "", "cat picture.png"},
		{mediaV3 + "download/" + ref + "/other.png", "", "other.png"},
		{mediaV3 + "thumbnail/" + ref + "?width=32&height=32&method=scale", "", "cat picture.png"},
	}
	for _, c := range cases {
		a := request(t, hs, "GET", c.path, c.token, nil, "")
		a.want(t, http.StatusOK, "")
		if !bytes.Equal(a.raw, data) {
			t.Errorf("%s: %d bytes, not the %d uploaded", c.path, len(a.raw), len(data))
		}
		if ct := a.header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("%s: Content-Type %q, want image/png", c.path, ct)
		}
		if cd := a.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") || !strings.Contains(cd, c.filename) {
			t.Errorf("%s: Content-Disposition %q, want inline with %q", c.path, cd, c.filename)
		}
	}
}

func TestMediaDispositionAndType(t *testing.T) {
	hs, alice, _ := keysServer(t)
	for _, c := range []struct {
		contentType, want string
	}{
		{"text/html", "attachment"},             // a page a browser would run
		{"text/plain; charset=utf-8", "inline"}, // parameters kept
		{"", "attachment"},                      // none given: octet-stream
	} {
		up := request(t, hs, "POST", mediaV3+"upload", alice.token, []byte("<b>hi</b>"), c.contentType)
		up.want(t, http.StatusOK, "")
		server, id := mediaID(t, up.body["content_uri"])
		a := request(t, hs, "GET", mediaV1+"download/"+server+"/"+id, alice.token, nil, "")
		a.want(t, http.StatusOK, "")
		wantType := c.contentType
		if wantType == "" {
			wantType = "application/octet-stream"
		}
		if a.header.Get("Content-Type") != wantType || a.header.Get("Content-Disposition") != c.want {
			t.Errorf("uploaded as %q: served as %q, %q; want %q, %q", c.contentType,
				a.header.Get("Content-Type"), a.header.Get("Content-Disposition"), wantType, c.want)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(a.header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("download lacks the protective headers: %v", a.header)
		}
	}
}

func TestMediaCreateThenUpload(t *testing.T) {
	hs, alice, bob := keysServer(t)
	c := jsonCall(t, hs, "POST", "/_matrix/media/v1/create", alice.token, map[string]any{})
	c.want(t, http.StatusOK, "")
	if _, ok := c.body["unused_expires_at"].(float64); !ok {
		t.Errorf("create %s: no unused_expires_at", c.raw)
	}
	server, id := mediaID(t, c.body["content_uri"])
	ref := server + "/" + id
	// Not uploaded yet: a download that does not wait says so.
	request(t, hs, "GET", mediaV1+"download/"+ref+"?timeout_ms=0", alice.token, nil, "").want(t, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
	request(t, hs, "PUT", mediaV3+"upload/"+ref, bob.token, []byte("x"), "text/plain").want(t, http.StatusForbidden, "M_FORBIDDEN")
	request(t, hs, "PUT", mediaV3+"upload/"+ref+"?filename=a.txt", alice.token, []byte("content"), "text/plain").want(t, http.StatusOK, "")
	request(t, hs, "PUT", mediaV3+"upload/"+ref, alice.token, []byte("again"), "text/plain").want(t, http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")
	a := request(t, hs, "GET", mediaV1+"download/"+ref, bob.token, nil, "")
	a.want(t, http.StatusOK, "")
	if string(a.raw) != "content" || !strings.Contains(a.header.Get("Content-Disposition"), "a.txt") {
		t.Fatalf("download after PUT: %q, %v", a.raw, a.header)
	}
	request(t, hs, "PUT", mediaV3+"upload/localhost/nosuchmedia", alice.token, []byte("x"), "text/plain").want(t, http.StatusNotFound, "M_NOT_FOUND")
}

func TestMediaErrors(t *testing.T) {
	hs, alice, _ := keysServer(t)
	for _, c := range []struct {
		name, method, path, token string
		status                    int
		errcode                   string
	}{
		{"upload without a token", "POST", mediaV3 + "upload", "", 401, "M_MISSING_TOKEN"},
		{"authenticated download without a token", "GET", mediaV1 + "download/localhost/abc", "", 401, "M_MISSING_TOKEN"},
		{"unknown media", "GET", mediaV1 + "download/localhost/abc", alice.token, 404, "M_NOT_FOUND"},
		{"unknown media, legacy", "GET", mediaV3 + "download/localhost/abc", "", 404, "M_NOT_FOUND"},
		{"another server's media", "GET", mediaV1 + "download/example.org/abc", alice.token, 404, "M_NOT_FOUND"},
		{"thumbnail without a size", "GET", mediaV1 + "thumbnail/localhost/abc", alice.token, 400, "M_MISSING_PARAM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			request(t, hs, c.method, c.path, c.token, []byte("data"), "application/octet-stream").want(t, c.status, c.errcode)
		})
	}
}

// TestMediaTooLarge: an upload past m.upload.size is refused with 413
// M_TOO_LARGE, whether its Content-Length says so or it is streamed.
func TestMediaTooLarge(t *testing.T) {
	hs, alice, _ := keysServer(t)
	const limit = 50 << 20
	t.Run("streamed", func(t *testing.T) {
		body := io.LimitReader(zeros{}, limit+1)
		request(t, hs, "POST", mediaV3+"upload", alice.token, io.NopCloser(body), "application/octet-stream").want(t, http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	})
	t.Run("Content-Length", func(t *testing.T) {
		req, err := http.NewRequest("POST", hs.URL+mediaV3+"upload", io.LimitReader(zeros{}, limit+1))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = limit + 1
		req.Header.Set("Authorization", "Bearer "+alice.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
	// The mock still answers, and took nothing.
	jsonCall(t, hs, "GET", mediaV1+"config", alice.token, nil).want(t, http.StatusOK, "")
}

// zeros reads as an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
