package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testClock is a clock a test moves by hand.
type testClock struct{ now atomic.Int64 }

func newClock() *testClock {
	c := &testClock{}
	c.now.Store(epoch.UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.now.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// seeded returns an ID source that gives the same IDs for the same seed.
func seeded(seed uint64) func() string {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return IDSource(rand.NewChaCha8(s))
}

func newStore(cfg Config) (*Store, *testClock) {
	clk := newClock()
	cfg.Now = clk.Now
	if cfg.NewID == nil {
		cfg.NewID = seeded(1)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "example.org"
	}
	return New(cfg), clk
}

// mediaID returns the media ID of an mxc URI of example.org.
func mediaID(t testing.TB, uri string) string {
	t.Helper()
	id, ok := strings.CutPrefix(uri, "mxc://example.org/")
	if !ok || id == "" || strings.ContainsAny(id, "/:+=") {
		t.Fatalf("URI %q is not mxc://example.org/<id>", uri)
	}
	return id
}

func TestUploadAndDownload(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		before      []int // sizes uploaded first
		contentType string
		size        int
		err         error
		wantType    string
	}{
		{"small", Config{}, nil, "image/png", 10, nil, "image/png"},
		{"empty", Config{}, nil, "text/plain", 0, nil, "text/plain"},
		{"no content type", Config{}, nil, "", 3, nil, DefaultContentType},
		{"exactly the upload cap", Config{MaxUploadSize: 100}, nil, "a/b", 100, nil, "a/b"},
		{"over the upload cap", Config{MaxUploadSize: 100}, nil, "a/b", 101, ErrTooLarge, ""},
		{"fills the store", Config{MaxTotalSize: 100}, []int{60}, "a/b", 40, nil, "a/b"},
		{"over the store cap", Config{MaxTotalSize: 100}, []int{60}, "a/b", 41, ErrStoreFull, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(tt.cfg)
			for _, n := range tt.before {
				if _, err := s.Upload("@a:example.org", "a/b", "", make([]byte, n)); err != nil {
					t.Fatal(err)
				}
			}
			data := bytes.Repeat([]byte{'x'}, tt.size)
			uri, err := s.Upload("@alice:example.org", tt.contentType, "f.bin", data)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Upload: %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if len(data) > 0 {
				data[0] = 'y' // the store kept its own copy
			}
			m, err := s.Download(context.Background(), "example.org", mediaID(t, uri))
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentType != tt.wantType || m.Filename != "f.bin" || string(m.Data) != strings.Repeat("x", tt.size) ||
				m.Owner != "@alice:example.org" || !m.Created.Equal(epoch) {
				t.Fatalf("Download: %+v", m)
			}
		})
	}
}

func TestDownloadUnknown(t *testing.T) {
	s, _ := newStore(Config{})
	uri, err := s.Upload("@a:example.org", "a/b", "", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ server, id string }{
		{"example.org", "nope"},
		{"other.org", mediaID(t, uri)}, // the right ID on another server
		{"example.org", ""},
	} {
		if _, err := s.Download(context.Background(), c.server, c.id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Download(%s, %s): %v, want ErrNotFound", c.server, c.id, err)
		}
	}
}

func TestMaxUploadSize(t *testing.T) {
	if got := New(Config{}).MaxUploadSize(); got != DefaultMaxUploadSize {
		t.Fatalf("default %d", got)
	}
	if got := New(Config{MaxUploadSize: 5}).MaxUploadSize(); got != 5 {
		t.Fatalf("configured %d", got)
	}
}

// The same seed gives the same URIs; New's default source gives others.
func TestDeterministicIDs(t *testing.T) {
	uris := func(s *Store) []string {
		var out []string
		for range 3 {
			uri, err := s.Upload("@a:example.org", "", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, uri)
			c, _ := s.Create("@a:example.org")
			out = append(out, c)
		}
		return out
	}
	a, _ := newStore(Config{NewID: seeded(7)})
	b, _ := newStore(Config{NewID: seeded(7)})
	c, _ := newStore(Config{NewID: seeded(8)})
	if x, y := strings.Join(uris(a), " "), strings.Join(uris(b), " "); x != y {
		t.Fatalf("same seed, other URIs:\n%s\n%s", x, y)
	}
	if x, y := uris(a)[0], uris(c)[0]; x == y {
		t.Fatalf("other seeds, same URI %s", x)
	}
	// A source that repeats itself is asked again, never reused.
	repeat := New(Config{NewID: func() string { return "SAME" }})
	if _, err := repeat.Upload("", "", "", nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	repeat.cfg.NewID = func() string {
		n++
		if n < 3 {
			return "SAME"
		}
		return "OTHER"
	}
	if uri, _ := repeat.Upload("", "", "", nil); uri != "mxc://localhost/OTHER" {
		t.Fatalf("URI %s, want a fresh ID", uri)
	}
}

// Asynchronous upload: create, then upload to it, with its errors.
func TestCreateAndUploadTo(t *testing.T) {
	tests := []struct {
		name   string
		owner  string
		server string
		before func(s *Store, clk *testClock, id string)
		size   int
		err    error
	}{
		{"by the creator", "@a:example.org", "example.org", nil, 4, nil},
		{"by another user", "@b:example.org", "example.org", nil, 4, ErrForbidden},
		{"on another server", "@a:example.org", "other.org", nil, 4, ErrNotFound},
		{"twice", "@a:example.org", "example.org", func(s *Store, _ *testClock, id string) {
			_ = s.UploadTo("@a:example.org", "example.org", id, "a/b", "", []byte("1"))
		}, 4, ErrCannotOverwrite},
		{"after the creation lapsed", "@a:example.org", "example.org", func(_ *Store, clk *testClock, _ string) {
			clk.Advance(DefaultUnusedExpiry)
		}, 4, ErrNotFound},
		{"just before it lapses", "@a:example.org", "example.org", func(_ *Store, clk *testClock, _ string) {
			clk.Advance(DefaultUnusedExpiry - time.Millisecond)
		}, 4, nil},
		{"too large", "@a:example.org", "example.org", nil, 11, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newStore(Config{MaxUploadSize: 10})
			uri, expires := s.Create("@a:example.org")
			if !expires.Equal(epoch.Add(DefaultUnusedExpiry)) {
				t.Fatalf("unused_expires_at %v", expires)
			}
			id := mediaID(t, uri)
			if tt.before != nil {
				tt.before(s, clk, id)
			}
			err := s.UploadTo(tt.owner, tt.server, id, "text/plain", "n.txt", make([]byte, tt.size))
			if !errors.Is(err, tt.err) {
				t.Fatalf("UploadTo: %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			m, err := s.Download(context.Background(), "example.org", id)
			if err != nil || m.ContentType != "text/plain" || m.Filename != "n.txt" || len(m.Data) != tt.size {
				t.Fatalf("Download: %+v, %v", m, err)
			}
		})
	}
}

// A download of created media waits for the upload, or gives up with ctx.
func TestDownloadWaits(t *testing.T) {
	s, clk := newStore(Config{})
	uri, _ := s.Create("@a:example.org")
	id := mediaID(t, uri)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Download(ctx, "example.org", id); !errors.Is(err, ErrNotYetUploaded) {
		t.Fatalf("Download with an ended ctx: %v, want ErrNotYetUploaded", err)
	}

	got := make(chan error, 1)
	go func() {
		m, err := s.Download(context.Background(), "example.org", id)
		if err == nil && string(m.Data) != "late" {
			err = errors.New("wrong content " + string(m.Data))
		}
		got <- err
	}()
	if err := s.UploadTo("@a:example.org", "example.org", id, "", "", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// Reset ends a wait with ErrNotFound (whether the download was waiting
	// yet or comes after); so does a creation lapsing.
	uri, _ = s.Create("@a:example.org")
	go func() {
		_, err := s.Download(context.Background(), "example.org", mediaID(t, uri))
		got <- err
	}()
	s.Reset()
	if err := <-got; !errors.Is(err, ErrNotFound) {
		t.Fatalf("a wait across Reset: %v, want ErrNotFound", err)
	}
	uri, _ = s.Create("@a:example.org")
	clk.Advance(DefaultUnusedExpiry)
	if _, err := s.Download(context.Background(), "example.org", mediaID(t, uri)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("download of a lapsed creation: %v, want ErrNotFound", err)
	}
}

// Reset frees the store's room.
func TestReset(t *testing.T) {
	s, _ := newStore(Config{MaxTotalSize: 10})
	uri, err := s.Upload("@a:example.org", "", "", make([]byte, 10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload("@a:example.org", "", "", []byte{1}); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("full store: %v", err)
	}
	s.Reset()
	if _, err := s.Download(context.Background(), "example.org", mediaID(t, uri)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("media after Reset: %v", err)
	}
	if _, err := s.Upload("@a:example.org", "", "", make([]byte, 10)); err != nil {
		t.Fatalf("upload after Reset: %v", err)
	}
}
