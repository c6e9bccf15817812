package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mxauth/mxauth/internal/baseline"
	"github.com/mxauth/mxauth/mock"
)

// sessionPath is the yardsticks' setup endpoint of the OAuth refresh
// benchmark.
const sessionPath = "/_yardstick/oauth-session"

// serve runs the yardstick kind ("ceiling" or "baseline") on a free
// loopback port until ctx ends, and returns the exit code. It prints its
// base URL alone on a line to stdout when ready. Besides the measured
// endpoints it serves POST /_yardstick/oauth-session?device=ID, which gives
// the bench user an OAuth 2.0 session on that device and answers
// {"client_id", "refresh_token"}: the setup of the OAuth refresh benchmark,
// which the mock does through its own OAuth endpoints and the baseline has
// none of. All sessions share one client, as on the mock. The ceiling
// answers with random values, which its token endpoint ignores.
func serve(ctx context.Context, kind string, stdout, stderr io.Writer) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "outside: %v\n", err)
		return exitFailed
	}
	url := "http://" + l.Addr().String()

	// The setup endpoint is picked out by a comparison rather than a
	// ServeMux in front, which would cost the measured requests a match.
	var measured http.Handler
	var setup http.HandlerFunc
	switch kind {
	case ceiling:
		measured = baseline.Ceiling(serverName, "@"+benchUser+":"+serverName, url, mock.DefaultVersions())
		setup = func(w http.ResponseWriter, _ *http.Request) { writeSession(w, randomString(), randomString()) }
	case base:
		b := baseline.New(serverName, url, mock.DefaultVersions())
		userID := b.AddUser(benchUser, benchPassword)
		client := b.AddClient()
		measured = b.Handler()
		setup = func(w http.ResponseWriter, r *http.Request) {
			device := r.URL.Query().Get("device")
			if device == "" {
				http.Error(w, "?device= is missing", http.StatusBadRequest)
				return
			}
			_, refresh := b.Login(userID, device, true)
			writeSession(w, client, refresh)
		}
	default:
		l.Close()
		fmt.Fprintf(stderr, "outside: -serve %q: want %s or %s\n", kind, ceiling, base)
		return exitUsage
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == sessionPath && r.Method == http.MethodPost {
			setup(w, r)
			return
		}
		measured.ServeHTTP(w, r)
	})

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintln(stdout, url)
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "outside: %v\n", err)
		return exitFailed
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if end := <-served; !errors.Is(end, http.ErrServerClosed) { // Serve returns as soon as Shutdown starts
		err = errors.Join(err, end)
	}
	if err != nil {
		fmt.Fprintf(stderr, "outside: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// writeSession answers the setup endpoint.
func writeSession(w http.ResponseWriter, clientID, refresh string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"client_id": clientID, "refresh_token": refresh})
}

// randomString returns 128 random bits in base64url.
func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
