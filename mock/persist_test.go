package mock_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
)

func TestStateSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	opts := []mock.Option{mock.WithUser("alice", "pw"), mock.WithOAuthAutoApprove("alice"), mock.WithVirtualClock(epoch), mock.WithStateFile(path)}
	hs := mock.Start(t, opts...)
	a := login(t, hs, "alice", "pw", map[string]any{"refresh_token": true, "device_id": "PHONE"})
	refreshed := refresh(t, hs, a.str(t, "refresh_token"))
	refreshed.wantStatus(t, 200)
	carol := call(t, hs, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": "carol", "password": "pw", "auth": map[string]any{"type": "m.login.dummy"}})
	carol.wantStatus(t, 200)
	client := register(t, hs, nil)
	oauthTokens := exchange(t, hs, client, codeFor(t, hs, client, "DEVICEGGGG"))
	oauthTokens.wantStatus(t, 200)
	if err := hs.SaveState(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file %v %v, want mode 0600", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}

	again := mock.Start(t, opts...)
	call(t, again, "GET", whoami, refreshed.str(t, "access_token"), nil).wantStatus(t, 200)
	call(t, again, "GET", whoami, carol.str(t, "access_token"), nil).wantStatus(t, 200)
	wantUnknownToken(t, refresh(t, again, a.str(t, "refresh_token")), false) // revoked before the restart
	refresh(t, again, refreshed.str(t, "refresh_token")).wantStatus(t, 200)
	login(t, again, "carol", "pw", nil)
	exchange(t, again, client, codeFor(t, again, client, "DEVICEFFFF")).wantStatus(t, 200) // the client is still registered
	form(t, again, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oauthTokens.str(t, "refresh_token")}, "client_id": {client}}).wantStatus(t, 200)
}

func TestBadStateFiles(t *testing.T) {
	dir := t.TempDir()
	for name, tt := range map[string]struct{ content, want string }{
		"damaged":      {`{"format":"mxauth-mock-state","version":1,`, "damaged state file"},
		"future":       {`{"format":"mxauth-mock-state","version":99,"store":{"server_name":"localhost","users":[]}}`, "written by a newer mxauth"},
		"other format": {`{"format":"something","version":1}`, "not a state file"},
		"unknown key":  {`{"format":"mxauth-mock-state","version":1,"extra":1}`, "not a state file"},
		"other server": {`{"format":"mxauth-mock-state","version":1,"store":{"server_name":"example.org","users":[]}}`, `not "localhost"`},
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := mock.New(mock.WithStateFile(path))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", name, err, tt.want)
		}
	}
	// A missing file is a fresh start.
	if _, err := mock.New(mock.WithStateFile(filepath.Join(dir, "none.json"))); err != nil {
		t.Fatalf("missing state file: %v", err)
	}
}
