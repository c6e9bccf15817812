package mock_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// TestDeterministic: two servers with the same seed hand out the same
// device IDs and tokens for the same requests; another seed does not.
func TestDeterministic(t *testing.T) {
	answers := func(seed uint64) []string {
		hs := mock.Start(t, mock.WithUser("alice", "pw"), mock.WithDeterministic(seed), mock.WithVirtualClock(epoch))
		var out []string
		for range 3 {
			a := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true})
			out = append(out, a.str(t, "device_id"), a.str(t, "access_token"), a.str(t, "refresh_token"))
		}
		return out
	}
	a, b, c := answers(7), answers(7), answers(8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, value %d differs: %q and %q", i, a[i], b[i])
		}
		if a[i] == c[i] {
			t.Fatalf("different seeds, value %d the same: %q", i, a[i])
		}
	}
}

// TestNewOutsideTests uses New with a server of the caller's own, then
// Serve and Shutdown.
func TestNewOutsideTests(t *testing.T) {
	hs, err := mock.New(mock.WithUser("alice", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(hs.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("versions through Handler: %d", resp.StatusCode)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	resp, err = http.Get("http://" + l.Addr().String() + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := hs.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want http.ErrServerClosed", err)
	}
	if err := hs.Serve(l); err == nil {
		t.Fatal("a second Serve did not fail")
	}
}

func TestBadUserOption(t *testing.T) {
	if _, err := mock.New(mock.WithUser("Not Valid", "pw")); !errors.Is(err, mock.ErrInvalidUsername) {
		t.Fatalf("New with a bad user: %v, want ErrInvalidUsername", err)
	}
	if _, err := mock.New(mock.WithUser("alice", "a"), mock.WithUser("alice", "b")); !errors.Is(err, mock.ErrUserInUse) {
		t.Fatalf("New with a duplicate user: %v, want ErrUserInUse", err)
	}
}
