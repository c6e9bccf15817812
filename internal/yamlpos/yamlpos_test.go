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
