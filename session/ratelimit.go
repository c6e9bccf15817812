package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mxauth/mxauth/matrixerr"
)

// defaultRetryAfter is the wait for a 429 answer that does not say how long.
const defaultRetryAfter = 500 * time.Millisecond

// rateLimited is a RoundTripper that retries requests answered 429, after
// the wait the server asks for (retry_after_ms, else Retry-After), as long
// as that wait is at most maxWait, at most maxRetries times, and only while
// the request's context lives. Past those bounds the 429 answer is
// returned as it is. It waits with sleep and reads Retry-After dates
// against now.
type rateLimited struct {
	next       http.RoundTripper
	maxWait    time.Duration
	maxRetries int
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
}

func (rt rateLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req
	for attempt := 0; ; attempt++ {
		resp, err := rt.next.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == rt.maxRetries {
			return resp, err
		}
		wait := defaultRetryAfter
		if d := rt.retryAfter(resp); d > 0 {
			wait = d
		}
		if wait > rt.maxWait {
			return resp, nil
		}
		next, err := rewind(req)
		if err != nil {
			return resp, nil // the 429 says more than that the body is gone
		}
		discard(resp)
		if err := rt.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		r = next
	}
}

// retryAfter is how long a 429 answer asks to wait (retry_after_ms, else
// Retry-After, whose date is read against rt.now: the mock's virtual clock
// in tests); 0 when it does not say. resp's body stays readable.
func (rt rateLimited) retryAfter(resp *http.Response) time.Duration {
	answer := matrixerr.FromResponse(resp)
	return matrixerr.New(answer.StatusCode, resp.Header, answer.Body, rt.now()).RetryAfter
}

// sleep waits d on the real clock, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errNotReplayable says that a request's body cannot be sent again.
var errNotReplayable = errors.New("session: the request body cannot be sent again (no GetBody)")

// rewind returns a copy of req to send again, with a fresh body, or an
// error when its body cannot be read again.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	if req.GetBody == nil {
		return nil, errNotReplayable
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("session: reading the request body again: %w", err)
	}
	r.Body = body
	return r, nil
}

// discard reads what is left of an answer's body, so that its connection
// can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, matrixerr.MaxBody))
	resp.Body.Close()
}
