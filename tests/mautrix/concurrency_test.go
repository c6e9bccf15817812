package mautrix_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock/journal"
)

// TestConcurrentClients: 20 goroutines, each with its own mautrix client,
// log the same user in on 20 devices and call whoami 10 times each; every
// call succeeds with its own device, and the journal counts exactly 200
// successful whoamis. Run with -race.
func TestConcurrentClients(t *testing.T) {
	const clients, calls = 20, 10
	hs := startHS(t)

	var wg sync.WaitGroup
	for i := range clients {
		device := id.DeviceID(fmt.Sprintf("PARALLEL%02d", i))
		wg.Go(func() {
			cli, err := mautrix.NewClient(hs.URL, "", "")
			if err != nil {
				t.Errorf("client %d: NewClient: %v", i, err)
				return
			}
			resp, err := cli.Login(t.Context(), passwordLogin(device, i%2 == 0))
			if err != nil {
				t.Errorf("client %d: Login: %v", i, err)
				return
			}
			if resp.DeviceID != device || resp.UserID != aliceID {
				t.Errorf("client %d: Login = %s on %s, want %s on %s", i, resp.UserID, resp.DeviceID, aliceID, device)
				return
			}
			for j := range calls {
				who, err := cli.Whoami(t.Context())
				if err != nil {
					t.Errorf("client %d: Whoami %d: %v", i, j, err)
					return
				}
				if who.UserID != aliceID || who.DeviceID != device {
					t.Errorf("client %d: Whoami %d = %s on %s, want %s on %s", i, j, who.UserID, who.DeviceID, aliceID, device)
				}
			}
		})
	}
	wg.Wait()

	if n := count(hs, journal.Filter{Operation: "getTokenOwner", Status: http.StatusOK}); n != clients*calls {
		t.Errorf("journal: %d successful whoamis, want %d", n, clients*calls)
	}
	if n := count(hs, journal.Filter{Operation: "login", Status: http.StatusOK}); n != clients {
		t.Errorf("journal: %d successful logins, want %d", n, clients)
	}
	if n := count(hs, journal.Filter{Operation: "getTokenOwner", DeviceID: "PARALLEL07"}); n != calls {
		t.Errorf("journal: %d whoamis from PARALLEL07, want %d", n, calls)
	}
	got := mockDeviceIDs(hs)
	var want []id.DeviceID
	for i := range clients {
		want = append(want, id.DeviceID(fmt.Sprintf("PARALLEL%02d", i)))
	}
	if !slices.Equal(got, want) {
		t.Errorf("devices = %v, want %v", got, want)
	}
}
