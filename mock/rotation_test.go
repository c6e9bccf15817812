package mock_test

import (
	"testing"

	"github.com/mxauth/mxauth/mock"
)

// TestOldAccessTokenAfterRefresh pins what the README says of the access
// token a refresh replaces: it keeps working, also once the new pair is
// used, until the next refresh (the new refresh token used), as on
// Synapse; it does not wait for its expiry.
func TestOldAccessTokenAfterRefresh(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithVirtualClock(epoch))
	first := login(t, hs, "alice", "wonderland", map[string]any{"refresh_token": true})
	oldAccess := first.str(t, "access_token")
	second := refresh(t, hs, first.str(t, "refresh_token"))
	second.wantStatus(t, 200)
	call(t, hs, "GET", whoami, oldAccess, nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, second.str(t, "access_token"), nil).wantStatus(t, 200)
	call(t, hs, "GET", whoami, oldAccess, nil).wantStatus(t, 200) // the new pair in use: still works
	refresh(t, hs, second.str(t, "refresh_token")).wantStatus(t, 200)
	wantUnknownToken(t, call(t, hs, "GET", whoami, oldAccess, nil), false)
}
