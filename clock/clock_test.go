package clock

import (
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestReal(t *testing.T) {
	before := time.Now()
	got := Real().Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Fatalf("Real().Now() = %v, not between the surrounding time.Now calls", got)
	}
}

func TestVirtual(t *testing.T) {
	tests := []struct {
		name string
		move func(*Virtual)
		want time.Time
	}{
		{"still", func(*Virtual) {}, epoch},
		{"advance", func(v *Virtual) { v.Advance(6 * time.Minute) }, epoch.Add(6 * time.Minute)},
		{"advance twice", func(v *Virtual) { v.Advance(time.Second); v.Advance(2 * time.Second) }, epoch.Add(3 * time.Second)},
		{"backwards", func(v *Virtual) { v.Advance(-time.Hour) }, epoch.Add(-time.Hour)},
		{"set", func(v *Virtual) { v.Set(epoch.AddDate(1, 0, 0)) }, epoch.AddDate(1, 0, 0)},
		{"set then advance", func(v *Virtual) { v.Set(epoch.Add(time.Hour)); v.Advance(time.Minute) }, epoch.Add(61 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVirtual(epoch)
			tt.move(v)
			if got := v.Now(); !got.Equal(tt.want) {
				t.Fatalf("Now() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVirtualDoesNotMoveByItself(t *testing.T) {
	v := NewVirtual(epoch)
	time.Sleep(5 * time.Millisecond)
	if got := v.Now(); !got.Equal(epoch) {
		t.Fatalf("Now() = %v after sleeping, want %v", got, epoch)
	}
}

func TestVirtualConcurrent(t *testing.T) {
	v := NewVirtual(epoch)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 100 {
				v.Advance(time.Millisecond)
				_ = v.Now()
			}
		})
	}
	wg.Wait()
	if got, want := v.Now(), epoch.Add(3200*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
}
