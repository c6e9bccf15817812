package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/scenario"
)

// applyRules applies the scenario's request rules that fire for the
// exchange's request. It runs after the access token is checked, so
// requests refused for their token do not count. It reports whether the
// request is answered already, and how the answer is to be lost when a
// lose_answer effect fired ("" when not). outside says that no operation
// serves the request: only rules that respond see it.
func applyRules(x *Exchange, r *http.Request, outside bool) (answered bool, loss string) {
	wd := x.World
	if wd.Engine == nil {
		return false, ""
	}
	fired := wd.Engine.OnRequest(scenario.Request{
		Operation: x.Operation, Method: r.Method, Path: x.Path,
		UserID: x.Principal.UserID, DeviceID: x.Principal.DeviceID, Now: wd.Now(), Outside: outside,
	})
	for _, f := range fired {
		for _, e := range f.Effects {
			switch e.Kind {
			case scenario.Delay:
				sleep(r.Context(), e.Delay)
			case scenario.Respond:
				x.Errcode = errcodeIn(e.Response.ContentType, e.Response.Body, strings.HasPrefix(x.Path, "/oauth2/"))
				h := x.Header()
				if e.Response.ContentType != "" {
					h.Set("Content-Type", e.Response.ContentType)
				}
				for k, v := range e.Response.Headers {
					h.Set(k, v)
				}
				x.WriteHeader(e.Response.Status)
				_, _ = x.Write(e.Response.Body)
				return true, ""
			case scenario.DropConnection:
				x.Dropped = true
				panic(http.ErrAbortHandler)
			case scenario.LoseAnswer:
				loss = e.Loss
			default:
				wd.ApplyToDevices(e)
			}
		}
	}
	return false, loss
}

// loseAnswer lets next answer r, so that what the request does is done
// and kept, but sends its answer nowhere; then the client gets, as loss
// says, a closed connection or a proxy's 502 Bad Gateway.
func loseAnswer(x *Exchange, r *http.Request, next http.Handler, loss string) {
	sent := x.ResponseWriter
	x.ResponseWriter = &nowhere{header: http.Header{}}
	next.ServeHTTP(x, r)
	x.ResponseWriter, x.Status, x.Errcode = sent, 0, ""
	if loss == scenario.LostConnection {
		x.Dropped = true
		panic(http.ErrAbortHandler)
	}
	x.Header().Set("Content-Type", "text/html; charset=utf-8")
	x.WriteHeader(http.StatusBadGateway)
	_, _ = x.Write([]byte(badGatewayPage))
}

// badGatewayPage is what a proxy sends when the answer it waited for is
// lost.
const badGatewayPage = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"

// nowhere is a ResponseWriter that keeps nothing.
type nowhere struct{ header http.Header }

func (n *nowhere) Header() http.Header         { return n.header }
func (n *nowhere) Write(b []byte) (int, error) { return len(b), nil }
func (n *nowhere) WriteHeader(int)             {}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
