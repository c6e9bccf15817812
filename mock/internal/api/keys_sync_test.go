package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/world"
	"github.com/mxauth/mxauth/mock/journal"
	"github.com/mxauth/mxauth/mock/scenario"
)

// worldServer serves a world with users over loopback, returning the
// world too, so that a test can read the stores behind the answers.
func worldServer(t *testing.T, users []scenario.User) (*world.World, *httptest.Server) {
	t.Helper()
	wd, err := world.New(world.Settings{Virtual: true, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Users: users},
		clock.Virtual(time.Time{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(Config{World: func() *world.World { return wd }, Journal: journal.New(0), Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return wd, srv
}

// TestKeysSyncSeesHTTPUploads checks over loopback what the sync handler
// will show of the keys store (one-time key counts, to-device messages),
// reading the world's keys store directly since /sync is not this file's.
func TestKeysSyncSeesHTTPUploads(t *testing.T) {
	wd, srv := worldServer(t, []scenario.User{
		{ID: "alice", Password: "pw", Devices: []scenario.Device{{ID: "A1", AccessToken: "tok_a"}}},
		{ID: "bob", Password: "pw", Devices: []scenario.Device{{ID: "B1", AccessToken: "tok_b"}, {ID: "B2", AccessToken: "tok_b2"}}},
	})
	post := func(method, path, token string, body any) {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}

	otk := map[string]any{"key": "k", "signatures": map[string]any{}}
	post("POST", "/_matrix/client/v3/keys/upload", "tok_a", map[string]any{
		"one_time_keys": map[string]any{"signed_curve25519:1": otk, "signed_curve25519:2": otk},
		"fallback_keys": map[string]any{"signed_curve25519:F": otk},
	})
	before := wd.Keys.Sync("@alice:localhost", "A1", 0)
	if before.Counts.OneTimeKeys["signed_curve25519"] != 2 || len(before.Counts.UnusedFallbackKeyTypes) != 1 {
		t.Fatalf("after the upload: counts %+v, want 2 one-time keys and an unused fallback key", before.Counts)
	}
	post("POST", "/_matrix/client/v3/keys/claim", "tok_b", map[string]any{
		"one_time_keys": map[string]any{"@alice:localhost": map[string]string{"A1": "signed_curve25519"}},
	})
	after := wd.Keys.Sync("@alice:localhost", "A1", before.Pos)
	if after.Counts.OneTimeKeys["signed_curve25519"] != 1 || !after.CountsChanged {
		t.Fatalf("after a claim: %+v, want 1 key left and the counts marked changed", after)
	}

	// A to-device message to all of bob's devices reaches each once, even
	// when the send is retried with the same transaction ID.
	msg := map[string]any{"messages": map[string]any{"@bob:localhost": map[string]any{"*": map[string]any{"n": 1}}}}
	post("PUT", "/_matrix/client/v3/sendToDevice/m.test/t1", "tok_a", msg)
	post("PUT", "/_matrix/client/v3/sendToDevice/m.test/t1", "tok_a", msg)
	for _, dev := range []string{"B1", "B2"} {
		got := wd.Keys.Sync("@bob:localhost", dev, 0).ToDevice
		if len(got) != 1 || got[0].Sender != "@alice:localhost" || got[0].Type != "m.test" || string(got[0].Content) != `{"n":1}` {
			t.Errorf("device %s got %+v, want alice's one m.test message", dev, got)
		}
	}
}
