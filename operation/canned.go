package operation

import (
	"io"
	"net/http"
)

// CannedHeader marks an answer that a generated CannedServer made from the
// spec alone rather than from a server's state; its value is "true".
const CannedHeader = "X-Mxauth-Canned"

// WriteCanned sends one of a generated CannedServer's fixed answers: the
// status, the content type (none when empty), CannedHeader, and body.
func WriteCanned(w http.ResponseWriter, status int, contentType, body string) error {
	h := w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set(CannedHeader, "true")
	w.WriteHeader(status)
	_, err := io.WriteString(w, body)
	return err
}
