package media

import (
	"context"
	"testing"
)

// A 64 KiB upload and its download.
func BenchmarkUploadDownload(b *testing.B) {
	s, _ := newStore(Config{})
	data := make([]byte, 64<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		uri, err := s.Upload("@a:example.org", "a/b", "", data)
		if err != nil {
			s.Reset() // the store's cap reached: start again
			continue
		}
		if _, err := s.Download(context.Background(), "example.org", uri[len("mxc://example.org/"):]); err != nil {
			b.Fatal(err)
		}
	}
}
