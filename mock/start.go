package mock

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// Start runs a server configured by opts on a free loopback port and
// returns it ready, with URL set. It stops when the test ends. A bad option
// fails the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mock: listen on loopback: %v", err)
	}
	s.URL = "http://" + l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.writeTimelineOnFailure(t)
		// Close, not Shutdown: the test is over, and Shutdown would wait up
		// to five seconds for connections a client opened but never used.
		_ = s.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("mock: serve: %v", err)
		}
	})
	return s
}
