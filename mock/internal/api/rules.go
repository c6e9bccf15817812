package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/scenario"
)

// applyRules applies the scenario's request rules that fire for the
// exchange's request. It runs after the access token is checked, so
// requests refused for their token do not count. It reports whether the
// request is answered already.
func applyRules(x *Exchange, r *http.Request) (answered bool) {
	wd := x.World
	if wd.Engine == nil {
		return false
	}
	fired := wd.Engine.OnRequest(scenario.Request{
		Operation: x.Operation, Method: r.Method, Path: x.Path,
		UserID: x.Principal.UserID, DeviceID: x.Principal.DeviceID, Now: wd.Now(),
	})
	for _, f := range fired {
		for _, e := range f.Effects {
			switch e.Kind {
			case scenario.Delay:
				sleep(r.Context(), e.Delay)
			case scenario.Respond:
				x.Errcode = errcodeOf(e.Response)
				h := x.Header()
				if e.Response.ContentType != "" {
					h.Set("Content-Type", e.Response.ContentType)
				}
				for k, v := range e.Response.Headers {
					h.Set(k, v)
				}
				x.WriteHeader(e.Response.Status)
				_, _ = x.Write(e.Response.Body)
				return true
			case scenario.DropConnection:
				x.Dropped = true
				panic(http.ErrAbortHandler)
			default:
				wd.ApplyToUser(e)
			}
		}
	}
	return false
}

// errcodeOf returns the errcode of a scripted JSON answer, for the journal.
func errcodeOf(resp scenario.Response) string {
	if !strings.HasPrefix(resp.ContentType, "application/json") {
		return ""
	}
	var body struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	return body.Errcode
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
