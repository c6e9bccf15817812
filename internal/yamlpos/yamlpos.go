// Package yamlpos places yaml.v3's errors in their file: the line and column
// of a syntax error, and of a value that does not fit its Go type. It is the
// one place that knows how yaml.v3 counts: its parser reports lines from 0
// while its scanner reports them from 1, and it gives no column at all.
package yamlpos

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one error at a place in a YAML document.
type Problem struct {
	Line, Col int
	Msg       string
}

// syntaxLine matches yaml.v3's messages that say where they are.
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner), whose line numbers count from 0.
var parserProblems = []string{
	"did not find expected <document start>", "did not find expected node content",
	"did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"found duplicate %YAML directive", "found duplicate %TAG directive",
	"found incompatible YAML document", "found undefined tag handle",
}

// Problems turns an error of yaml.Unmarshal (or Decode) of data into
// problems with their places. A syntax error's line is where the problem, or
// the construct around it, starts; its column is that of the line's first
// character other than a space (yaml.v3 gives none), except for an unknown
// alias, which is found exactly. A type error may hold several problems.
// An error yaml.v3 gives no place for is at line 1.
func Problems(data []byte, err error) []Problem {
	var typeErr *yaml.TypeError
	if errors.As(err, &typeErr) {
		out := make([]Problem, 0, len(typeErr.Errors))
		for _, m := range typeErr.Errors {
			p := Problem{Line: 1, Msg: m}
			if lineText, rest, ok := strings.Cut(strings.TrimPrefix(m, "line "), ": "); ok {
				if n, convErr := strconv.Atoi(lineText); convErr == nil {
					p.Line, p.Msg = n, rest
				}
			}
			p.Col = firstColumn(data, p.Line)
			out = append(out, p)
		}
		return out
	}
	p := Problem{Line: 1, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
		if slices.ContainsFunc(parserProblems, func(prefix string) bool { return strings.HasPrefix(p.Msg, prefix) }) {
			p.Line++
		}
	} else if name, ok := strings.CutPrefix(p.Msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			p.Line = bytes.Count(data[:i], []byte("\n")) + 1
			p.Col = len([]rune(string(data[bytes.LastIndexByte(data[:i], '\n')+1:i]))) + 1
		}
	}
	if p.Col == 0 {
		p.Col = firstColumn(data, p.Line)
	}
	return []Problem{p}
}

// firstColumn returns the column of the first character other than a space
// on the given line of data, or 1.
func firstColumn(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	text := lines[line-1]
	trimmed := bytes.TrimLeft(text, " ")
	if len(trimmed) == 0 {
		return 1
	}
	return len([]rune(string(text[:len(text)-len(trimmed)]))) + 1
}
