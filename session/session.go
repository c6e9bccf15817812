// Package session keeps a Matrix client's session alive: it owns the access
// and refresh tokens, attaches the access token to the requests that need
// it, refreshes ahead of expiry and when the server says the token has
// expired, runs the soft-logout chain (refresh, then the app's re-login on
// the same device, then logged out), waits out rate limits, and tells the
// app about every change so that it never loses a rotated refresh token.
//
// A Session is an http.RoundTripper: give its HTTPClient to the generated
// typed API (or to the raw client below it) and every call goes through it.
// Errors are *Error values (matrixerr.Error), as the typed API's are.
//
//	cfg := session.Config{HomeserverURL: url, OnChange: save}
//	creds, err := session.PasswordLogin(ctx, cfg, "alice", password, "")
//	cfg.Credentials = creds
//	cfg.Relogin = func(ctx context.Context, deviceID string) (session.Credentials, error) {
//		return session.PasswordLogin(ctx, cfg, "alice", askPassword(), deviceID)
//	}
//	s, err := session.New(cfg)
//	api, err := clientserver.NewAPI(url, clientserver.WithHTTPClient(s.HTTPClient()))
//	who, err := api.GetTokenOwner(ctx) // refreshed as needed
//	s.Close()                          // when the app is done with it
//
// Servers with the OAuth 2.0 API (Matrix v1.15) log in through the browser
// instead: see DiscoverOAuth, RegisterOAuthClient and OAuthClient; a
// Session given the OAuthClient as Config.OAuth refreshes at its token
// endpoint and logs out by revocation.
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/operation"
)

// Credentials are what a client must keep to go on with a session: persist
// them whenever OnChange reports new ones.
type Credentials struct {
	UserID       string    `json:"user_id"`
	DeviceID     string    `json:"device_id"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"` // empty: none
	ExpiresAt    time.Time `json:"expires_at,omitzero"`     // when the access token expires; zero: never
}

// EventKind says what changed in a session.
type EventKind int

// The kinds of Event.
const (
	// Refreshed: a refresh gave new tokens.
	Refreshed EventKind = iota + 1
	// Relogged: the re-login callback gave new tokens on the same device,
	// after the server ended the old ones with soft_logout.
	Relogged
	// LoggedOut: the session is over.
	LoggedOut
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case Refreshed:
		return "refreshed"
	case Relogged:
		return "relogged"
	case LoggedOut:
		return "logged out"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change of a session, reported to Config.OnChange.
type Event struct {
	Kind EventKind
	// Credentials are the new credentials (Refreshed, Relogged), or the
	// last ones (LoggedOut).
	Credentials Credentials
	// Err is, for LoggedOut, the *LoggedOutError: whether the logout was
	// soft and what caused it.
	Err error
}

// Config sets a Session up.
type Config struct {
	// HomeserverURL is the homeserver's base URL, such as
	// "https://matrix.example.org". Tokens go only to this origin.
	HomeserverURL string
	// Credentials are the session to keep: from PasswordLogin, or as
	// persisted from an earlier OnChange.
	Credentials Credentials
	// HTTPClient sends the requests (default http.DefaultClient). Its
	// Transport, Timeout and Jar are kept.
	HTTPClient *http.Client
	// Operations is only needed for requests that do not come through a
	// generated typed API: the typed API tags each request with its
	// operation (operation.InfoFrom), which says whether it takes the
	// token. An untagged request to the homeserver is looked up in this
	// table (first) and those of gen/clientserver and gen/oauth2, and
	// carries the token unless it matches an operation that takes none
	// (such as the login or the registration).
	Operations *operation.Table
	// RefreshSkew is how long before the access token expires it is
	// refreshed (default 30s; negative: only after the server refuses it).
	// Tokens that live less than ten times as long are refreshed a tenth of
	// their lifetime ahead instead, so that short-lived tokens are not
	// refreshed before every request (for Credentials given here, the
	// lifetime counts from New).
	RefreshSkew time.Duration
	// Relogin logs in again on deviceID when the server has ended the
	// tokens with soft_logout and no refresh brings them back: typically it
	// asks the user for their password and calls PasswordLogin with
	// deviceID, which keeps the device and its encryption keys. Without it,
	// such a session is logged out. Its ctx ends when the Session is
	// closed; requests waiting for it give up when their own context ends.
	Relogin func(ctx context.Context, deviceID string) (Credentials, error)
	// OnChange is told every change, in order, before any request uses the
	// new tokens; no other change can happen while it runs. It may call the
	// Session's Credentials (which still returns the previous credentials:
	// the new ones are in the Event) and Close. It must not send requests
	// through the Session nor call its Refresh or Logout: those wait for the
	// change being reported, that is for OnChange itself.
	OnChange func(Event)
	// MaxRetryAfter is the longest wait a 429 answer is honoured with
	// (default 30s); a longer one is returned to the caller.
	MaxRetryAfter time.Duration
	// MaxRateLimitRetries is how often one request is retried after 429
	// answers (default 3).
	MaxRateLimitRetries int
	// Sleep waits d before a rate-limited request is sent again, or returns
	// ctx's error if ctx ends first (default: a timer on the real clock).
	// Tests whose mock homeserver runs on a virtual clock pass a function
	// that advances that clock instead, so that a 429 costs no real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now tells the time for expiry decisions (default time.Now). Tests
	// pass the mock's virtual clock.
	Now func() time.Time
	// OAuth is the OAuth 2.0 client the credentials came from
	// (OAuthClient.FinishLogin); nil for the legacy API. With it the
	// session refreshes at the token endpoint and Logout revokes the
	// tokens; Relogin then typically runs the browser login again with
	// AuthorizationRequest.DeviceID set to deviceID.
	OAuth *OAuthClient
}

// withDefaults fills in Config's defaults.
func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.RefreshSkew == 0 {
		c.RefreshSkew = 30 * time.Second
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 30 * time.Second
	}
	if c.MaxRateLimitRetries == 0 {
		c.MaxRateLimitRetries = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c
}

// plainClient is an HTTP client on cfg's transport with rate limits
// waited out, and no tokens attached.
func (c Config) plainClient() *http.Client {
	next := c.HTTPClient.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return &http.Client{
		Transport: rateLimited{next: next, maxWait: c.MaxRetryAfter, maxRetries: c.MaxRateLimitRetries, sleep: c.Sleep, now: c.Now},
		Timeout:   c.HTTPClient.Timeout, Jar: c.HTTPClient.Jar, CheckRedirect: c.HTTPClient.CheckRedirect,
	}
}

// Session keeps one Matrix session alive. It is safe for concurrent use.
type Session struct {
	cfg    Config
	origin *url.URL
	prefix string // the homeserver URL's path, without the trailing slash
	plain  *http.Client
	api    *clientserver.API  // for refresh and logout, through plain
	tables []*operation.Table // where takesToken looks operations up, in order

	// ctx ends at Close. Renewals run under it rather than under the
	// context of the request that started them: new tokens must be kept
	// even if that request gives up.
	ctx   context.Context
	close context.CancelFunc

	mu       sync.Mutex
	creds    Credentials
	since    time.Time // when creds were obtained (or New ran): their lifetime runs from here
	ended    *LoggedOutError
	renewing *renewal // the refresh, re-login or logout in flight, if any
}

// ErrClosed is what a Session's requests and methods return once Close has
// been called.
var ErrClosed = errors.New("session: closed")

// renewal is a refresh, re-login or logout in flight: one runs at a time,
// and requests refused with the old tokens wait for it. done closes when it
// is over; err is then its outcome.
type renewal struct {
	done chan struct{}
	err  error
}

// New returns a session that keeps cfg.Credentials alive. Close it when the
// app is done with it.
func New(cfg Config) (*Session, error) {
	cfg = cfg.withDefaults()
	origin, err := url.Parse(cfg.HomeserverURL)
	if err != nil || origin.Scheme == "" || origin.Host == "" {
		return nil, fmt.Errorf("session: homeserver URL %q is not an absolute URL", cfg.HomeserverURL)
	}
	if cfg.Credentials.AccessToken == "" {
		return nil, errors.New("session: no access token in the credentials")
	}
	s := &Session{cfg: cfg, origin: origin, prefix: strings.TrimSuffix(origin.Path, "/"), plain: cfg.plainClient(), creds: cfg.Credentials, since: cfg.Now()}
	s.ctx, s.close = context.WithCancel(context.Background())
	if cfg.Operations != nil {
		s.tables = append(s.tables, cfg.Operations)
	}
	s.tables = append(s.tables, clientserver.Operations, oauth2.Operations)
	if s.api, err = homeserverAPI(cfg.HomeserverURL, s.plain); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

// Close ends the session here without logging out on the server (that is
// Logout): the context of a renewal in flight ends (tokens it has obtained
// already are still reported to OnChange), requests waiting for it return
// ErrClosed, and so do all later requests and calls. Close may be called
// more than once, and from OnChange.
func (s *Session) Close() { s.close() }

// Credentials returns the current credentials.
func (s *Session) Credentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds
}

// HTTPClient returns a client whose requests go through the session: give
// it to the generated client with clientserver.WithHTTPClient.
func (s *Session) HTTPClient() *http.Client {
	return &http.Client{Transport: s, Timeout: s.cfg.HTTPClient.Timeout, Jar: s.cfg.HTTPClient.Jar, CheckRedirect: s.cfg.HTTPClient.CheckRedirect}
}

// RoundTrip sends req. Requests to the homeserver get the current access
// token, unless they are for an operation that takes none (the one the
// typed API tagged the request with, else see Config.Operations); when the server refuses it as expired or
// soft-logged-out, the session renews its tokens (one renewal for any
// number of requests) and sends the request once more: a request is sent
// at most twice, and a second refusal is returned as it is. When the
// session ends, RoundTrip returns a *LoggedOutError, and after Close
// ErrClosed. Answers 429 are retried as Config says. Other answers are
// returned as they are.
func (s *Session) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.ctx.Err() != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, ErrClosed
	}
	if !s.takesToken(req) {
		return s.plain.Transport.RoundTrip(req)
	}
	req, err := replayable(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		creds, err := s.current(ctx)
		if err != nil {
			return nil, err
		}
		r, err := rewind(req)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "Bearer "+creds.AccessToken)
		resp, err := s.plain.Transport.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || attempt == 1 {
			return resp, err
		}
		refused := ParseError(resp)
		if refused == nil || !errors.Is(refused, ErrUnknownToken) {
			return resp, nil
		}
		discard(resp)
		if err := s.recover(ctx, creds.AccessToken, refused); err != nil {
			return nil, err
		}
	}
}

// takesToken reports whether req goes to the homeserver for an operation
// that may take an access token: the operation named by req's context, else
// the first one of s.tables it matches, else any (no table knows every
// endpoint; a token where none is needed is ignored, while a missing one
// fails the request with M_MISSING_TOKEN).
func (s *Session) takesToken(req *http.Request) bool {
	if req.URL.Scheme != s.origin.Scheme || req.URL.Host != s.origin.Host || !strings.HasPrefix(req.URL.Path, s.prefix+"/") {
		return false
	}
	if op, ok := operation.InfoFrom(req.Context()); ok {
		return op.Auth != operation.AuthNone
	}
	path := strings.TrimPrefix(req.URL.Path, s.prefix)
	for _, t := range s.tables {
		if op, ok := t.Match(req.Method, path); ok {
			return op.Auth != operation.AuthNone
		}
	}
	return true
}

// replayable returns req with a body that can be sent again (each send
// takes a fresh copy from GetBody), and closes req's own body.
func replayable(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody != nil {
		req.Body.Close()
		return req, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("session: reading the request body: %w", err)
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r, nil
}

// current returns the credentials to send a request with, refreshing first
// when the access token is about to expire. A refresh ahead of time that
// fails for a passing reason (network, server error) is not fatal: the
// current token may still work.
func (s *Session) current(ctx context.Context) (Credentials, error) {
	s.mu.Lock()
	creds, since, ended := s.creds, s.since, s.ended
	s.mu.Unlock()
	if ended != nil {
		return creds, ended
	}
	if creds.RefreshToken == "" || creds.ExpiresAt.IsZero() || s.cfg.RefreshSkew < 0 ||
		s.cfg.Now().Add(refreshSkew(s.cfg.RefreshSkew, creds.ExpiresAt.Sub(since))).Before(creds.ExpiresAt) {
		return creds, nil
	}
	err := s.recover(ctx, creds.AccessToken, &Error{StatusCode: http.StatusUnauthorized, Errcode: string(ErrUnknownToken), Message: "access token about to expire", SoftLogout: true})
	var loggedOut *LoggedOutError
	if errors.As(err, &loggedOut) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
		return creds, err
	}
	return s.Credentials(), nil
}

// refreshSkew is how long before its expiry a token that lives lifetime is
// refreshed: skew, or a tenth of the lifetime when that is shorter.
func refreshSkew(skew, lifetime time.Duration) time.Duration {
	return min(skew, lifetime/10)
}

// recover renews the tokens after the server refused failedToken with
// refused, unless that has happened already: then the caller just sends
// again. Only one renewal runs at a time; the others wait for it, each
// until its own context ends.
func (s *Session) recover(ctx context.Context, failedToken string, refused *Error) error {
	s.mu.Lock()
	switch {
	case s.ctx.Err() != nil:
		s.mu.Unlock()
		return ErrClosed
	case s.ended != nil:
		defer s.mu.Unlock()
		return s.ended
	case s.creds.AccessToken != failedToken && s.renewing == nil:
		s.mu.Unlock()
		return nil // renewed since that token was sent
	}
	r := s.renewing
	if r == nil {
		r = &renewal{done: make(chan struct{})}
		s.renewing = r
		go s.renew(r, s.creds, refused)
	}
	s.mu.Unlock()
	return s.wait(ctx, r)
}

// wait waits for r to end and returns its outcome, or what ends the wait
// first: ctx, or the session's Close.
func (s *Session) wait(ctx context.Context, r *renewal) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrClosed
	}
}

// renew runs the soft-logout chain for creds, refused by the server with
// refused: a hard logout ends the session at once; otherwise the refresh
// token is tried, then the re-login callback, and if neither brings new
// tokens the session ends as soft-logged-out. A refresh that fails for a
// passing reason leaves the session as it is and reports the error; so
// does a Close that stops the chain.
func (s *Session) renew(r *renewal, creds Credentials, refused *Error) {
	ev, err := s.chain(creds, refused)
	s.finish(r, ev, err)
}

// chain is renew's soft-logout chain; it returns the change to report, or the error
// for a renewal that changes nothing.
func (s *Session) chain(creds Credentials, refused *Error) (Event, error) {
	if !refused.SoftLogout {
		return Event{Kind: LoggedOut, Credentials: creds, Err: &LoggedOutError{Soft: false, Cause: refused}}, nil
	}
	cause := error(refused)
	if creds.RefreshToken != "" {
		next, err := s.refresh(s.ctx, creds)
		if err == nil {
			return Event{Kind: Refreshed, Credentials: next}, nil
		}
		if s.ctx.Err() != nil {
			return Event{}, ErrClosed
		}
		if !errors.Is(err, ErrUnknownToken) && !errors.Is(err, ErrForbidden) && !oauthRefreshRefused(err) {
			return Event{}, err // a network or server error: the tokens may still be good
		}
		cause = err
	}
	if s.cfg.Relogin == nil {
		return Event{Kind: LoggedOut, Credentials: creds, Err: &LoggedOutError{Soft: true, Cause: cause}}, nil
	}
	next, err := s.cfg.Relogin(s.ctx, creds.DeviceID)
	if s.ctx.Err() != nil && err != nil {
		return Event{}, ErrClosed
	}
	if err != nil {
		return Event{Kind: LoggedOut, Credentials: creds, Err: &LoggedOutError{Soft: true, Cause: err}}, nil
	}
	return Event{Kind: Relogged, Credentials: next}, nil
}

// finish ends renewal r with the change ev (none when ev.Kind is 0) or the
// error err. The app hears of the change before any request may use it:
// until r.done closes, requests refused with the old tokens wait, and no
// other renewal or logout can start.
func (s *Session) finish(r *renewal, ev Event, err error) {
	if ev.Kind != 0 && s.cfg.OnChange != nil {
		s.cfg.OnChange(ev)
	}
	s.mu.Lock()
	switch ev.Kind {
	case Refreshed, Relogged:
		s.creds, s.since = ev.Credentials, s.cfg.Now()
	case LoggedOut:
		s.ended = ev.Err.(*LoggedOutError)
		err = s.ended
	}
	r.err = err
	s.renewing = nil
	s.mu.Unlock()
	close(r.done)
}

// refresh exchanges creds' refresh token for new tokens.
func (s *Session) refresh(ctx context.Context, creds Credentials) (Credentials, error) {
	if s.cfg.OAuth != nil {
		return s.cfg.OAuth.refresh(ctx, creds, s.cfg.Now)
	}
	r, err := s.api.Refresh(ctx, clientserver.RefreshRequest{RefreshToken: creds.RefreshToken})
	if err != nil {
		return creds, callError("refresh", err)
	}
	next := creds
	next.AccessToken = r.AccessToken
	if r.RefreshToken != nil {
		next.RefreshToken = *r.RefreshToken
	}
	next.ExpiresAt = expiry(s.cfg.Now(), r.ExpiresInMs)
	return next, nil
}

// Refresh renews the tokens now, as when the access token has expired.
func (s *Session) Refresh(ctx context.Context) error {
	return s.recover(ctx, s.Credentials().AccessToken, &Error{StatusCode: http.StatusUnauthorized, Errcode: string(ErrUnknownToken), Message: "refresh asked for", SoftLogout: true})
}

// Logout ends the session on the server (POST /logout, or with
// Config.OAuth the revocation of its tokens) and here; OnChange hears
// LoggedOut. It waits for a renewal in flight first, so that it ends the
// latest tokens, and no renewal starts while it runs: LoggedOut is the
// last event. A session the server has ended already is ended here without
// error; one that has ended here already is left as it is.
func (s *Session) Logout(ctx context.Context) error {
	r, err := s.claim(ctx)
	if r == nil {
		return err
	}
	creds := s.Credentials()
	cause, err := s.endOnServer(ctx, creds)
	if err != nil {
		s.finish(r, Event{}, nil) // the tokens still work: requests go on
		return err
	}
	s.finish(r, Event{Kind: LoggedOut, Credentials: creds, Err: &LoggedOutError{Cause: cause}}, nil)
	return nil
}

// claim waits for the renewal in flight, if any, and then starts one for
// the caller, which must end it with finish. It returns nil when the
// session has ended (with a nil error) or is closed, or when ctx ends
// first.
func (s *Session) claim(ctx context.Context) (*renewal, error) {
	for {
		s.mu.Lock()
		r := s.renewing
		switch {
		case s.ctx.Err() != nil:
			s.mu.Unlock()
			return nil, ErrClosed
		case s.ended != nil:
			s.mu.Unlock()
			return nil, nil
		case r == nil:
			r = &renewal{done: make(chan struct{})}
			s.renewing = r
			s.mu.Unlock()
			return r, nil
		}
		s.mu.Unlock()
		if err := s.wait(ctx, r); errors.Is(err, ErrClosed) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// endOnServer ends the session of creds on the server and returns what to
// give as the LoggedOutError's cause; an error means the tokens may still
// work.
func (s *Session) endOnServer(ctx context.Context, creds Credentials) (cause, err error) {
	if s.cfg.OAuth != nil {
		if err := s.cfg.OAuth.revokeCredentials(ctx, creds); err != nil {
			return nil, err
		}
		return errors.New("logged out by the client (tokens revoked)"), nil
	}
	if err := s.api.Logout(withToken(ctx, creds.AccessToken)); err != nil {
		err = callError("logout", err)
		if !errors.Is(err, ErrUnknownToken) {
			return nil, err
		}
		return err, nil // ended by the server already
	}
	return errors.New("logged out by the client"), nil
}

// expiry returns when a token that lives expiresInMs from now expires;
// zero when it does not say (never).
func expiry(now time.Time, expiresInMs *int) time.Time {
	if expiresInMs == nil || *expiresInMs <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(*expiresInMs) * time.Millisecond)
}
