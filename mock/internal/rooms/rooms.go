package rooms

import (
	cryptorand "crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"time"
)

// DefaultServerName is the server name used when Config.ServerName is empty.
const DefaultServerName = "localhost"

// Config injects the store's server name, clock and ID source.
type Config struct {
	// ServerName is the server part of room IDs and aliases (default
	// "localhost").
	ServerName string
	// Now reads the mock's clock (default time.Now).
	Now func() time.Time
	// NewID returns a fresh opaque ID, without sigil; the store prefixes "$"
	// for events and "!" for rooms. Default: 18 random bytes in base64url.
	// The mock's deterministic mode passes a seeded source here.
	NewID func() string
	// UserExists reports whether a user is registered; invites to unknown
	// users fail with ErrUnknownUser. Nil means every user exists. The store
	// never calls it while holding its lock.
	UserExists func(userID string) bool
}

// Store holds the rooms, per-user data and the event stream. Create it with
// New.
type Store struct {
	cfg Config

	mu  sync.RWMutex
	pos int64 // the stream's last position
	w   world

	wake waiters
}

// world is all the state Reset drops.
type world struct {
	rooms     map[string]*room               // by room ID
	events    map[string]*event              // by event ID
	aliases   map[string]*alias              // by alias
	users     map[string]*userData           // by user ID
	txns      map[txnKey]string              // (user, device, txnID) -> event ID
	directory map[string]struct{}            // room IDs published in the directory
	memberOf  map[string]map[string]struct{} // user ID -> room IDs with a membership event, until forgotten
}

// txnKey identifies a client transaction: the spec scopes transaction IDs to
// a device, so a refreshed access token on the same device repeats them.
type txnKey struct{ user, device, txn string }

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.ServerName == "" {
		cfg.ServerName = DefaultServerName
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = randomID
	}
	s := &Store{cfg: cfg}
	s.w = newWorld()
	s.wake.init()
	return s
}

// newWorld returns an empty world.
func newWorld() world {
	return world{
		rooms:     make(map[string]*room),
		events:    make(map[string]*event),
		aliases:   make(map[string]*alias),
		users:     make(map[string]*userData),
		txns:      make(map[txnKey]string),
		directory: make(map[string]struct{}),
		memberOf:  make(map[string]map[string]struct{}),
	}
}

// Reset drops every room, event, alias and per-user datum, as when the mock
// returns to a scenario's start, and wakes every waiter. The stream position
// keeps growing, so a token issued before the reset never replays old data.
func (s *Store) Reset() {
	s.mu.Lock()
	s.w = newWorld()
	s.pos++
	s.mu.Unlock()
	s.WakeAll()
}

// ServerName returns the server part of the store's IDs.
func (s *Store) ServerName() string { return s.cfg.ServerName }

// randomID returns 144 random bits in base64url.
func randomID() string {
	var b [18]byte
	_, _ = cryptorand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// next takes the next stream position. The caller holds s.mu.
func (s *Store) next() int64 {
	s.pos++
	return s.pos
}

// localpart returns the part of a user ID between "@" and ":".
func localpart(userID string) string {
	l, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return l
}

// checkTarget fails unless id is a well-formed user ID (ErrInvalidParam)
// of a registered user (ErrUnknownUser).
func (s *Store) checkTarget(id string) error {
	if !validUserID(id) {
		return errf(ErrInvalidParam, "malformed user ID %q", id)
	}
	if !s.userExists(id) {
		return errf(ErrUnknownUser, "%s is not registered", id)
	}
	return nil
}

// userExists applies Config.UserExists.
func (s *Store) userExists(userID string) bool {
	if !validUserID(userID) {
		return false
	}
	return s.cfg.UserExists == nil || s.cfg.UserExists(userID)
}

// validUserID reports whether id looks like "@local:server".
func validUserID(id string) bool {
	l, server, ok := strings.Cut(strings.TrimPrefix(id, "@"), ":")
	return strings.HasPrefix(id, "@") && ok && l != "" && server != ""
}
