package mock_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/mock"
	"github.com/mxauth/mxauth/mock/journal"
)

// heapPerSession builds a mock with n live sessions through its Go API, ten
// devices per user, each with an access and a refresh token, and half of
// them refreshed once through POST /refresh (so that they hold the previous
// pair too, until the new one is used). It returns the growth of the live
// heap: the whole server, its journal included, in bytes per session.
func heapPerSession(t *testing.T, n int) float64 {
	t.Helper()
	const perUser = 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hs := func() *mock.Server { // what is allocated in here and not kept by hs does not count
		hs, err := mock.New()
		if err != nil {
			t.Fatal(err)
		}
		refreshTokens := make([]string, 0, n/2)
		for i := range n {
			user := "user" + strconv.Itoa(i/perUser)
			if i%perUser == 0 {
				if _, err := hs.AddUser(user, "pw"); err != nil {
					t.Fatal(err)
				}
			}
			s, err := hs.Login(user, "", true)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				refreshTokens = append(refreshTokens, s.RefreshToken)
			}
		}
		h := hs.Handler()
		for _, rt := range refreshTokens {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/refresh", strings.NewReader(`{"refresh_token":"`+rt+`"}`)))
			if rec.Code != http.StatusOK {
				t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
			}
		}
		return hs
	}()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(hs)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perSession := float64(grown) / float64(n)
	t.Logf("%d live sessions (half refreshed once): %.1f MiB of heap, %.0f bytes per session",
		n, float64(grown)/(1<<20), perSession)
	return perSession
}

// TestHeap100kSessions checks the design target: the mock holds 100k live
// sessions in under 100 MiB of heap.
func TestHeap100kSessions(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures need a build without -race; test.sh runs this test without it")
	}
	const n, limit = 100_000, 100 << 20
	if perSession := heapPerSession(t, n); perSession*n >= limit {
		t.Errorf("%.0f bytes per session: %d sessions take %.1f MiB, want < 100 MiB", perSession, n, perSession*n/(1<<20))
	}
}

// TestHeap1MSessions logs the heap that a million live sessions take. It
// takes from half a minute to minutes and over half a gigabyte of heap, so
// it runs only with MXAUTH_MEMORY_1M=1.
func TestHeap1MSessions(t *testing.T) {
	if os.Getenv("MXAUTH_MEMORY_1M") != "1" {
		t.Skip("set MXAUTH_MEMORY_1M=1 to measure a million sessions")
	}
	heapPerSession(t, 1_000_000)
}

// TestJournalStaysBounded sends three journals' worth of requests through
// the handler: the journal keeps the latest DefaultCapacity, oldest first,
// counts the others as dropped, and its heap does not grow once full.
func TestJournalStaysBounded(t *testing.T) {
	const capacity = journal.DefaultCapacity
	hs, err := mock.New()
	if err != nil {
		t.Fatal(err)
	}
	h := hs.Handler()
	sendRange := func(from, to int) {
		for i := from; i < to; i++ {
			rec := httptest.NewRecorder()
			// Each to its own path, so that the entries kept can be told apart.
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/nothing/"+strconv.Itoa(i), nil))
			if rec.Code != http.StatusNotFound {
				t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		}
	}
	empty := liveHeap()
	sendRange(0, capacity)
	full := liveHeap()
	sendRange(capacity, 3*capacity)
	grown := int64(liveHeap()) - int64(full)

	entries := hs.Journal().Entries(journal.Filter{})
	if len(entries) != capacity {
		t.Fatalf("the journal holds %d entries after %d requests, want %d", len(entries), 3*capacity, capacity)
	}
	if got, want := hs.Journal().Dropped(), 2*capacity; got != want {
		t.Errorf("Dropped() = %d, want %d", got, want)
	}
	for i, e := range []journal.Entry{entries[0], entries[capacity-1]} {
		if want := fmt.Sprint("/_matrix/client/v3/nothing/", 2*capacity+i*(capacity-1)); e.Path != want {
			t.Errorf("entry %d is for %s, want %s", i*(capacity-1), e.Path, want)
		}
	}
	// Once full, the journal replaces entries: allow 1 MiB of noise.
	t.Logf("the full journal took %d bytes of heap, which grew by %d bytes over %d more requests",
		int64(full)-int64(empty), grown, 2*capacity)
	if grown > 1<<20 {
		t.Errorf("heap grew by %d bytes over %d more requests with the journal full, want at most 1 MiB", grown, 2*capacity)
	}
}

// liveHeap returns the live heap after a collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
