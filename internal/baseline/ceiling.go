package baseline

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Ceiling returns the upper yardstick: a bare net/http handler that
// answers the measured requests (Endpoints and RoomEndpoints) with fixed
// bytes, shaped as the Server's answers (status, headers, the same JSON
// fields, tokens of the same length) but computed once, here. It looks at
// nothing but what it must to answer at all: whoami, /sync and the message
// send check for a "Bearer " prefix, and every endpoint reads the request
// body to the end. No state, no token is
// checked or issued, so it measures what net/http and the loopback cost
// on their own: the physical limit of this stack, which no homeserver
// can beat. user is the full user ID its answers name.
func Ceiling(serverName, user, baseURL string, versions []string) http.Handler {
	lifetime := 5 * time.Minute
	access, refresh := newToken("mat_"), newToken("mrt_")
	device := "CEILINGDEV"
	var wellKnown baselineWellKnown
	wellKnown.Homeserver.BaseURL = baseURL

	mux := http.NewServeMux()
	mux.Handle("GET /_matrix/client/versions", newFixed(http.StatusOK, versionsAnswer{versions, refreshTokenFeature}))
	mux.Handle("GET /_matrix/client/v3/account/whoami", bearerOnly(newFixed(http.StatusOK, whoamiAnswer{user, device, false})))
	mux.Handle(syncPattern, bearerOnly(newFixed(http.StatusOK, emptySync(syncPosition))))
	mux.Handle(sendPattern, bearerOnly(newFixed(http.StatusOK, sendAnswer{newEventID()})))
	mux.Handle("POST /_matrix/client/v3/login", newFixed(http.StatusOK, loginAnswer{
		UserID: user, AccessToken: access, DeviceID: device, RefreshToken: refresh,
		ExpiresInMs: lifetime.Milliseconds(), HomeServer: serverName, WellKnown: wellKnown,
	}))
	mux.Handle("POST /_matrix/client/v3/refresh", newFixed(http.StatusOK, refreshAnswer{access, refresh, lifetime.Milliseconds()}))
	oauth := newFixed(http.StatusOK, oauthTokenAnswer{access, int64(lifetime / time.Second), refresh, "Bearer"})
	oauth.header["Cache-Control"] = []string{"no-store"}
	mux.Handle("POST /oauth2/token", oauth)
	return mux
}

// bearerOnly passes requests with an Authorization header of the Bearer
// scheme to answer, and refuses the others as without a token.
func bearerOnly(answer http.Handler) http.Handler {
	missing := newFixed(http.StatusUnauthorized, matrixError{"M_MISSING_TOKEN", "refused"})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			answer.ServeHTTP(w, r)
			return
		}
		missing.ServeHTTP(w, r)
	})
}

// fixed is an answer encoded once and sent as it is.
type fixed struct {
	status int
	header http.Header
	body   []byte
}

// newFixed encodes v, with the headers every client-server answer carries.
func newFixed(status int, v any) *fixed {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // the answer types above always encode
	}
	f := &fixed{status: status, header: http.Header{}, body: body}
	setAnswerHeaders(f.header)
	return f
}

// ServeHTTP reads the request body to the end, as a server that looked at
// it would, and sends the fixed answer. The header values are shared,
// never copied: net/http only reads them.
func (f *fixed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	for k, v := range f.header {
		h[k] = v
	}
	w.WriteHeader(f.status)
	_, _ = w.Write(f.body)
}
