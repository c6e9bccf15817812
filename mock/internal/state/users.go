package state

import (
	"crypto/subtle"
	"slices"
	"strconv"
	"strings"
)

// user is an account. Its password is kept in plain text (this is a mock) and
// never leaves the package.
type user struct {
	id       string
	password string // "" never matches
	guest    bool
	devices  map[string]*device // by device ID
}

// UserID returns the full user ID for a bare localpart ("alice" becomes
// "@alice:<server>"); a user ID (starting with "@") is returned unchanged.
func (s *Store) UserID(localpartOrID string) string {
	if strings.HasPrefix(localpartOrID, "@") {
		return localpartOrID
	}
	return "@" + localpartOrID + ":" + s.cfg.ServerName
}

// maxUserIDLength is the spec's limit on a user ID, in bytes.
const maxUserIDLength = 255

// localUserID returns the user ID for a bare localpart or a user ID on this
// server, or ErrInvalidUsername if the localpart breaks the Matrix grammar
// (a-z 0-9 . _ = - / +), the ID belongs to another server, or it is longer
// than 255 bytes.
func (s *Store) localUserID(localpartOrID string) (string, error) {
	localpart := localpartOrID
	if rest, ok := strings.CutPrefix(localpartOrID, "@"); ok {
		var server string
		if localpart, server, ok = strings.Cut(rest, ":"); !ok || server != s.cfg.ServerName {
			return "", ErrInvalidUsername
		}
	}
	id := s.UserID(localpart)
	if localpart == "" || len(id) > maxUserIDLength || strings.ContainsFunc(localpart, notLocalpartRune) {
		return "", ErrInvalidUsername
	}
	return id, nil
}

func notLocalpartRune(r rune) bool {
	return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("._=-/+", r))
}

// availableUserID returns the user ID that Register would give localpart, or
// why it cannot: ErrInvalidUsername (including all-digit localparts, which
// are reserved for guests as in Synapse) or ErrUserInUse. s.mu must be held.
func (s *Store) availableUserID(localpart string) (string, error) {
	id, err := s.localUserID(localpart)
	if err != nil {
		return "", err
	}
	if strings.Trim(localpart, "0123456789") == "" {
		return "", ErrInvalidUsername
	}
	if s.users[id] != nil {
		return "", ErrUserInUse
	}
	return id, nil
}

// UsernameAvailable returns nil if Register would accept localpart, else
// ErrInvalidUsername or ErrUserInUse.
func (s *Store) UsernameAvailable(localpart string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.availableUserID(localpart)
	return err
}

// Register creates a user and returns its ID. A guest gets a generated,
// all-digit localpart (localpart is ignored), and only when
// Config.GuestAccess is set, else ErrGuestAccessForbidden. Otherwise the
// errors are those of UsernameAvailable.
func (s *Store) Register(localpart, password string, guest bool) (userID string, err error) {
	if guest && !s.cfg.GuestAccess {
		return "", ErrGuestAccessForbidden
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if guest {
		userID = s.nextGuestID()
	} else if userID, err = s.availableUserID(localpart); err != nil {
		return "", err
	}
	s.addUser(userID, password, guest)
	return userID, nil
}

// nextGuestID returns the next free guest user ID. s.mu must be held.
func (s *Store) nextGuestID() string {
	for {
		s.lastGuest++
		if id := s.UserID(strconv.Itoa(s.lastGuest)); s.users[id] == nil {
			return id
		}
	}
}

// AddUser creates a user for a fixture: localpart may also be a user ID on
// this server. Unlike Register it accepts all-digit localparts. Errors:
// ErrInvalidUsername, ErrUserInUse.
func (s *Store) AddUser(localpart, password string) (userID string, err error) {
	if userID, err = s.localUserID(localpart); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[userID] != nil {
		return "", ErrUserInUse
	}
	s.addUser(userID, password, false)
	return userID, nil
}

// addUser stores a new user. s.mu must be held.
func (s *Store) addUser(id, password string, guest bool) {
	s.users[id] = &user{id: id, password: password, guest: guest, devices: make(map[string]*device)}
}

// CheckPassword returns nil if password is the user's, else ErrForbidden,
// which does not tell an unknown user from a wrong password. userID may be a
// bare localpart. Users without a password (guests) never match.
func (s *Store) CheckPassword(userID, password string) error {
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil || u.password == "" || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1 {
		return ErrForbidden
	}
	return nil
}

// Users returns every user ID, sorted.
func (s *Store) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// UserExists reports whether userID is registered.
func (s *Store) UserExists(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[userID] != nil
}

// ServerName returns the server name, the part of user IDs after the colon.
func (s *Store) ServerName() string { return s.cfg.ServerName }

// NewLocalpart returns a localpart that no user has, for a registration
// that does not choose one: "u" and eleven random lower-case letters or
// digits.
func (s *Store) NewLocalpart() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var b [11]byte
		s.read(b[:])
		name := []byte{'u'}
		for _, c := range b {
			name = append(name, alphabet[int(c)%len(alphabet)])
		}
		if s.users[s.UserID(string(name))] == nil {
			return string(name)
		}
	}
}

// Deactivate ends every session of the user and clears their password, so
// that nobody can log in as them again. ErrNotFound for an unknown user.
func (s *Store) Deactivate(userID string) error {
	return s.endUser(userID, func(u *user) { u.password = "" })
}
