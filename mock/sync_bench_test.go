package mock_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock"
)

// The /sync long-poll measured over real loopback connections: how soon a
// message reaches a waiting poll, and what idle polls cost in heap.

// syncOver sends GET /sync over HTTP and returns its next_batch.
func syncOver(client *http.Client, hs *mock.Server, token, query string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/_matrix/client/v3/sync?"+query, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		NextBatch string `json:"next_batch"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
		return "", fmt.Errorf("sync: %d %s", resp.StatusCode, raw)
	}
	return body.NextBatch, nil
}

// BenchmarkSendReachesSync measures, over HTTP, the time from alice's
// PUT /send to the end of bob's /sync long-poll that the message wakes:
// the send's round trip, the wake-up and the sync answer. It reports the
// median and the 90th percentile of those latencies (ms-median, ms-p90).
func BenchmarkSendReachesSync(b *testing.B) {
	hs := mock.Start(b, mock.WithUser("alice", "pw"), mock.WithUser("bob", "pw"))
	alice, err := hs.Login("alice", "", false)
	if err != nil {
		b.Fatal(err)
	}
	bob, err := hs.Login("bob", "", false)
	if err != nil {
		b.Fatal(err)
	}
	room, err := hs.CreateRoom("alice", mock.CreateRoomRequest{Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := hs.JoinRoom("bob", room); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	since, err := syncOver(client, hs, bob.AccessToken, "")
	if err != nil {
		b.Fatal(err)
	}
	sendPath := hs.URL + "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/"
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		type polled struct {
			next string
			at   time.Time
			err  error
		}
		done := make(chan polled, 1)
		go func() {
			next, err := syncOver(client, hs, bob.AccessToken, "timeout=30000&since="+url.QueryEscape(since))
			done <- polled{next, time.Now(), err}
		}()
		// Let the poll reach its wait; were it not there yet, it would find
		// the message at once, which only shortens the figure.
		b.StopTimer()
		time.Sleep(time.Millisecond)
		b.StartTimer()
		sent := time.Now()
		req, _ := http.NewRequest(http.MethodPut, sendPath+strconv.Itoa(i), strings.NewReader(`{"msgtype":"m.text","body":"ping"}`))
		req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		p := <-done
		if p.err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("send %d, poll %v", resp.StatusCode, p.err)
		}
		latencies = append(latencies, p.at.Sub(sent))
		since = p.next
	}
	b.StopTimer()
	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(latencies[len(latencies)/2]), "ms-median")
	b.ReportMetric(ms(latencies[len(latencies)*9/10]), "ms-p90")
}

// TestHeap1000IdleSyncs holds 1,000 /sync long-polls over HTTP, one per
// user, each waiting for something new, and checks the design target: the
// heap they take (the server's side and this process's client side
// together: connections, goroutines' buffers, the waiters) is under 50 MB.
func TestHeap1000IdleSyncs(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures need a build without -race; test.sh runs this test without it")
	}
	const n, limit = 1000, 50 << 20
	hs := mock.Start(t)
	tokens := make([]string, n)
	for i := range tokens {
		user := "idle" + strconv.Itoa(i)
		if _, err := hs.AddUser(user, "pw"); err != nil {
			t.Fatal(err)
		}
		s, err := hs.Login(user, "", false)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = s.AccessToken
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	sinces := make([]string, n)
	for i, token := range tokens {
		since, err := syncOver(client, hs, token, "")
		if err != nil {
			t.Fatal(err)
		}
		sinces[i] = since
	}
	before := liveHeap()
	ended := make(chan error, n)
	for i, token := range tokens {
		go func() {
			_, err := syncOver(client, hs, token, "timeout=60000&since="+url.QueryEscape(sinces[i]))
			ended <- err
		}()
	}
	time.Sleep(2 * time.Second) // every poll reaches its wait
	held := liveHeap()
	select {
	case err := <-ended:
		t.Fatalf("an idle poll answered before its timeout: %v", err)
	default:
	}
	grown := int64(held) - int64(before)
	t.Logf("%d idle /sync long-polls over HTTP: %.1f MiB of heap (%.1f KiB each), client side included", n, float64(grown)/(1<<20), float64(grown)/n/1024)
	if grown >= limit {
		t.Errorf("%d idle polls take %.1f MiB of heap, want < 50 MiB", n, float64(grown)/(1<<20))
	}
	_ = hs.Close() // ends the polls before the test's cleanup waits for them
}
