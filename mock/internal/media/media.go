// Package media is the mock homeserver's content repository: media
// uploaded by clients, kept in memory under mxc://<server>/<mediaID> URIs.
// It owns the uploaded bytes with their content type and file name, the
// media created for an asynchronous upload and not yet uploaded, and the
// limits: a cap per upload and a cap on the bytes of all media together.
//
// Nothing is processed: a thumbnail request gets the bytes as uploaded
// (a handler answers it with Download), and no content type is checked.
// Only this server's media exist; a URI of another server is unknown. The
// package knows nothing of HTTP. A Store is safe for concurrent use.
package media

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"io"
	"slices"
	"sync"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultServerName = "localhost"
	// DefaultMaxUploadSize is the largest upload, as Synapse's default.
	DefaultMaxUploadSize = 50 << 20
	// DefaultMaxTotalSize caps the bytes of all media together, so a test
	// that uploads in a loop cannot take the machine's memory.
	DefaultMaxTotalSize = 256 << 20
	// DefaultUnusedExpiry is how long media created for an asynchronous
	// upload wait for their content, as Synapse's default.
	DefaultUnusedExpiry = 24 * time.Hour
	// DefaultContentType is the content type of media uploaded without one.
	DefaultContentType = "application/octet-stream"
)

// Config sets a Store's server name, sources and limits. Zero values mean
// the defaults.
type Config struct {
	// ServerName is the server part of mxc URIs (default "localhost").
	ServerName string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewID returns a new media ID of letters, digits, '-' and '_'
	// (default: IDSource(crypto/rand.Reader)). An ID already in use is
	// asked for again.
	NewID func() string
	// MaxUploadSize is the largest upload in bytes, m.upload.size
	// (default DefaultMaxUploadSize).
	MaxUploadSize int64
	// MaxTotalSize caps the bytes of all media together (default
	// DefaultMaxTotalSize).
	MaxTotalSize int64
	// UnusedExpiry is how long created media wait for their content
	// (default DefaultUnusedExpiry).
	UnusedExpiry time.Duration
}

// Media is a stored medium. Data is shared with the Store: read it, never
// change it.
type Media struct {
	ContentType string    // as uploaded, or DefaultContentType
	Filename    string    // as uploaded; "" if none
	Data        []byte    // the bytes as uploaded
	Owner       string    // the user who uploaded or created it
	Created     time.Time // when it was uploaded or created
}

// Store is the content repository. Create it with New.
type Store struct {
	cfg Config

	mu    sync.Mutex
	items map[string]*item // by media ID
	total int64            // bytes of all uploaded media
}

// item is a medium, or a created one waiting for its content.
type item struct {
	Media
	uploaded bool
	expires  time.Time     // while not uploaded: when the creation lapses
	ready    chan struct{} // while not uploaded: closed when content arrives or the item goes
}

// New returns an empty Store.
func New(cfg Config) *Store {
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = IDSource(cryptorand.Reader)
	}
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = DefaultMaxUploadSize
	}
	if cfg.MaxTotalSize <= 0 {
		cfg.MaxTotalSize = DefaultMaxTotalSize
	}
	if cfg.UnusedExpiry <= 0 {
		cfg.UnusedExpiry = DefaultUnusedExpiry
	}
	return &Store{cfg: cfg, items: make(map[string]*item)}
}

// IDSource returns a media ID source reading r: 24 URL-safe base64
// characters (144 bits) per ID. It is safe for concurrent use. Pass
// crypto/rand.Reader, or a seeded generator for repeatable IDs.
func IDSource(r io.Reader) func() string {
	var mu sync.Mutex
	return func() string {
		var b [18]byte
		mu.Lock()
		_, _ = io.ReadFull(r, b[:]) // crypto/rand and math/rand/v2 generators never fail
		mu.Unlock()
		return base64.RawURLEncoding.EncodeToString(b[:])
	}
}

// MaxUploadSize returns the largest upload in bytes: m.upload.size of
// GET /media/config.
func (s *Store) MaxUploadSize() int64 { return s.cfg.MaxUploadSize }

// Reset drops all media. Downloads waiting for created media end with
// ErrNotFound.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, it := range s.items {
		if !it.uploaded {
			close(it.ready)
		}
	}
	s.items = make(map[string]*item)
	s.total = 0
}

// uri returns the mxc URI of mediaID.
func (s *Store) uri(mediaID string) string {
	return "mxc://" + s.cfg.ServerName + "/" + mediaID
}

// newID returns an unused media ID. s.mu must be held.
func (s *Store) newID() string {
	for {
		if id := s.cfg.NewID(); id != "" && s.items[id] == nil {
			return id
		}
	}
}

// checkSize returns the error for an upload of n bytes, if any. s.mu must
// be held.
func (s *Store) checkSize(n int64) error {
	if n > s.cfg.MaxUploadSize {
		return ErrTooLarge
	}
	if s.total+n > s.cfg.MaxTotalSize {
		return ErrStoreFull
	}
	return nil
}

// fill gives it its content. s.mu must be held.
func (s *Store) fill(it *item, contentType, filename string, data []byte) {
	if contentType == "" {
		contentType = DefaultContentType
	}
	it.ContentType, it.Filename, it.Data = contentType, filename, slices.Clone(data)
	it.uploaded = true
	s.total += int64(len(data))
}

// Upload is POST /media/v3/upload: it stores data for owner and returns
// its mxc URI. An empty contentType means DefaultContentType. ErrTooLarge
// above MaxUploadSize; ErrStoreFull when the store's cap would be passed.
func (s *Store) Upload(owner, contentType, filename string, data []byte) (string, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSize(int64(len(data))); err != nil {
		return "", err
	}
	id := s.newID()
	it := &item{Media: Media{Owner: owner, Created: now}}
	s.fill(it, contentType, filename, data)
	s.items[id] = it
	return s.uri(id), nil
}

// Create is POST /media/v1/create: it reserves an mxc URI for owner to
// upload to with UploadTo before unusedExpiresAt.
func (s *Store) Create(owner string) (uri string, unusedExpiresAt time.Time) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.newID()
	exp := now.Add(s.cfg.UnusedExpiry)
	s.items[id] = &item{Media: Media{Owner: owner, Created: now}, expires: exp, ready: make(chan struct{})}
	return s.uri(id), exp
}

// UploadTo is PUT /media/v3/upload/{serverName}/{mediaId}: it gives the
// created medium its content. ErrNotFound if it was not created (or
// lapsed, or is of another server); ErrForbidden if owner did not create
// it; ErrCannotOverwrite if it has content already; ErrTooLarge,
// ErrStoreFull as for Upload.
func (s *Store) UploadTo(owner, serverName, mediaID, contentType, filename string, data []byte) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.lookup(serverName, mediaID, now)
	switch {
	case err != nil:
		return err
	case it.Owner != owner:
		return ErrForbidden
	case it.uploaded:
		return ErrCannotOverwrite
	}
	if err := s.checkSize(int64(len(data))); err != nil {
		return err
	}
	s.fill(it, contentType, filename, data)
	close(it.ready)
	return nil
}

// lookup returns the medium, uploaded or not; ErrNotFound if unknown or
// lapsed (a lapsed one is dropped). s.mu must be held.
func (s *Store) lookup(serverName, mediaID string, now time.Time) (*item, error) {
	it := s.items[mediaID]
	if serverName != s.cfg.ServerName || it == nil {
		return nil, ErrNotFound
	}
	if !it.uploaded && !now.Before(it.expires) {
		delete(s.items, mediaID)
		close(it.ready)
		return nil, ErrNotFound
	}
	return it, nil
}

// Download is GET /media/v3/download and /client/v1/media/download, and
// the thumbnail endpoints too (no image processing: a thumbnail is the
// medium itself). A medium created but not yet uploaded is waited for
// until ctx ends (the handler's timeout_ms), then ErrNotYetUploaded.
// ErrNotFound for unknown media.
func (s *Store) Download(ctx context.Context, serverName, mediaID string) (Media, error) {
	for {
		s.mu.Lock()
		it, err := s.lookup(serverName, mediaID, s.cfg.Now())
		if err != nil || it.uploaded {
			s.mu.Unlock()
			if err != nil {
				return Media{}, err
			}
			return it.Media, nil
		}
		ready := it.ready
		s.mu.Unlock()
		select {
		case <-ready: // uploaded, lapsed or reset: look again
		case <-ctx.Done():
			return Media{}, ErrNotYetUploaded
		}
	}
}
