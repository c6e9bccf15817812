package mautrix_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
)

// inlineFilter is the filter the sync loops below use, given inline (the
// filter parameter may be JSON): mautrix's own default, a timeline of 50.
// Stored in the client's store as its filter ID, it spares the loop the
// filter upload, so these tests need only the sync and rooms endpoints.
const inlineFilter = `{"room":{"timeline":{"limit":50}}}`

// syncLoop is a client's mautrix sync loop running in the background,
// with what it has seen.
type syncLoop struct {
	cli      *mautrix.Client
	messages chan *event.Event // m.room.message events, as they arrive
	invites  chan id.RoomID    // rooms the user is invited to
	done     chan error        // SyncWithContext's result

	mu   sync.Mutex
	seen map[id.EventID]int // deliveries of each message
}

// startSync starts cli's sync loop; it stops with the test.
func startSync(t *testing.T, cli *mautrix.Client) *syncLoop {
	t.Helper()
	l := &syncLoop{cli: cli, messages: make(chan *event.Event, 16), invites: make(chan id.RoomID, 4), seen: map[id.EventID]int{}}
	syncer := mautrix.NewDefaultSyncer()
	syncer.OnEventType(event.EventMessage, func(_ context.Context, evt *event.Event) {
		l.mu.Lock()
		l.seen[evt.ID]++
		l.mu.Unlock()
		l.messages <- evt
	})
	syncer.OnEventType(event.StateMember, func(_ context.Context, evt *event.Event) {
		if evt.GetStateKey() == cli.UserID.String() && evt.Content.AsMember().Membership == event.MembershipInvite {
			l.invites <- evt.RoomID
		}
	})
	cli.Syncer = syncer
	if err := cli.Store.SaveFilterID(t.Context(), cli.UserID, inlineFilter); err != nil {
		t.Fatal(err)
	}
	l.resume(t)
	return l
}

// resume runs the loop (again), from the next_batch its store kept.
func (l *syncLoop) resume(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	l.done = done
	go func() { done <- l.cli.SyncWithContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// message waits for the next message and checks its body.
func (l *syncLoop) message(t *testing.T, body string) *event.Event {
	t.Helper()
	select {
	case evt := <-l.messages:
		if got := evt.Content.AsMessage().Body; got != body {
			t.Fatalf("%s received %q, want %q", l.cli.UserID, got, body)
		}
		return evt
	case err := <-l.done:
		t.Fatalf("%s's sync ended waiting for %q: %v", l.cli.UserID, body, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not receive %q", l.cli.UserID, body)
	}
	return nil
}

// ended waits for the loop to end and returns its error.
func (l *syncLoop) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-l.done:
		l.done <- err // for the cleanup
		return err
	case <-time.After(mock.VirtualPollCap + 10*time.Second):
		t.Fatalf("%s's sync loop did not end", l.cli.UserID)
	}
	return nil
}

// TestSyncLife: alice and bob live in the mock through mautrix's own sync
// loop: a room created, an invite seen and accepted, messages exchanged;
// alice's access token expires mid-sync, she refreshes as an app would and
// resumes from her since token without losing or repeating a message; her
// loop ends with soft_logout false when her device is deleted elsewhere.
func TestSyncLife(t *testing.T) {
	ctx := t.Context()
	hs := startHS(t, mock.WithUser("bob", "builder"))
	aliceCli, aliceLogin := login(t, hs, "", true)
	bobCli := newClient(t, hs, "")
	if _, err := bobCli.Login(ctx, &mautrix.ReqLogin{
		Type: mautrix.AuthTypePassword, Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "bob"},
		Password: "builder", StoreCredentials: true,
	}); err != nil {
		t.Fatal(err)
	}
	aliceSync, bobSync := startSync(t, aliceCli), startSync(t, bobCli)

	created, err := aliceCli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Garden", Preset: "private_chat", Invite: []id.UserID{bobCli.UserID}})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	select {
	case room := <-bobSync.invites:
		if room != created.RoomID {
			t.Fatalf("bob invited to %s, want %s", room, created.RoomID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob's sync did not show the invite")
	}
	if _, err := bobCli.JoinRoomByID(ctx, created.RoomID); err != nil {
		t.Fatalf("bob JoinRoomByID: %v", err)
	}
	if _, err := bobCli.SendText(ctx, created.RoomID, "hello alice"); err != nil {
		t.Fatal(err)
	}
	aliceSync.message(t, "hello alice")
	if _, err := aliceCli.SendText(ctx, created.RoomID, "hello bob"); err != nil {
		t.Fatal(err)
	}
	bobSync.message(t, "hello alice") // his own, echoed
	bobSync.message(t, "hello bob")
	aliceSync.message(t, "hello bob")

	// The access token expires while alice's loop waits: her loop ends on
	// the next sync with soft_logout true.
	hs.Clock().Advance(6 * time.Minute)
	wantUnknownToken(t, aliceSync.ended(t), true)
	if _, err := bobCli.SendText(ctx, created.RoomID, "while you were out"); err != nil {
		t.Fatal(err)
	}
	bobSync.message(t, "while you were out")
	refreshed := mustRefresh(t, aliceCli, aliceLogin.RefreshToken)
	aliceCli.AccessToken = refreshed.AccessToken
	aliceSync.resume(t)
	aliceSync.message(t, "while you were out")
	if _, err := aliceCli.SendText(ctx, created.RoomID, "back"); err != nil {
		t.Fatal(err)
	}
	bobSync.message(t, "back")
	aliceSync.message(t, "back")
	aliceSync.mu.Lock()
	for evt, n := range aliceSync.seen {
		if n != 1 {
			t.Errorf("alice received %s %d times: the resumed loop did not continue from since", evt, n)
		}
	}
	aliceSync.mu.Unlock()

	// Deleted elsewhere: alice on a second device deletes the first; the
	// first one's waiting sync ends with soft_logout false.
	other, _ := login(t, hs, "OTHER", false)
	url := other.BuildClientURL("v3", "devices", string(aliceLogin.DeviceID))
	uia := uiaChallenge(t, other, http.MethodDelete, url, struct{}{})
	if err := other.DeleteDevice(ctx, aliceLogin.DeviceID, &mautrix.ReqDeleteDevice{Auth: passwordStage(uia.Session, alicePassword)}); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	wantUnknownToken(t, aliceSync.ended(t), false)
}
