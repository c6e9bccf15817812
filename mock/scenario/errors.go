package scenario

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a scenario file.
type Problem struct {
	File      string
	Line, Col int // 1-based
	Msg       string
}

// String formats the problem as "file:line:col: msg".
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Error is the error Parse returns for a scenario with problems. Problems
// holds all of them, in the order they appear in the file.
type Error struct {
	Problems []Problem
}

// Error returns the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
