package session

import (
	"io"
	"net/http"
	"time"
)

// defaultRetryAfter is the wait for a 429 answer that does not say how long.
const defaultRetryAfter = 500 * time.Millisecond

// rateLimited is a RoundTripper that retries requests answered 429, after
// the wait the server asks for (retry_after_ms, else Retry-After), as long
// as that wait is at most maxWait, at most maxRetries times, and only while
// the request's context lives. Past those bounds the 429 answer is
// returned as it is.
type rateLimited struct {
	next       http.RoundTripper
	maxWait    time.Duration
	maxRetries int
}

func (rt rateLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req
	for attempt := 0; ; attempt++ {
		resp, err := rt.next.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == rt.maxRetries {
			return resp, err
		}
		wait := defaultRetryAfter
		if e := ParseError(resp); e != nil && e.RetryAfter > 0 {
			wait = e.RetryAfter
		} else if d := retryAfterHeader(resp.Header, time.Now()); d > 0 {
			wait = d
		}
		next, ok := rewind(req)
		if wait > rt.maxWait || !ok {
			return resp, nil
		}
		discard(resp)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		}
		r = next
	}
}

// rewind returns a copy of req to send again, with a fresh body; false
// when its body cannot be read again.
func rewind(req *http.Request) (*http.Request, bool) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r.Body = body
	return r, true
}

// discard reads what is left of an answer's body, so that its connection
// can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}
