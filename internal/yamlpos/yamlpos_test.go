package yamlpos

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSyntaxLine: the line reported is the file's line of the problem, or
// of the start of the construct it was found in, counted from 1.
func TestSyntaxLine(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		line int
	}{
		{"a: 1\nb: 2\nc: [1, 2\nd: 4\n", 3}, // parser: the unclosed flow sequence's line
		{"a: 1\nb:\n  - x\n y: 2\n", 4},     // parser: the key that does not fit
		{"- a\nb: 1\n", 2},                  // parser: a key after a sequence item
		{"a: b: c\n", 1},                    // scanner, on the first line: yaml.v3 names none
		{"a: 1\nb: \"open\nc: 4\n", 2},      // scanner: where the quoted scalar starts
		{"a: 1\nb: 2\nc:\n\td: 1\n", 4},     // scanner: the tab
		{"x: {a: 1\ny: 2\n", 2},             // parser: flow mapping not closed
	} {
		var v any
		err := yaml.Unmarshal([]byte(tt.doc), &v)
		if err == nil {
			t.Errorf("%q: no error", tt.doc)
			continue
		}
		if line, _ := SyntaxLine(err); line != tt.line {
			t.Errorf("%q: %v: line %d, want %d", tt.doc, err, line, tt.line)
		}
	}
}
