package specgen

import (
	"fmt"
	"strings"
	"unicode"
)

// prefixClashingEnums renames the constants of every enum type whose
// constants would clash with another top-level name of the generated code or
// with a name oapi-codegen keeps for itself (reservedNames): each constant of
// such an enum takes the type's name as a prefix, as oapi-codegen does when
// two enums clash. FilterEventFormat's value "client", say, would be the
// constant Client, which is also the generated client's type; it becomes
// FilterEventFormatClient. Enums without a clash keep their short names, and
// a prefixed name depends only on the enum's own type name.
//
// oapi-codegen checks enum values against the schema types it generates but
// not against its client and server declarations; this closes that gap.
// Reserved names count as taken whatever parts are generated, so a
// constant's name does not depend on whether the client is generated. A
// clash left afterwards is reported as an error: the code would not compile.
//
// src must be gofmt'd oapi-codegen output, which this reads line by line:
// enum constants are the lines "\tName Type = value" of a const block, and
// each enum's Valid method names them in "\tcase Name:" lines. Every
// constant of a renamed enum gets the same prefix, so gofmt's alignment of
// the block is unchanged.
func prefixClashingEnums(src []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	decls := scanDeclarations(lines)
	changed := false
	for _, enum := range sortedKeys(decls.enums) {
		consts := decls.enums[enum]
		if !clashes(consts, decls.count) {
			continue
		}
		changed = true
		renamed := map[string]string{}
		for _, c := range consts {
			renamed[c.name] = enum + c.name
			lines[c.line] = "\t" + enum + strings.TrimPrefix(lines[c.line], "\t")
		}
		if at, ok := decls.valid[enum]; ok {
			renameCases(lines[at:], renamed)
		}
	}
	if changed {
		decls = scanDeclarations(lines)
	}
	var twice []string
	for _, name := range sortedKeys(decls.count) {
		if decls.count[name] > 1 {
			twice = append(twice, name)
		}
	}
	if len(twice) > 0 {
		return nil, fmt.Errorf("the generated code declares these names more than once: %s (a generator bug; please report it with the spec files)", strings.Join(twice, ", "))
	}
	if !changed {
		return src, nil
	}
	return []byte(strings.Join(lines, "")), nil
}

// clashes reports whether any of an enum's constants is declared more than
// once or takes a reserved name.
func clashes(consts []enumConst, count map[string]int) bool {
	for _, c := range consts {
		if count[c.name] > 1 || reservedNames[c.name] {
			return true
		}
	}
	return false
}

// renameCases renames the constants in the "case Name:" lines of the
// function that starts at lines[0], up to its closing brace.
func renameCases(lines []string, renamed map[string]string) {
	for i := 1; i < len(lines) && !strings.HasPrefix(lines[i], "}"); i++ {
		body := strings.TrimLeft(lines[i], "\t")
		name, ok := strings.CutPrefix(strings.TrimSuffix(strings.TrimSpace(body), ":"), "case ")
		if to, found := renamed[name]; ok && found {
			lines[i] = strings.Replace(lines[i], "case "+name+":", "case "+to+":", 1)
		}
	}
}

// enumConst is a constant of an enum type: its name and line.
type enumConst struct {
	name string
	line int
}

// declarations are the top-level names of a gofmt'd Go file.
type declarations struct {
	count map[string]int         // how often each name is declared
	enums map[string][]enumConst // the constants of each enum type, by type name
	valid map[string]int         // the line of each enum type's Valid method
}

// scanDeclarations reads the top-level declarations of gofmt'd Go source,
// given as lines: types, functions, variables and constants (alone or in
// blocks). A constant of a named type, "Name Type = value", is taken as a
// value of the enum Type.
func scanDeclarations(lines []string) declarations {
	d := declarations{count: map[string]int{}, enums: map[string][]enumConst{}, valid: map[string]int{}}
	block := "" // "const" or "var" inside a block, else ""
	for i, line := range lines {
		switch {
		case block != "" && strings.HasPrefix(line, ")"):
			block = ""
		case block != "":
			if !strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "\t\t") {
				continue
			}
			fields := strings.Fields(line)
			if len(fields) == 0 || !isIdent(fields[0]) {
				continue
			}
			d.count[fields[0]]++
			if block == "const" && len(fields) >= 3 && isIdent(fields[1]) && fields[2] == "=" {
				d.enums[fields[1]] = append(d.enums[fields[1]], enumConst{fields[0], i})
			}
		case line == "const (\n" || line == "var (\n":
			block = strings.TrimSuffix(line, " (\n")
		case strings.HasPrefix(line, "func ("):
			if recv, ok := validReceiver(line); ok {
				d.valid[recv] = i
			}
		default:
			for _, kw := range []string{"type ", "func ", "var ", "const "} {
				if rest, ok := strings.CutPrefix(line, kw); ok {
					d.count[leadingIdent(rest)]++
					break
				}
			}
		}
	}
	delete(d.count, "")
	return d
}

// validReceiver returns T for the line "func (e T) Valid() bool {".
func validReceiver(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "func (e ")
	if !ok {
		return "", false
	}
	recv, tail, ok := strings.Cut(rest, ") ")
	return recv, ok && strings.HasPrefix(tail, "Valid() bool {") && isIdent(recv)
}

// leadingIdent returns the identifier at the start of s.
func leadingIdent(s string) string {
	end := strings.IndexFunc(s, func(r rune) bool { return !isIdentRune(r) })
	if end < 0 {
		return s
	}
	return s[:end]
}

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// isIdent reports whether s is a Go identifier.
func isIdent(s string) bool {
	if s == "" || unicode.IsDigit(rune(s[0])) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return !isIdentRune(r) }) < 0
}
