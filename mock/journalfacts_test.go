package mock_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// lastEntry returns the journal's newest entry for operation.
func lastEntry(t *testing.T, hs *mock.Server, operation string) journal.Entry {
	t.Helper()
	entries := hs.Journal().Entries(journal.Filter{Operation: operation})
	if len(entries) == 0 {
		t.Fatalf("no journal entry for %s", operation)
	}
	return entries[len(entries)-1]
}

// TestJournalKeepsErrcodesOfEveryError checks that error answers written
// by generated responses, not by the pipeline's error path, still give
// their errcode to the journal: a UIA challenge after a wrong password,
// and an RFC 6749 error of the token endpoint.
func TestJournalKeepsErrcodesOfEveryError(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithOAuth())
	token := login(t, hs, "alice", "wonderland", nil).str(t, "access_token")
	call(t, hs, "POST", "/_matrix/client/v3/delete_devices", token, map[string]any{
		"devices": []string{"NOPE"},
		"auth": map[string]any{
			"type": "m.login.password", "password": "wrong",
			"identifier": map[string]any{"type": "m.id.user", "user": "alice"},
		},
	}).wantError(t, 401, "M_FORBIDDEN")
	if e := lastEntry(t, hs, "deleteDevices"); e.Status != 401 || e.Errcode != "M_FORBIDDEN" {
		t.Errorf("UIA wrong password: %+v", e)
	}
	a := form(t, hs, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {"nobody"}})
	if e := lastEntry(t, hs, "requestOAuthToken"); e.Status != a.status || e.Errcode == "" || e.Errcode != a.body["error"] {
		t.Errorf("OAuth error %d %s logged as %+v", a.status, a.raw, e)
	}
}

// TestJournalNamesTheOwnerOfRefusedTokens checks that a 401 for a known
// token and a refresh carry the token's user and device, so that
// filtering by user finds a soft logout.
func TestJournalNamesTheOwnerOfRefusedTokens(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(epoch), mock.WithAccessTokenLifetime(time.Minute))
	s := login(t, hs, "alice", "wonderland", map[string]any{"refresh_token": true, "device_id": "PHONE"})
	hs.Clock().Advance(2 * time.Minute)
	wantUnknownToken(t, call(t, hs, "GET", whoami, s.str(t, "access_token"), nil), true)
	refresh(t, hs, s.str(t, "refresh_token")).wantStatus(t, 200)
	if err := hs.SoftLogout("alice", "PHONE"); err != nil {
		t.Fatal(err)
	}
	refresh(t, hs, s.str(t, "refresh_token")).wantStatus(t, 401)
	alice := hs.Journal().Entries(journal.Filter{UserID: "@alice:localhost", DeviceID: "PHONE"})
	var got []string
	for _, e := range alice {
		got = append(got, e.Operation+" "+e.Errcode)
	}
	want := []string{"getTokenOwner M_UNKNOWN_TOKEN", "refresh ", "refresh M_UNKNOWN_TOKEN"}
	if len(got) != len(want) {
		t.Fatalf("alice's entries %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alice's entries %q, want %q", got, want)
		}
	}
}
