package oauth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/mock/internal/limit"
)

// Guesses on the pages: every password typed on a page, and every device
// user code, counts against the user it names and the client's address in
// Settings.Attempts. Once either has failed too often, every attempt is
// refused, right or wrong, until its window is over.

// attemptKeys are the keys an attempt by r for user counts under.
func (s *Server) attemptKeys(r *http.Request, user string) []string {
	if user != "" {
		user = s.store.UserID(user)
	}
	return limit.Keys(r.RemoteAddr, user)
}

// tooManyAttempts is what a page says while attempts are refused, and the
// status it answers with.
func tooManyAttempts(wait time.Duration) (string, int) {
	secs := int((wait + time.Second - 1) / time.Second)
	return "Too many failed attempts. Try again in " + strconv.Itoa(secs) + " seconds.", http.StatusTooManyRequests
}

// checkPassword checks a password typed on a page for user. It returns ""
// when it is right; else what to tell the user (wrong, or that there were
// too many failures) and the status to answer with.
func (s *Server) checkPassword(r *http.Request, user, password, wrong string) (problem string, status int) {
	keys := s.attemptKeys(r, user)
	if wait := s.attempts.Wait(keys...); wait > 0 {
		return tooManyAttempts(wait)
	}
	if user == "" || s.store.CheckPassword(user, password) != nil {
		s.attempts.Fail(keys...)
		return wrong, http.StatusOK
	}
	return "", http.StatusOK
}

// withStatus returns the page answered with another status.
func (p page) withStatus(status int) page {
	p.status = status
	return p
}
