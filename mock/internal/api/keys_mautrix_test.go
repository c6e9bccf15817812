package api_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mxauth/mxauth/mock"
)

// mautrixLogin logs user in through mautrix on a new device.
func mautrixLogin(t *testing.T, hs *mock.Server, user, password string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(hs.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(t.Context(), &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
		Password:   password, StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("Login(%s): %v", user, err)
	}
	return cli
}

// TestMautrixKeys drives the keys endpoints with mautrix-go's own calls and
// checks that its types decode what the mock answers.
func TestMautrixKeys(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"), mock.WithUser("bob", "builder"))
	ctx := t.Context()
	alice, bob := mautrixLogin(t, hs, "alice", "wonderland"), mautrixLogin(t, hs, "bob", "builder")

	sig := signatures.NewSingleSignature(alice.UserID, id.KeyAlgorithmEd25519, alice.DeviceID.String(), "sig")
	up, err := alice.UploadKeys(ctx, &mautrix.ReqUploadKeys{
		DeviceKeys: &mautrix.DeviceKeys{
			UserID: alice.UserID, DeviceID: alice.DeviceID,
			Algorithms: []id.Algorithm{id.AlgorithmOlmV1, id.AlgorithmMegolmV1},
			Keys: mautrix.KeyMap{
				id.NewDeviceKeyID(id.KeyAlgorithmCurve25519, alice.DeviceID): "curve",
				id.NewDeviceKeyID(id.KeyAlgorithmEd25519, alice.DeviceID):    "ed",
			},
			Signatures: sig,
		},
		OneTimeKeys: map[id.KeyID]mautrix.OneTimeKey{
			id.NewKeyID(id.KeyAlgorithmSignedCurve25519, "AAAA"): {Key: "otk", Signatures: sig},
		},
	})
	if err != nil || up.OneTimeKeyCounts.SignedCurve25519 != 1 {
		t.Fatalf("UploadKeys: %+v, %v; want one signed_curve25519 key", up, err)
	}

	q, err := bob.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
	if err != nil {
		t.Fatalf("QueryKeys: %v", err)
	}
	if got := q.DeviceKeys[alice.UserID][alice.DeviceID]; got.Keys.GetEd25519(alice.DeviceID) != "ed" {
		t.Fatalf("QueryKeys: %+v, want alice's device keys", q.DeviceKeys)
	}

	c, err := bob.ClaimKeys(ctx, &mautrix.ReqClaimKeys{OneTimeKeys: mautrix.OneTimeKeysRequest{
		alice.UserID: {alice.DeviceID: id.KeyAlgorithmSignedCurve25519},
	}})
	if err != nil {
		t.Fatalf("ClaimKeys: %v", err)
	}
	if got := c.OneTimeKeys[alice.UserID][alice.DeviceID][id.NewKeyID(id.KeyAlgorithmSignedCurve25519, "AAAA")]; got.Key != "otk" {
		t.Fatalf("ClaimKeys: %+v, want the uploaded key", c.OneTimeKeys)
	}

	_, err = alice.SendToDevice(ctx, event.ToDeviceRoomKeyRequest, &mautrix.ReqSendToDevice{
		Messages: map[id.UserID]map[id.DeviceID]*event.Content{bob.UserID: {"*": {Raw: map[string]any{"action": "request"}}}},
	})
	if err != nil {
		t.Fatalf("SendToDevice: %v", err)
	}

	// mautrix's GetKeyChanges sends POST, which the spec does not define
	// (GET /keys/changes): the mock answers it 405 as it should, and the
	// answer is decoded into mautrix's type from a GET instead.
	if _, err := alice.GetKeyChanges(ctx, "s0_k0", "s0_k1000"); !errors.Is(err, mautrix.MUnrecognized) {
		t.Errorf("GetKeyChanges (POST): %v, want M_UNRECOGNIZED", err)
	}
	var changes *mautrix.RespKeyChanges
	url := alice.BuildURLWithQuery(mautrix.ClientURLPath{"v3", "keys", "changes"}, map[string]string{"from": "s0_k0", "to": "s0_k1000"})
	_, err = alice.MakeRequest(ctx, http.MethodGet, url, nil, &changes)
	if err != nil || len(changes.Changed) != 1 || changes.Changed[0] != alice.UserID {
		t.Fatalf("GetKeyChanges: %+v, %v; want alice changed", changes, err)
	}

	if _, err := alice.GetKeyBackupLatestVersion(ctx); !errors.Is(err, mautrix.MNotFound) {
		t.Fatalf("GetKeyBackupLatestVersion without a backup: %v, want M_NOT_FOUND", err)
	}
}

// TestMautrixCrossSigningUIA: a first upload passes without UIA; a
// replacement goes through mautrix's UIA callback with the password.
func TestMautrixCrossSigningUIA(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"))
	ctx := t.Context()
	alice := mautrixLogin(t, hs, "alice", "wonderland")
	keys := func(n string) *mautrix.UploadCrossSigningKeysReq {
		key := func(usage id.CrossSigningUsage) mautrix.CrossSigningKeys {
			pub := id.Ed25519(string(usage) + n)
			return mautrix.CrossSigningKeys{UserID: alice.UserID, Usage: []id.CrossSigningUsage{usage},
				Keys: map[id.KeyID]id.Ed25519{id.NewKeyID(id.KeyAlgorithmEd25519, pub.String()): pub}}
		}
		return &mautrix.UploadCrossSigningKeysReq{Master: key(id.XSUsageMaster), SelfSigning: key(id.XSUsageSelfSigning), UserSigning: key(id.XSUsageUserSigning)}
	}
	noUIA := func(*mautrix.RespUserInteractive) any {
		t.Error("UIA asked for a first upload")
		return nil
	}
	if err := alice.UploadCrossSigningKeys(ctx, keys("1"), noUIA); err != nil {
		t.Fatalf("first upload: %v", err)
	}
	asked := 0
	withPassword := func(r *mautrix.RespUserInteractive) any {
		asked++
		if len(r.Flows) != 1 || len(r.Flows[0].Stages) != 1 || r.Flows[0].Stages[0] != mautrix.AuthTypePassword || r.Session == "" {
			t.Errorf("challenge %+v: want one m.login.password flow and a session", r)
		}
		return map[string]any{
			"type": mautrix.AuthTypePassword, "session": r.Session, "password": "wonderland",
			"identifier": mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"},
		}
	}
	if err := alice.UploadCrossSigningKeys(ctx, keys("2"), withPassword); err != nil || asked != 1 {
		t.Fatalf("replacement: %v after %d challenges, want success after one", err, asked)
	}
	q, err := alice.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{alice.UserID: {}}})
	if err != nil {
		t.Fatal(err)
	}
	master, userSigning := q.MasterKeys[alice.UserID], q.UserSigningKeys[alice.UserID]
	if mk := master.FirstKey(); mk != "master2" {
		t.Fatalf("master key after the replacement: %q, want master2", mk)
	}
	if usk := userSigning.FirstKey(); usk != "user_signing2" {
		t.Fatalf("own user-signing key after the replacement: %q, want user_signing2", usk)
	}
}

// TestMautrixMedia uploads and downloads with mautrix-go's media calls.
func TestMautrixMedia(t *testing.T) {
	hs := mock.Start(t, mock.WithUser("alice", "wonderland"))
	ctx := t.Context()
	alice := mautrixLogin(t, hs, "alice", "wonderland")
	cfg, err := alice.GetMediaConfig(ctx)
	if err != nil || cfg.UploadSize != 50<<20 {
		t.Fatalf("GetMediaConfig: %+v, %v", cfg, err)
	}
	data := bytes.Repeat([]byte("mautrix"), 200_000) // 1.4 MB
	up, err := alice.UploadBytesWithName(ctx, data, "application/x-test", "t.bin")
	if err != nil {
		t.Fatalf("UploadBytesWithName: %v", err)
	}
	got, err := alice.DownloadBytes(ctx, up.ContentURI)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("DownloadBytes: %d bytes, %v; want the %d uploaded", len(got), err, len(data))
	}
	resp, err := alice.DownloadThumbnail(ctx, up.ContentURI, 32, 32)
	if err != nil {
		t.Fatalf("DownloadThumbnail: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-test" {
		t.Fatalf("DownloadThumbnail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Asynchronous upload: create, then upload into it.
	created, err := alice.CreateMXC(ctx)
	if err != nil {
		t.Fatalf("CreateMXC: %v", err)
	}
	if _, err := alice.UploadMedia(ctx, mautrix.ReqUploadMedia{ContentBytes: []byte("later"), ContentType: "text/plain", MXC: created.ContentURI}); err != nil {
		t.Fatalf("UploadMedia into a created URI: %v", err)
	}
	if got, err := alice.DownloadBytes(ctx, created.ContentURI); err != nil || string(got) != "later" {
		t.Fatalf("DownloadBytes of the created URI: %q, %v", got, err)
	}
}
