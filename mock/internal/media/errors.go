package media

import "errors"

// Errors returned by the Store, matched with errors.Is. Each comment names
// the Matrix error a handler should answer with.
var (
	// ErrNotFound: no such medium on this server, or a creation that
	// lapsed (404 M_NOT_FOUND).
	ErrNotFound = errors.New("media not found")
	// ErrTooLarge: the upload is larger than MaxUploadSize (413 M_TOO_LARGE).
	ErrTooLarge = errors.New("upload larger than the maximum upload size")
	// ErrStoreFull: the upload would take the store past MaxTotalSize; the
	// spec's answer for a quota is 403 M_FORBIDDEN.
	ErrStoreFull = errors.New("media store full")
	// ErrForbidden: an upload to media created by another user (403 M_FORBIDDEN).
	ErrForbidden = errors.New("media created by another user")
	// ErrCannotOverwrite: an upload to media that have content already
	// (409 M_CANNOT_OVERWRITE_MEDIA).
	ErrCannotOverwrite = errors.New("media already uploaded")
	// ErrNotYetUploaded: created media still without content when the
	// download stopped waiting (504 M_NOT_YET_UPLOADED).
	ErrNotYetUploaded = errors.New("media not yet uploaded")
)
