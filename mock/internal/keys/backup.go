package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Backup is a key backup version as GET /room_keys/version shows it. The
// backed-up room keys themselves are not stored (room_keys/keys is left to
// the canned answers), so Count is always 0 and ETag "0".
type Backup struct {
	Version   string          `json:"version"`   // "1", "2", … per user
	Algorithm string          `json:"algorithm"` // as created
	AuthData  json.RawMessage `json:"auth_data"` // as created or last updated
	Count     int             `json:"count"`     // always 0
	ETag      string          `json:"etag"`      // always "0"
}

// backups is a user's key backup versions.
type backups struct {
	last     int               // the last version number given
	versions map[string]Backup // live versions by version
}

// CreateBackup is POST /room_keys/version: it creates a backup version,
// which becomes the current one, and returns its version.
func (s *Store) CreateBackup(userID, algorithm string, authData json.RawMessage) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.user(userID).backups
	b.last++
	v := strconv.Itoa(b.last)
	if b.versions == nil {
		b.versions = make(map[string]Backup)
	}
	b.versions[v] = Backup{Version: v, Algorithm: algorithm, AuthData: slices.Clone(authData), ETag: "0"}
	return v
}

// Backup is GET /room_keys/version[/{version}]: the backup version, or the
// current one (the newest not deleted) when version is "". ErrNoBackup if
// there is none: a client then knows the user has no backup.
func (s *Store) Backup(userID, version string) (Backup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil {
		return Backup{}, ErrNoBackup
	}
	return u.backups.find(version)
}

// find returns the version, or the newest when version is "".
func (b *backups) find(version string) (Backup, error) {
	if version == "" {
		for n := b.last; n > 0; n-- {
			if v, ok := b.versions[strconv.Itoa(n)]; ok {
				return v, nil
			}
		}
	}
	if v, ok := b.versions[version]; ok {
		return v, nil
	}
	return Backup{}, ErrNoBackup
}

// UpdateBackup is PUT /room_keys/version/{version}: it replaces the
// version's auth_data. bodyVersion is the version given in the body, if
// any. ErrNoBackup for an unknown version; ErrBackupMismatch if
// bodyVersion or algorithm differs from the backup's.
func (s *Store) UpdateBackup(userID, version, bodyVersion, algorithm string, authData json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil || version == "" {
		return ErrNoBackup
	}
	b, err := u.backups.find(version)
	if err != nil {
		return err
	}
	if (bodyVersion != "" && bodyVersion != version) || algorithm != b.Algorithm {
		return fmt.Errorf("%w: version %q algorithm %q, the backup has version %q algorithm %q",
			ErrBackupMismatch, bodyVersion, algorithm, version, b.Algorithm)
	}
	b.AuthData = slices.Clone(authData)
	u.backups.versions[version] = b
	return nil
}

// DeleteBackup is DELETE /room_keys/version/{version}. ErrNoBackup for an
// unknown version.
func (s *Store) DeleteBackup(userID, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil || version == "" {
		return ErrNoBackup
	}
	if _, ok := u.backups.versions[version]; !ok {
		return ErrNoBackup
	}
	delete(u.backups.versions, version)
	return nil
}
