package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/media"
)

// Media: the content repository, in memory (package media). Uploads are
// raw bytes, not JSON: the body check leaves them to these handlers
// (rawBodyEndpoint), which read them up to the store's upload cap. A
// thumbnail is the medium as uploaded: nothing is scaled.

// mediaUploadPrefix is where uploads go: POST .../upload and PUT
// .../upload/{serverName}/{mediaId}.
const mediaUploadPrefix = "/_matrix/media/v3/upload"

// Download waits: how long a download waits for created media not yet
// uploaded, by default (the spec's) and at most.
const (
	defaultMediaWait = 20 * time.Second
	maxMediaWait     = 60 * time.Second
)

func (Handlers) GetConfig(ctx context.Context, _ clientserver.GetConfigRequestObject) (clientserver.GetConfigResponseObject, error) {
	return clientserver.GetConfig200JSONResponse{MUploadSize: new(From(ctx).World.Media.MaxUploadSize())}, nil
}

func (Handlers) GetConfigAuthed(ctx context.Context, _ clientserver.GetConfigAuthedRequestObject) (clientserver.GetConfigAuthedResponseObject, error) {
	return clientserver.GetConfigAuthed200JSONResponse{MUploadSize: new(From(ctx).World.Media.MaxUploadSize())}, nil
}

func (Handlers) UploadContent(ctx context.Context, req clientserver.UploadContentRequestObject) (clientserver.UploadContentResponseObject, error) {
	x := From(ctx)
	data, err := readUpload(x, req.Body)
	if err != nil {
		return nil, err
	}
	uri, err := x.World.Media.Upload(x.Principal.UserID, deref(req.Params.ContentType), deref(req.Params.Filename), data)
	if err != nil {
		return nil, mediaError(err)
	}
	return clientserver.UploadContent200JSONResponse{ContentURI: uri}, nil
}

func (Handlers) CreateContent(ctx context.Context, _ clientserver.CreateContentRequestObject) (clientserver.CreateContentResponseObject, error) {
	x := From(ctx)
	uri, expires := x.World.Media.Create(x.Principal.UserID)
	return clientserver.CreateContent200JSONResponse{ContentURI: uri, UnusedExpiresAt: new(expires.UnixMilli())}, nil
}

func (Handlers) UploadContentToMXC(ctx context.Context, req clientserver.UploadContentToMXCRequestObject) (clientserver.UploadContentToMXCResponseObject, error) {
	x := From(ctx)
	data, err := readUpload(x, req.Body)
	if err != nil {
		return nil, err
	}
	err = x.World.Media.UploadTo(x.Principal.UserID, req.ServerName, req.MediaID, deref(req.Params.ContentType), deref(req.Params.Filename), data)
	if err != nil {
		return nil, mediaError(err)
	}
	return clientserver.UploadContentToMXC200JSONResponse{}, nil
}

// readUpload reads an upload's body, refusing it as soon as it is known to
// be larger than the store takes: by its Content-Length, or once that many
// bytes have come.
func readUpload(x *Exchange, body io.Reader) ([]byte, error) {
	limit := x.World.Media.MaxUploadSize()
	if x.req.ContentLength > limit {
		return nil, mediaError(media.ErrTooLarge)
	}
	data, err := io.ReadAll(http.MaxBytesReader(x, io.NopCloser(body), limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, mediaError(media.ErrTooLarge)
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, "M_UNKNOWN", "Could not read the upload: "+err.Error())
	}
	return data, nil
}

func (Handlers) GetContent(ctx context.Context, req clientserver.GetContentRequestObject) (clientserver.GetContentResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, "", req.Params.TimeoutMs)
}

func (Handlers) GetContentOverrideName(ctx context.Context, req clientserver.GetContentOverrideNameRequestObject) (clientserver.GetContentOverrideNameResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, req.FileName, req.Params.TimeoutMs)
}

func (Handlers) GetContentThumbnail(ctx context.Context, req clientserver.GetContentThumbnailRequestObject) (clientserver.GetContentThumbnailResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, "", req.Params.TimeoutMs)
}

func (Handlers) GetContentAuthed(ctx context.Context, req clientserver.GetContentAuthedRequestObject) (clientserver.GetContentAuthedResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, "", req.Params.TimeoutMs)
}

func (Handlers) GetContentOverrideNameAuthed(ctx context.Context, req clientserver.GetContentOverrideNameAuthedRequestObject) (clientserver.GetContentOverrideNameAuthedResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, req.FileName, req.Params.TimeoutMs)
}

func (Handlers) GetContentThumbnailAuthed(ctx context.Context, req clientserver.GetContentThumbnailAuthedRequestObject) (clientserver.GetContentThumbnailAuthedResponseObject, error) {
	return download(ctx, req.ServerName, req.MediaID, "", req.Params.TimeoutMs)
}

// download answers every download and thumbnail operation: the medium as
// uploaded, under filename if not empty, waiting up to timeoutMs (the
// spec's default when nil, capped at maxMediaWait) for created media.
func download(ctx context.Context, serverName, mediaID, filename string, timeoutMs *int64) (*mediaAnswer, error) {
	x := From(ctx)
	wait := defaultMediaWait
	if timeoutMs != nil {
		wait = min(max(time.Duration(*timeoutMs)*time.Millisecond, 0), maxMediaWait)
	}
	waitCtx, cancel := context.WithTimeout(x, wait)
	defer cancel()
	m, err := x.World.Media.Download(waitCtx, serverName, mediaID)
	if err != nil {
		return nil, mediaError(err)
	}
	if filename == "" {
		filename = m.Filename
	}
	return &mediaAnswer{medium: m, filename: filename}, nil
}

// mediaAnswer is a download's answer: the bytes as stored, with their
// content type, and a Content-Disposition that shows in the browser only
// the types the spec deems safe. It sends no empty header, which the
// generated binary answers would.
type mediaAnswer struct {
	medium   media.Media
	filename string
}

func (a *mediaAnswer) write(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", a.medium.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(a.medium.Data)))
	disposition := "attachment"
	if inlineSafe(a.medium.ContentType) {
		disposition = "inline"
	}
	if a.filename != "" {
		if d := mime.FormatMediaType(disposition, map[string]string{"filename": a.filename}); d != "" {
			disposition = d
		}
	}
	h.Set("Content-Disposition", disposition)
	// What the spec recommends for media: no script runs in what is
	// served, and any origin may embed it.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err := io.Copy(w, bytes.NewReader(a.medium.Data))
	return err
}

func (a *mediaAnswer) VisitGetContentResponse(w http.ResponseWriter) error { return a.write(w) }
func (a *mediaAnswer) VisitGetContentOverrideNameResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a *mediaAnswer) VisitGetContentThumbnailResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a *mediaAnswer) VisitGetContentAuthedResponse(w http.ResponseWriter) error { return a.write(w) }
func (a *mediaAnswer) VisitGetContentOverrideNameAuthedResponse(w http.ResponseWriter) error {
	return a.write(w)
}
func (a *mediaAnswer) VisitGetContentThumbnailAuthedResponse(w http.ResponseWriter) error {
	return a.write(w)
}

// inlineSafe reports whether a content type may be shown inline: the
// list the spec gives (v1.12) of types a browser cannot run as a page.
func inlineSafe(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
		"image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
		"video/mp4", "video/webm", "video/ogg", "video/quicktime",
		"audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave",
		"audio/wav", "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac":
		return true
	}
	return false
}

// rawBodyEndpoint reports whether path takes a body that is neither JSON
// nor capped at MaxBodyBytes: the media uploads, read by their handlers.
func rawBodyEndpoint(path string) bool { return strings.HasPrefix(path, mediaUploadPrefix) }

// mediaError answers an error of package media with the Matrix error its
// documentation names.
func mediaError(err error) *Error { return fromStore(err, mediaErrors) }

var mediaErrors = []storeError{
	{media.ErrNotFound, http.StatusNotFound, "M_NOT_FOUND"},
	{media.ErrTooLarge, http.StatusRequestEntityTooLarge, "M_TOO_LARGE"},
	{media.ErrStoreFull, http.StatusForbidden, "M_FORBIDDEN"},
	{media.ErrForbidden, http.StatusForbidden, "M_FORBIDDEN"},
	{media.ErrCannotOverwrite, http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA"},
	{media.ErrNotYetUploaded, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED"},
}
