package media

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/storm"
)

const stormSize = 64

// Uploads race for the last room in the store: the accepted ones fit the
// cap exactly, and each is downloaded as uploaded.
func TestUploadStorm(t *testing.T) {
	const size, fit = 100, stormSize / 2
	s, _ := newStore(Config{MaxTotalSize: size * fit})
	uris := make([]string, stormSize)
	storm.Run(stormSize, func(i int) {
		uri, err := s.Upload(fmt.Sprint("@u", i, ":example.org"), "a/b", "", []byte(fmt.Sprintf("%0*d", size, i)))
		if err != nil && !errors.Is(err, ErrStoreFull) {
			t.Error(err)
		}
		uris[i] = uri
	})
	accepted := 0
	for i, uri := range uris {
		if uri == "" {
			continue
		}
		accepted++
		m, err := s.Download(context.Background(), "example.org", mediaID(t, uri))
		if err != nil || string(m.Data) != fmt.Sprintf("%0*d", size, i) {
			t.Fatalf("upload %d: %q, %v", i, m.Data, err)
		}
	}
	if accepted != fit {
		t.Fatalf("%d uploads accepted, want %d", accepted, fit)
	}
}

// Creations, uploads to them, waiting downloads and resets at once, for
// the race detector: every download ends with the content uploaded or,
// across a reset, ErrNotFound; none waits out its ctx.
func TestCreateStorm(t *testing.T) {
	s, _ := newStore(Config{})
	storm.Run(stormSize, func(i int) {
		owner := fmt.Sprint("@u", i, ":example.org")
		for n := range 20 {
			uri, _ := s.Create(owner)
			id := mediaID(t, uri)
			want := fmt.Sprint(i, "/", n)
			got := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				m, err := s.Download(ctx, "example.org", id)
				if err == nil && string(m.Data) != want {
					err = fmt.Errorf("downloaded %q, want %q", m.Data, want)
				}
				got <- err
			}()
			if i == 0 && n%5 == 0 {
				s.Reset()
			}
			err := s.UploadTo(owner, "example.org", id, "", "", []byte(want))
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Error(err)
			}
			if err := <-got; err != nil && !errors.Is(err, ErrNotFound) {
				t.Error(err)
			}
		}
	})
}
