package state

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/mxauth/mxauth/clock"
)

const liveSessions = 100_000

// populate returns a store with n live refreshable sessions, perUser per
// user, and their sessions.
func populate(tb testing.TB, n, perUser int) (*Store, []Session) {
	tb.Helper()
	s := New(Config{Deterministic: true}, clock.Virtual(epoch))
	sessions := make([]Session, 0, n)
	for i := range n {
		if i%perUser == 0 {
			if _, err := s.AddUser(fmt.Sprint("user", i/perUser), "pw"); err != nil {
				tb.Fatal(err)
			}
		}
		sess, err := s.Login(LoginRequest{UserID: fmt.Sprint("user", i/perUser), WithRefresh: true})
		if err != nil {
			tb.Fatal(err)
		}
		sessions = append(sessions, sess)
	}
	return s, sessions
}

func BenchmarkAuthenticate(b *testing.B) {
	s, sessions := populate(b, liveSessions, 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Authenticate(sessions[i].AccessToken, "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(sessions)
	}
}

func BenchmarkAuthenticateParallel(b *testing.B) {
	s, sessions := populate(b, liveSessions, 10)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Authenticate(sessions[i].AccessToken, "127.0.0.1"); err != nil {
				b.Error(err)
				return
			}
			i = (i + 7919) % len(sessions)
		}
	})
}

func BenchmarkRefresh(b *testing.B) {
	for _, det := range []bool{false, true} {
		b.Run(fmt.Sprint("deterministic=", det), func(b *testing.B) {
			s, _ := newStore(b, Config{Deterministic: det})
			rt := login(b, s, LoginRequest{WithRefresh: true}).RefreshToken
			b.ReportAllocs()
			for b.Loop() {
				sess, err := s.Refresh(rt)
				if err != nil {
					b.Fatal(err)
				}
				rt = sess.RefreshToken
			}
		})
	}
}

func BenchmarkLogin(b *testing.B) {
	s, _ := newStore(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Login(LoginRequest{UserID: "alice", DeviceID: "PHONE", WithRefresh: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeapPerSession checks the design target: 100k live sessions in under
// 100 MiB of heap, i.e. under 1048 bytes each, whether each user has one device or
// many, and whether each device also keeps its previous pair after a refresh.
func TestHeapPerSession(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("heap figures need a build without -race, and time")
	}
	tests := []struct {
		perUser   int
		refreshed bool
	}{
		{10, false},
		{1, false},
		{10, true},
		{1, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("perUser=%d,refreshed=%v", tt.perUser, tt.refreshed), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := func() *Store { // only the store's own copies of the sessions count
				s, sessions := populate(t, liveSessions, tt.perUser)
				if tt.refreshed {
					for _, sess := range sessions {
						if _, err := s.Refresh(sess.RefreshToken); err != nil {
							t.Fatal(err)
						}
					}
				}
				return s
			}()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perSession := float64(after.HeapAlloc-before.HeapAlloc) / liveSessions
			t.Logf("%.0f heap bytes per live session", perSession)
			if limit := float64(100<<20) / liveSessions; perSession >= limit {
				t.Errorf("%.0f bytes per session, want < %.0f (100 MiB for %d sessions)", perSession, limit, liveSessions)
			}
			runtime.KeepAlive(s)
		})
	}
}
