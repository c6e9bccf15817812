package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that it reports problems as
// an *Error with positions, and that the engine runs what it accepts.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("rules: [{when: {nth: 1}, then: {respond: {body: &a [*a]}}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data, knownOps)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || len(perr.Problems) == 0 {
				t.Fatalf("got %v, want an *Error with problems", err)
			}
			for _, p := range perr.Problems {
				if p.Line < 1 || p.Col < 1 || !strings.HasPrefix(p.String(), "fuzz.yaml:") {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		e := NewEngine(s.Rules, s.Clock.Start, s.UserID)
		req := whoami()
		for range 3 {
			e.Due(req.Now)
			e.OnRequest(req)
		}
	})
}
