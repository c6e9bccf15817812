package yamlpos

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSyntaxErrorOnLineFive puts a different syntax error on line 5 of a
// document each time: every one must be reported at line 5, whichever part
// of yaml.v3 (scanner or parser) finds it.
func TestSyntaxErrorOnLineFive(t *testing.T) {
	const head = "openapi: 3.1.0\ninfo:\n  title: t\n  version: \"1\"\n"
	for name, line5 := range map[string]string{
		"unclosed flow sequence": "paths: {/a: [}\n",
		"bad indentation":        " x: 1\n",
		"unterminated string":    "  bad: \"open\n",
		"tab":                    "\tpaths: {}\n",
		"unknown alias":          "paths: *nowhere\n",
		"unclosed flow mapping":  "paths: {a: 1\n",
	} {
		t.Run(name, func(t *testing.T) {
			data := []byte(head + line5)
			var v any
			err := yaml.Unmarshal(data, &v)
			if err == nil {
				t.Fatal("no error")
			}
			ps := Problems(data, err)
			if len(ps) != 1 || ps[0].Line != 5 {
				t.Errorf("%v: problems %+v, want line 5", err, ps)
			}
		})
	}
}

func TestTypeErrorPlaces(t *testing.T) {
	data := []byte("a: 1\nb:\n  c: [x]\n")
	var v struct {
		A string
		B struct{ C int }
	}
	err := yaml.Unmarshal(data, &v)
	ps := Problems(data, err)
	if len(ps) != 1 || ps[0].Line != 3 || ps[0].Col != 3 {
		t.Errorf("%v: problems %+v, want one at 3:3", err, ps)
	}
}

// TestProblemLines: the line reported is the file's line of the problem, or
// of the start of the construct it was found in, counted from 1.
func TestProblemLines(t *testing.T) {
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
		if ps := Problems([]byte(tt.doc), err); len(ps) != 1 || ps[0].Line != tt.line {
			t.Errorf("%q: %v: %+v, want line %d", tt.doc, err, ps, tt.line)
		}
	}
}
