package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/examples/client"
	"github.com/mxauth/mxauth/matrixerr"
	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/session"
)

// memoryStore is a Store in memory that counts saves.
type memoryStore struct {
	mu    sync.Mutex
	creds *session.Credentials
	saves int
}

func (m *memoryStore) Load() (session.Credentials, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.creds == nil {
		return session.Credentials{}, false
	}
	return *m.creds, true
}

func (m *memoryStore) Save(c session.Credentials) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creds, m.saves = &c, m.saves+1
	return nil
}

func start(t *testing.T) (*mock.Server, client.Options, *memoryStore, *int) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	store := &memoryStore{}
	prompts := 0
	return hs, client.Options{
		HomeserverURL: hs.URL,
		User:          "alice",
		Password:      func(context.Context) (string, error) { prompts++; return "wonderland", nil },
		Store:         store,
		Now:           hs.Clock().Now,
	}, store, &prompts
}

func TestSurvivesExpiryAndKeepsTheRotatedToken(t *testing.T) {
	hs, opts, store, prompts := start(t)
	c, err := client.Connect(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := store.Load()
	hs.Clock().Advance(time.Hour) // the access token has expired
	if err := c.Rename(t.Context(), "Alice's laptop"); err != nil {
		t.Fatal(err)
	}
	saved, _ := store.Load()
	if saved.RefreshToken == first.RefreshToken || store.saves != 2 {
		t.Fatalf("the rotated refresh token was not saved: %d saves", store.saves)
	}
	if n := hs.Journal().Count(journal.Filter{Operation: "refresh", Status: 200}); n != 1 || *prompts != 1 {
		t.Fatalf("%d refreshes and %d password prompts, want 1 and 1", n, *prompts)
	}

	// The next run resumes from the store without asking for the password.
	c.Close()
	if _, err := c.Devices(t.Context()); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("devices through a closed client: %v, want ErrClosed", err)
	}
	again, err := client.Connect(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if devices, err := again.Devices(t.Context()); err != nil || len(devices) != 1 || devices[0] != c.DeviceID() {
		t.Fatalf("devices %v, %v", devices, err)
	}
	if *prompts != 1 {
		t.Fatalf("%d password prompts, want 1", *prompts)
	}
}

func TestSoftLogoutAsksForThePasswordAndKeepsTheDevice(t *testing.T) {
	hs, opts, _, prompts := start(t)
	c, err := client.Connect(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	device := c.DeviceID()
	if err := hs.SoftLogout("alice", device); err != nil {
		t.Fatal(err)
	}
	devices, err := c.Devices(t.Context())
	if err != nil || len(devices) != 1 || devices[0] != device || c.DeviceID() != device {
		t.Fatalf("after the soft logout: devices %v, %v; device now %s, want %s", devices, err, c.DeviceID(), device)
	}
	if *prompts != 2 {
		t.Fatalf("%d password prompts, want 2", *prompts)
	}
}

func TestHardLogoutSignsOut(t *testing.T) {
	hs, opts, _, _ := start(t)
	c, err := client.Connect(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.HardLogout("alice", c.DeviceID()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Devices(t.Context())
	var refused *matrixerr.Error
	if !errors.Is(err, client.ErrSignedOut) || !errors.Is(err, matrixerr.ErrUnknownToken) || !errors.As(err, &refused) || refused.SoftLogout {
		t.Fatalf("devices after a hard logout: %v, want ErrSignedOut from M_UNKNOWN_TOKEN without soft_logout", err)
	}
}
