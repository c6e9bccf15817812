// Package yamlpos says where a yaml.v3 syntax error is, as a line of the
// file counted from 1, for every reader of YAML files in the module
// (scenario files, spec files) to report the same line numbers.
//
// yaml.v3 writes "yaml: line N: message". For errors of its scanner N
// counts from 1; for errors of its parser N is the mark's line counted
// from 0 (yaml.v3 adds one only for scanner errors), so those are one line
// short. When the problem is on the first line, yaml.v3 writes no line;
// when only the construct around it started there, it names the line of
// the token it stopped at instead.
package yamlpos

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// lineRE matches yaml.v3's syntax errors that say where they are.
var lineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserErrors start the messages of yaml.v3's parser, as opposed to its
// scanner: every message its parserc.go sets.
var parserErrors = []string{
	"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle",
}

// SyntaxLine returns the line of the file, counted from 1, that a yaml.v3
// syntax error names, and its message without "yaml: " and the position.
// An error that names no line is on line 1 (as yaml.v3 means it) and keeps
// its message.
func SyntaxLine(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 1, msg
	}
	line, _ = strconv.Atoi(m[1])
	if slices.ContainsFunc(parserErrors, func(prefix string) bool { return strings.HasPrefix(m[2], prefix) }) {
		line++
	}
	return line, m[2]
}
