package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// requestTimeout bounds one request, and so how long a cell can overrun
// its duration.
const requestTimeout = 10 * time.Second

// result is what one cell measured on one server.
type result struct {
	// Requests is how many requests were sent and answered as expected
	// after the warm-up.
	Requests int `json:"requests"`
	// Errors counts the requests, warm-up included, that failed or were not
	// answered as expected.
	Errors int `json:"errors"`
	// FirstError describes the first of them.
	FirstError string `json:"first_error,omitempty"`
	// ReqPerSec is Requests over the time they took.
	ReqPerSec float64 `json:"req_per_sec"`
	// P50 and P99 are latency percentiles (nearest rank) of those requests,
	// from sending the request to reading the whole answer.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// worker is one connection of the closed loop: it has its own client,
// transport and session, and sends one request at a time.
type worker struct {
	t         *target
	endpoint  string
	url       string
	client    *http.Client
	transport *http.Transport
	device    string
	access    string // whoami's access token
	refresh   string // the refresh token the next refresh sends
	clientID  string // oauth-refresh's OAuth 2.0 client
	loginBody []byte
}

// loopbackOnly is a dialer Control that refuses any address but a loopback
// one: the load test must never send requests off the machine.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

// newWorker returns worker i of a cell, with the session its endpoint
// needs created through the server's Go API.
func newWorker(t *target, endpoint string, i int) (*worker, error) {
	tr := &http.Transport{
		Proxy:               nil, // never a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	w := &worker{
		t:         t,
		endpoint:  endpoint,
		client:    &http.Client{Transport: tr, Timeout: requestTimeout},
		transport: tr,
		device:    fmt.Sprintf("LOAD%s%d", endpoint, i),
	}
	var err error
	switch endpoint {
	case "versions":
		w.url = t.url + "/_matrix/client/versions"
	case "whoami":
		w.url = t.url + "/_matrix/client/v3/account/whoami"
		w.access, _, err = t.login(w.device, false)
	case "login":
		w.url = t.url + "/_matrix/client/v3/login"
		w.loginBody, err = json.Marshal(map[string]any{
			"type":          "m.login.password",
			"identifier":    map[string]string{"type": "m.id.user", "user": benchUser},
			"password":      benchPassword,
			"device_id":     w.device,
			"refresh_token": true,
		})
	case "refresh":
		w.url = t.url + "/_matrix/client/v3/refresh"
		_, w.refresh, err = t.login(w.device, true)
	case "oauth-refresh":
		w.url = t.url + oauthTokenPath
		w.clientID, w.refresh, err = t.oauthLogin(w)
	default:
		err = fmt.Errorf("unknown endpoint %q", endpoint)
	}
	return w, err
}

// do sends the worker's next request and checks the answer; refresh
// endpoints take the refresh token it holds for the next request.
func (w *worker) do(ctx context.Context) error {
	resp, body, err := w.roundTrip(ctx)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.200s", resp.Request.Method, resp.Request.URL.Path, resp.Status, body)
	}
	if w.endpoint == "refresh" || w.endpoint == "oauth-refresh" {
		var answer struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || answer.RefreshToken == "" {
			return fmt.Errorf("refresh answer without a refresh token: %.200s", body)
		}
		w.refresh = answer.RefreshToken
	}
	return nil
}

// roundTrip sends the worker's next request and returns the answer, its
// body read.
func (w *worker) roundTrip(ctx context.Context) (*http.Response, []byte, error) {
	var req *http.Request
	var err error
	switch w.endpoint {
	case "versions":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	case "whoami":
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+w.access)
		}
	case "login":
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(w.loginBody))
	case "refresh":
		// Tokens are base64url with an ASCII prefix: nothing to escape.
		body := `{"refresh_token":"` + w.refresh + `"}`
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader([]byte(body)))
	case "oauth-refresh":
		// Client IDs and tokens are base64url: nothing to escape.
		body := "grant_type=refresh_token&client_id=" + w.clientID + "&refresh_token=" + w.refresh
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader([]byte(body)))
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case w.endpoint == "oauth-refresh":
		req.Header.Set("Content-Type", formContentType)
	case req.Method == http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// restart puts a worker back on its feet after a failed request: a refresh
// chain that broke starts again from a new login.
func (w *worker) restart() {
	switch w.endpoint {
	case "refresh":
		if _, refresh, err := w.t.login(w.device, true); err == nil {
			w.refresh = refresh
		}
	case "oauth-refresh":
		if clientID, refresh, err := w.t.oauthLogin(w); err == nil {
			w.clientID, w.refresh = clientID, refresh
		}
	}
}

// tally is what one worker saw.
type tally struct {
	latencies []time.Duration // of the measured requests
	errors    int
	firstErr  error
}

// side is one server's half of a cell: its workers, what they saw, and for
// how long they were measured.
type side struct {
	t        *target
	workers  []*worker
	tallies  []tally
	measured time.Duration
}

// newSide returns conns workers for endpoint on t.
func newSide(t *target, endpoint string, conns int) (*side, error) {
	s := &side{t: t, workers: make([]*worker, conns), tallies: make([]tally, conns)}
	for i := range s.workers {
		w, err := newWorker(t, endpoint, i)
		if err != nil {
			s.close()
			return nil, err
		}
		s.workers[i] = w
	}
	return s, nil
}

// close closes the workers' connections.
func (s *side) close() {
	for _, w := range s.workers {
		if w != nil {
			w.transport.CloseIdleConnections()
		}
	}
}

// run runs the closed loop for d, recording latencies when measured is
// true. Errors are counted either way.
func (s *side) run(ctx context.Context, d time.Duration, measured bool) error {
	runtime.GC() // each slice starts from a collected heap
	start := time.Now()
	until := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, until.Add(requestTimeout))
	defer cancel()
	var wg sync.WaitGroup
	for i, w := range s.workers {
		wg.Go(func() {
			tl := &s.tallies[i]
			for {
				begin := time.Now()
				if !begin.Before(until) || ctx.Err() != nil {
					return
				}
				err := w.do(ctx)
				took := time.Since(begin)
				if err != nil {
					tl.errors++
					if tl.firstErr == nil {
						tl.firstErr = err
					}
					w.restart()
					continue
				}
				if measured {
					tl.latencies = append(tl.latencies, took)
				}
			}
		})
	}
	wg.Wait()
	if measured {
		// Until the last answer: requests sent before the end count.
		s.measured += time.Since(start)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err // interrupted
	}
	return nil
}

// measureCell runs one cell on both servers: each warms up for warmup,
// then they take turns for rounds slices of duration/rounds each, the one
// that goes first alternating, so that a burst of noise on the shared
// machine falls on both alike. first says which server goes first.
func measureCell(ctx context.Context, first, second *target, endpoint string, conns, rounds int, warmup, duration time.Duration) (map[*target]result, error) {
	a, err := newSide(first, endpoint, conns)
	if err != nil {
		return nil, err
	}
	defer a.close()
	b, err := newSide(second, endpoint, conns)
	if err != nil {
		return nil, err
	}
	defer b.close()
	for _, s := range []*side{a, b} {
		if err := s.run(ctx, warmup, false); err != nil {
			return nil, err
		}
	}
	slice := duration / time.Duration(rounds)
	for r := range rounds {
		order := []*side{a, b}
		if r%2 == 1 {
			order[0], order[1] = b, a
		}
		for _, s := range order {
			if err := s.run(ctx, slice, true); err != nil {
				return nil, err
			}
		}
	}
	return map[*target]result{first: summarize(a), second: summarize(b)}, nil
}

// summarize merges the workers' tallies of one side of a cell.
func summarize(s *side) result {
	var res result
	var all []time.Duration
	for _, tl := range s.tallies {
		all = append(all, tl.latencies...)
		res.Errors += tl.errors
		if tl.firstErr != nil && res.FirstError == "" {
			res.FirstError = tl.firstErr.Error()
		}
	}
	res.Requests = len(all)
	if s.measured > 0 {
		res.ReqPerSec = float64(res.Requests) / s.measured.Seconds()
	}
	slices.Sort(all)
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	return res
}

// percentile returns the q-th percentile of sorted latencies by the
// nearest-rank method; 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// formatLatency prints a latency in µs below a millisecond, else in ms.
func formatLatency(d time.Duration) string {
	if d < time.Millisecond {
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + " µs"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}
