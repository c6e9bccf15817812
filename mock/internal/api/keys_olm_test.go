//go:build goolm

package api

// mautrix-go's crypto machine (pure-Go goolm, hence the build tag: run with
// go test -tags goolm ./mock/internal/api -run Olm) against the mock. The
// machines sign for real, and check every signature they fetch: this is
// the proof that keys and signed objects come back exactly as uploaded.

import (
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock/scenario"
)

func TestOlmMachinesShareKeysThroughTheMock(t *testing.T) {
	ctx := t.Context()
	wd, srv := worldServer(t, []scenario.User{
		{ID: "alice", Password: "wonderland", Devices: []scenario.Device{{ID: "ALICE1", AccessToken: "tok_a"}}},
		{ID: "bob", Password: "builder", Devices: []scenario.Device{{ID: "BOB1", AccessToken: "tok_b"}}},
	})
	machine := func(user, device, token string) *crypto.OlmMachine {
		cli, err := mautrix.NewClient(srv.URL, id.UserID(user), token)
		if err != nil {
			t.Fatal(err)
		}
		cli.DeviceID = id.DeviceID(device)
		m := crypto.NewOlmMachine(cli, nil, crypto.NewMemoryStore(nil), mautrix.NewMemoryStateStore().(crypto.StateStore))
		if err := m.Load(ctx); err != nil {
			t.Fatalf("Load: %v", err)
		}
		return m
	}
	alice := machine("@alice:localhost", "ALICE1", "tok_a")
	bob := machine("@bob:localhost", "BOB1", "tok_b")

	// Device keys and one-time keys, signed by the account.
	if err := alice.ShareKeys(ctx, -1); err != nil {
		t.Fatalf("alice ShareKeys: %v", err)
	}
	otks := wd.Keys.Counts("@alice:localhost", "ALICE1").OneTimeKeys["signed_curve25519"]
	if otks == 0 {
		t.Fatal("after ShareKeys the mock counts no one-time key for alice")
	}

	// Bob fetches them: the machine checks the device's self-signature.
	devices, err := bob.FetchKeys(ctx, []id.UserID{"@alice:localhost"}, true)
	if err != nil {
		t.Fatalf("bob FetchKeys: %v", err)
	}
	got := devices["@alice:localhost"]["ALICE1"]
	own := alice.OwnIdentity()
	if got == nil || got.IdentityKey != own.IdentityKey || got.SigningKey != own.SigningKey {
		t.Fatalf("bob fetched %+v, want alice's identity %+v (a device whose signature fails is dropped)", got, own)
	}

	// Bob opens an Olm session: it claims a one-time key (whose signature
	// it checks) and sends an encrypted to-device message.
	if err := bob.SendEncryptedToDevice(ctx, got, event.ToDeviceDummy, event.Content{Raw: map[string]any{}}); err != nil {
		t.Fatalf("bob SendEncryptedToDevice: %v", err)
	}
	if left := wd.Keys.Counts("@alice:localhost", "ALICE1").OneTimeKeys["signed_curve25519"]; left != otks-1 {
		t.Errorf("after bob's claim alice has %d one-time keys, want %d", left, otks-1)
	}
	queued := wd.Keys.Sync("@alice:localhost", "ALICE1", 0).ToDevice
	if len(queued) != 1 || queued[0].Type != event.ToDeviceEncrypted.Type || queued[0].Sender != "@bob:localhost" {
		t.Fatalf("alice's to-device queue %+v, want bob's m.room.encrypted", queued)
	}

	// Cross-signing: generated, published (a first upload, no UIA), and
	// alice's device signed with the self-signing key.
	xkeys, err := alice.GenerateCrossSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	noUIA := func(*mautrix.RespUserInteractive) any {
		t.Error("UIA asked for a first cross-signing upload")
		return nil
	}
	if err := alice.PublishCrossSigningKeys(ctx, xkeys, noUIA); err != nil {
		t.Fatalf("PublishCrossSigningKeys: %v", err)
	}
	if err := alice.SignOwnDevice(ctx, alice.OwnIdentity()); err != nil {
		t.Fatalf("SignOwnDevice (signatures/upload): %v", err)
	}
	if _, err := bob.FetchKeys(ctx, []id.UserID{"@alice:localhost"}, true); err != nil {
		t.Fatalf("bob FetchKeys after cross-signing: %v", err)
	}
	master, err := bob.CryptoStore.GetCrossSigningKeys(ctx, "@alice:localhost")
	if err != nil || master[id.XSUsageMaster].Key != xkeys.MasterKey.PublicKey() {
		t.Fatalf("bob's view of alice's master key: %+v, %v; want %s", master, err, xkeys.MasterKey.PublicKey())
	}
	// The self-signing key's signature on alice's device came through
	// signatures/upload and verifies for bob.
	signedBySSK, err := bob.CryptoStore.IsKeySignedBy(ctx, "@alice:localhost", got.SigningKey, "@alice:localhost", master[id.XSUsageSelfSigning].Key)
	if err != nil || !signedBySSK {
		t.Fatalf("alice's device is not signed by her self-signing key in bob's store: %v, %v", signedBySSK, err)
	}
}
