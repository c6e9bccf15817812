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
	id          string
	password    string // "" never matches
	guest       bool
	deactivated bool               // see Deactivate
	devices     map[string]*device // by device ID
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

// lowerLocalpart lowercases the localpart of a bare localpart or a user ID,
// leaving a user ID's server name as it is.
func lowerLocalpart(localpartOrID string) string {
	if i := strings.IndexByte(localpartOrID, ':'); i >= 0 && strings.HasPrefix(localpartOrID, "@") {
		return strings.ToLower(localpartOrID[:i]) + localpartOrID[i:]
	}
	return strings.ToLower(localpartOrID)
}

func notLocalpartRune(r rune) bool {
	return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("._=-/+", r))
}

// availableUserID returns the user ID that Register would give localpart, or
// why it cannot: ErrInvalidUsername (including all-digit localparts, which
// are reserved for guests as in Synapse) or ErrUserInUse. The localpart is
// lowercased first, as homeservers do on registration. s.mu must be held.
func (s *Store) availableUserID(localpart string) (string, error) {
	localpart = lowerLocalpart(localpart)
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
// which does not tell an unknown user from a wrong password, or
// ErrUserDeactivated. userID may be a bare localpart and must be the stored
// ID (VerifyPassword matches it as a login does). Users without a password
// (guests) never match.
func (s *Store) CheckPassword(userID, password string) error {
	id := s.UserID(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id].checkPassword(password)
}

// VerifyPassword checks a password login and returns the stored user ID.
// user is a localpart or a user ID, matched as homeservers match a login:
// exactly, else ignoring case when that finds one user only, so that
// "@ALICE:localhost" logs in as "@alice:localhost". Errors as for
// CheckPassword: ErrForbidden, or ErrUserDeactivated, which a deactivated
// user gets whatever the password (as on Synapse, whose deactivation
// clears the password).
func (s *Store) VerifyPassword(user, password string) (userID string, err error) {
	id := s.UserID(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUser(id)
	if err := u.checkPassword(password); err != nil {
		return "", err
	}
	return u.id, nil
}

// lookupUser returns the user that id names in a login: the user with that
// ID, else the only one whose ID equals it ignoring case; nil when there is
// none, or more than one. s.mu must be held.
func (s *Store) lookupUser(id string) *user {
	if u := s.users[id]; u != nil {
		return u
	}
	if u := s.users[lowerLocalpart(id)]; u != nil {
		return u // the usual case: localparts are stored in lower case
	}
	var found *user
	for _, u := range s.users {
		if strings.EqualFold(u.id, id) {
			if found != nil {
				return nil
			}
			found = u
		}
	}
	return found
}

// checkPassword returns nil if password is u's; ErrForbidden for a nil
// user, a wrong password or a user without one; ErrUserDeactivated for a
// deactivated user.
func (u *user) checkPassword(password string) error {
	switch {
	case u == nil:
		return ErrForbidden
	case u.deactivated:
		return ErrUserDeactivated
	case u.password == "" || subtle.ConstantTimeCompare([]byte(u.password), []byte(password)) != 1:
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

// Deactivate ends every session of the user and deactivates the account
// for good: its password is cleared, logins (and new sessions of any kind)
// are refused with ErrUserDeactivated, its third-party identifiers are
// removed (another account may add them), and its user ID stays taken.
// Deactivating twice changes nothing. ErrNotFound for an unknown user.
func (s *Store) Deactivate(userID string) error {
	return s.endUser(userID, func(u *user) error {
		u.password, u.deactivated = "", true
		s.dropThreePIDs(u, func(ThreePID) bool { return true })
		return nil
	}, nil)
}

// ChangePassword sets the user's password ("": nobody can log in with a
// password any more). With logoutDevices every device but keepDevice (""
// keeps none: the change was made elsewhere) is deleted with its tokens,
// whose next use is answered with SoftLogout false; keepDevice stays logged
// in, as the spec says of POST /account/password. ErrNotFound for an
// unknown user, ErrUserDeactivated for a deactivated one.
func (s *Store) ChangePassword(userID, password, keepDevice string, logoutDevices bool) error {
	return s.endUser(userID, func(u *user) error {
		if u.deactivated {
			return ErrUserDeactivated
		}
		u.password = password
		return nil
	}, func(d *device) bool { return logoutDevices && d.ID != keepDevice })
}
