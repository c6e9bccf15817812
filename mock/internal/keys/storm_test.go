package keys

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/storm"
)

const stormSize = 64

// Claims, uploads, queries, signatures, to-device sends and a syncing
// reader all at once, for the race detector, with OnChange calling back
// into the Store (a call under the lock would deadlock). Afterwards: no
// one-time key was handed out twice, every key was handed out once, and
// the reader got every to-device message exactly once, in each sender's
// order, retries included only once.
func TestStorm(t *testing.T) {
	s, _ := newWorld()
	const keysPerClaimer, claimers, sends = 4, stormSize / 4, 10
	upload(t, s, "@bob:x", "B1", UploadRequest{OneTimeKeys: oneTimeKeys("k", claimers*keysPerClaimer-3), FallbackKeys: oneTimeKeys("fb", 1)})

	received := make(chan map[string]int, 1)
	go func() { // alice's A1 syncs until it has every message
		got := make(map[string]int) // messages by sender device
		var since int64
		deadline := time.Now().Add(20 * time.Second)
		for total := 0; total < (stormSize/4)*sends && time.Now().Before(deadline); {
			u := s.Sync("@alice:x", "A1", since)
			for _, e := range u.ToDevice {
				var c struct {
					From string
					N    int
				}
				if err := json.Unmarshal(e.Content, &c); err != nil {
					t.Error(err)
				}
				if c.N != got[c.From] {
					t.Errorf("from %s: message %d, want %d", c.From, c.N, got[c.From])
				}
				got[c.From]++
				total++
			}
			since = u.Pos
			if u.Empty() {
				time.Sleep(time.Millisecond)
			}
		}
		received <- got
	}()

	claimed := make([][]string, stormSize)
	storm.Run(stormSize, func(i int) {
		me := fmt.Sprint("D", i)
		switch i % 4 {
		case 0:
			for range keysPerClaimer {
				for _, k := range s.Claim(map[string]map[string]string{"@bob:x": {"B1": "signed_curve25519"}})["@bob:x"]["B1"] {
					claimed[i] = append(claimed[i], string(k))
				}
			}
		case 1:
			for n := range sends {
				msg := map[string]map[string]json.RawMessage{"@alice:x": {"A1": mustJSON(map[string]any{"from": me, "n": n})}}
				for range 2 { // a retry with the same transaction ID
					if err := s.SendToDevice("@bob:x", me, fmt.Sprint(n), "m.test", msg); err != nil {
						t.Error(err)
					}
				}
			}
		case 2:
			for n := range 10 {
				if _, err := s.Upload("@carol:x", me, UploadRequest{DeviceKeys: deviceKeys("@carol:x", me), OneTimeKeys: oneTimeKeys(me, n)}); err != nil {
					t.Error(err)
				}
				s.Query("@alice:x", map[string][]string{"@carol:x": nil, "@bob:x": nil})
				s.Changed("@alice:x", 0, s.Pos())
			}
			s.DeleteDevice("@carol:x", me)
		case 3:
			for n := range 10 {
				_, _ = s.UploadCrossSigning("@bob:x", CrossSigningKeys{Master: crossKey("@bob:x", "master", fmt.Sprint("M", n))}, n%2 == 0)
				s.UploadSignatures("@alice:x", map[string]map[string]json.RawMessage{"@bob:x": {fmt.Sprint("M", n): signedBy("@alice:x", me, crossKey("@bob:x", "master", "x"))}})
				s.Sync("@bob:x", me, 0)
				if n == 5 {
					s.ResetCrossSigning("@bob:x")
				}
			}
		}
	})

	seen := make(map[string]bool)
	fallbacks := 0
	for _, keys := range claimed {
		for _, k := range keys {
			if k == `{"key":"k-fb0"}` {
				fallbacks++
				continue
			}
			if seen[k] {
				t.Fatalf("one-time key %s handed out twice", k)
			}
			seen[k] = true
		}
	}
	if len(seen) != claimers*keysPerClaimer-3 || fallbacks != 3 {
		t.Fatalf("%d one-time keys and %d fallback keys handed out, want %d and 3", len(seen), fallbacks, claimers*keysPerClaimer-3)
	}
	got := <-received
	for i := 1; i < stormSize; i += 4 {
		if from := fmt.Sprint("D", i); got[from] != sends {
			t.Errorf("%d messages from %s, want %d", got[from], from, sends)
		}
	}
	if r := s.Query("@alice:x", map[string][]string{"@carol:x": nil}); len(r.DeviceKeys["@carol:x"]) != 0 {
		t.Errorf("carol's deleted devices still have keys: %d", len(r.DeviceKeys["@carol:x"]))
	}
}
