package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// The state file keeps users, devices, token pairs and registered OAuth
// clients across restarts of the server. It holds passwords and tokens in
// clear: it is written readable by its owner only.

// stateFormat names the file format; stateVersion is the version this code
// writes and the newest it reads.
const (
	stateFormat  = "mxauth-mock-state"
	stateVersion = 1
)

// stateFile is the state file's content.
type stateFile struct {
	Format       string              `json:"format"`
	Version      int                 `json:"version"`
	SavedAt      time.Time           `json:"saved_at"`
	Clock        time.Time           `json:"clock"` // the server's clock when saved
	Virtual      bool                `json:"virtual_clock,omitempty"`
	Store        state.Snapshot      `json:"store"`
	OAuthClients []oauth.SavedClient `json:"oauth_clients,omitempty"`
	OAuthGrants  []oauth.SavedGrant  `json:"oauth_grants,omitempty"`
}

// SaveState writes the server's lasting state to path atomically: a
// temporary file in the same folder, synced, then renamed over path, so a
// crash leaves the old file or the new one, never half of one.
func (w *World) SaveState(path string) error {
	cur := w.current.Load()
	f := stateFile{
		Format: stateFormat, Version: stateVersion, SavedAt: time.Now().UTC(),
		Clock: w.clock.Now(), Virtual: w.clock.IsVirtual(), Store: cur.Store.Snapshot(),
	}
	if cur.OAuth != nil {
		f.OAuthClients, f.OAuthGrants = cur.OAuth.Saved()
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the state: %w", err)
	}
	if err := writeAtomically(path, append(data, '\n')); err != nil {
		return fmt.Errorf("saving the state: %w", err)
	}
	return nil
}

// writeAtomically replaces path with data: temporary file, fsync, rename,
// fsync of the folder.
func writeAtomically(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadState replaces the server's users, devices, tokens and OAuth clients
// with those saved in path by SaveState. A virtual clock is set to the
// saved reading. A file that is not a state file, is damaged, was written
// by a newer mxauth or for another server name is an error, and the server
// is left as it was.
func (w *World) LoadState(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("loading the state: %w", err)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			return fmt.Errorf("%s: damaged state file at byte %d: %v", path, syntax.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return fmt.Errorf("%s: damaged state file: it ends early", path)
		}
		return fmt.Errorf("%s: not a state file: %v", path, err)
	}
	switch {
	case f.Format != stateFormat:
		return fmt.Errorf("%s: not a state file (format %q, want %q)", path, f.Format, stateFormat)
	case f.Version > stateVersion:
		return fmt.Errorf("%s: state file version %d was written by a newer mxauth; this one reads up to %d", path, f.Version, stateVersion)
	case f.Version < 1:
		return fmt.Errorf("%s: bad state file version %d", path, f.Version)
	}
	cur := w.current.Load()
	if len(f.OAuthClients) > 0 && cur.OAuth == nil {
		return fmt.Errorf("%s: the state has OAuth clients but the OAuth 2.0 API is off", path)
	}
	if err := cur.Store.Restore(f.Store); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cur.OAuth != nil {
		cur.OAuth.Restore(f.OAuthClients, f.OAuthGrants)
	}
	if f.Virtual && w.clock.IsVirtual() {
		w.clock.Set(f.Clock)
	}
	return nil
}

// WithStateFile restores the state saved at path, if the file exists,
// after the scenario has set the server up: users, devices and tokens
// then come from the file. New fails on a damaged file or one from a newer
// mxauth. Saving is SaveState's job (mockserver -state does it on shutdown
// and at an interval).
func WithStateFile(path string) Option {
	return func(c *config) { c.stateFile = path }
}

// loadStateFile restores c's state file into s, if it exists.
func (w *World) loadStateFile(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return w.LoadState(path)
}
