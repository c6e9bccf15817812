// Command generate writes Go types, a typed client and a strict gorilla/mux
// server from OpenAPI files laid out like the Matrix spec's
// data/api/client-server folder: mxauth's own bundled specs, or a copy of the
// upstream files of any release, unmodified (OpenAPI 3.1 from Matrix v1.8 on,
// Swagger 2.0 before), a few files or the whole folder.
//
// Usage:
//
//	go run github.com/mxauth/mxauth/cmd/generate [flags]
//
// Flags:
//
//	-spec PATH                 a spec folder or file; repeatable (default: the bundled specs)
//	-o FILE                    write the Go source here (default: standard output)
//	-package NAME              Go package name (default: the output folder's name, or "matrix")
//	-generate LIST             any of types,client,server (default: all three)
//	-include-operations IDS    only these operationIds (comma-separated)
//	-exclude-operations IDS    leave out these operationIds
//	-include-tags TAGS         only operations with one of these tags
//	-matrix-version X.Y        leave out what x-addedInMatrixVersion marks as newer
//	-config FILE               YAML file with the same keys; flags given on the command line win
//	-check                     write nothing; exit 1 if -o is missing or would change
//
// Exit codes: 0 done (or, with -check, up to date); 1 -check found the output
// out of date; 2 bad flags or config file; 3 the specs could not be read or
// generated from; 4 the output could not be written.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/internal/specgen"
	"github.com/mxauth/mxauth/internal/yamlpos"
	"github.com/mxauth/mxauth/specs"
)

// Exit codes.
const (
	exitOK       = 0
	exitOutdated = 1
	exitUsage    = 2
	exitSpec     = 3
	exitWrite    = 4
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config holds the settings, from flags and from a -config file. The YAML
// keys are the flag names.
type config struct {
	Specs             []string `yaml:"spec"`
	Output            string   `yaml:"o"`
	Package           string   `yaml:"package"`
	Generate          []string `yaml:"generate"`
	IncludeOperations []string `yaml:"include-operations"`
	ExcludeOperations []string `yaml:"exclude-operations"`
	IncludeTags       []string `yaml:"include-tags"`
	MatrixVersion     string   `yaml:"matrix-version"`
	Check             bool     `yaml:"check"`
	// specBase is the config file's folder, which relative Specs are
	// read from; empty for specs given on the command line. Specs are kept
	// as written, which is how the generated header shows them, so that
	// it does not depend on where the project is checked out.
	specBase string `yaml:"-"`
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("generate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg config
	var configFile, generate, include, exclude, tags string
	flags.Func("spec", "a spec folder or file; repeatable (default: the bundled specs)", func(s string) error {
		cfg.Specs = append(cfg.Specs, s)
		return nil
	})
	flags.StringVar(&cfg.Output, "o", "", "write the Go source to this file (default: standard output)")
	flags.StringVar(&cfg.Package, "package", "", `Go package name (default: the output folder's name, or "matrix")`)
	flags.StringVar(&generate, "generate", "types,client,server", "what to generate: any of types,client,server")
	flags.StringVar(&include, "include-operations", "", "only these operationIds, comma-separated")
	flags.StringVar(&exclude, "exclude-operations", "", "leave out these operationIds, comma-separated")
	flags.StringVar(&tags, "include-tags", "", "only operations with one of these tags, comma-separated")
	flags.StringVar(&cfg.MatrixVersion, "matrix-version", "", "leave out operations and fields added after this Matrix version (X.Y)")
	flags.StringVar(&configFile, "config", "", "YAML file with the same keys as the flags")
	flags.BoolVar(&cfg.Check, "check", false, "write nothing; exit 1 when -o is missing or would change")
	if err := flags.Parse(args); err != nil {
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "generate: unexpected argument %q (specs are given with -spec)\n", flags.Arg(0))
		return exitUsage
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.Generate = splitList(generate)
	cfg.IncludeOperations, cfg.ExcludeOperations, cfg.IncludeTags = splitList(include), splitList(exclude), splitList(tags)
	if configFile != "" {
		fromFile, err := readConfig(configFile)
		if err != nil {
			fmt.Fprintf(stderr, "generate: %v\n", err)
			return exitUsage
		}
		cfg = overlay(fromFile, cfg, set)
	}

	opts, err := options(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "generate: %v\n", err)
		return exitUsage
	}
	code, err := specgen.Generate(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(stderr, "generate: %v\n", err)
		if errors.Is(err, specgen.ErrBadOptions) {
			return exitUsage
		}
		return exitSpec
	}

	switch {
	case cfg.Check:
		return check(cfg.Output, code, stdout, stderr)
	case cfg.Output == "":
		if _, err := stdout.Write(code); err != nil {
			return exitWrite
		}
	default:
		if err := writeFileAtomic(cfg.Output, code); err != nil {
			fmt.Fprintf(stderr, "generate: %v\n", err)
			return exitWrite
		}
	}
	return exitOK
}

// options turns the settings into generator options.
func options(cfg config) (specgen.Options, error) {
	opts := specgen.Options{
		Package:       cfg.Package,
		MatrixVersion: cfg.MatrixVersion,
		Selection: specgen.Selection{
			IncludeOperations: cfg.IncludeOperations,
			ExcludeOperations: cfg.ExcludeOperations,
			IncludeTags:       cfg.IncludeTags,
		},
	}
	if cfg.Check && cfg.Output == "" {
		return opts, errors.New("-check needs -o: the file to compare with")
	}
	outDir := "."
	if cfg.Output != "" {
		outDir = filepath.Dir(cfg.Output)
	}
	if opts.Package == "" {
		opts.Package = "matrix"
		if cfg.Output != "" {
			if abs, err := filepath.Abs(outDir); err == nil && isIdentifier(filepath.Base(abs)) {
				opts.Package = filepath.Base(abs)
			}
		}
	}
	if !isIdentifier(opts.Package) {
		return opts, fmt.Errorf("-package %q is not a Go identifier", opts.Package)
	}
	for _, part := range cfg.Generate {
		switch part {
		case "types":
			opts.Parts.Types = true
		case "client":
			opts.Parts.Client = true
		case "server":
			opts.Parts.Server = true
		default:
			return opts, fmt.Errorf("-generate: unknown part %q (want types, client or server)", part)
		}
	}
	if !opts.Parts.Types && !opts.Parts.Client && !opts.Parts.Server {
		return opts, errors.New("-generate: nothing to generate")
	}
	if len(cfg.Specs) == 0 {
		for _, folder := range specs.Folders {
			opts.Sources = append(opts.Sources, specgen.Source{
				FS: specs.FS, Path: folder,
				Display: func(p string) string { return "mxauth/specs/" + p },
			})
		}
		return opts, nil
	}
	for _, s := range cfg.Specs {
		osPath := s
		if cfg.specBase != "" && !filepath.IsAbs(s) {
			osPath = filepath.Join(cfg.specBase, s)
		}
		src, err := specgen.DirSource(osPath, ".")
		if err != nil {
			return opts, fmt.Errorf("-spec: %w", err)
		}
		opts.Sources = append(opts.Sources, src.ShownAs(filepath.ToSlash(filepath.Clean(s))))
	}
	return opts, nil
}

// readConfig reads a -config file strictly: a syntax error, an unknown key
// or a value of the wrong type is an error at its line and column, and an
// unknown key's error lists the allowed ones. A list may be given as a
// single value. Relative spec and output paths are taken from the config
// file's folder.
func readConfig(name string) (config, error) {
	var cfg config
	data, err := os.ReadFile(name)
	if err != nil {
		return cfg, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		var msgs []string
		for _, p := range yamlpos.Problems(data, err) {
			msgs = append(msgs, fmt.Sprintf("%s:%d:%d: %s", name, p.Line, p.Col, p.Msg))
		}
		return cfg, errors.New(strings.Join(msgs, "\n"))
	}
	fields, keys := configFields(&cfg)
	if len(doc.Content) == 0 {
		return cfg, nil // an empty file: no settings
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return cfg, fmt.Errorf("%s:%d:%d: want settings as key: value; allowed keys: %s", name, root.Line, root.Column, strings.Join(keys, ", "))
	}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		field, ok := fields[key.Value]
		if !ok {
			errs = append(errs, fmt.Errorf("%s:%d:%d: unknown key %q; allowed: %s", name, key.Line, key.Column, key.Value, strings.Join(keys, ", ")))
			continue
		}
		if field.Kind() == reflect.Slice && value.Kind == yaml.ScalarNode {
			value = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{value}, Line: value.Line, Column: value.Column}
		}
		if err := value.Decode(field.Addr().Interface()); err != nil {
			msg := err.Error()
			if ps := yamlpos.Problems(data, err); len(ps) > 0 {
				msg = ps[0].Msg
			}
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s: %s", name, value.Line, value.Column, key.Value, msg))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	dir := filepath.Dir(name)
	cfg.specBase = dir
	if cfg.Output != "" && !filepath.IsAbs(cfg.Output) {
		cfg.Output = filepath.Join(dir, cfg.Output)
	}
	return cfg, nil
}

// configFields returns the fields of cfg by YAML key, and the keys in the
// order config declares them.
func configFields(cfg *config) (map[string]reflect.Value, []string) {
	v := reflect.ValueOf(cfg).Elem()
	fields := map[string]reflect.Value{}
	var keys []string
	for i := range v.NumField() {
		key := v.Type().Field(i).Tag.Get("yaml")
		if key == "-" {
			continue
		}
		fields[key] = v.Field(i)
		keys = append(keys, key)
	}
	return fields, keys
}

// overlay returns the config file's settings with the flags given on the
// command line put over them.
func overlay(file, flags config, set map[string]bool) config {
	out := file
	if set["spec"] {
		out.Specs, out.specBase = flags.Specs, ""
	}
	if set["o"] {
		out.Output = flags.Output
	}
	if set["package"] {
		out.Package = flags.Package
	}
	if set["generate"] || len(out.Generate) == 0 {
		out.Generate = flags.Generate
	}
	if set["include-operations"] {
		out.IncludeOperations = flags.IncludeOperations
	}
	if set["exclude-operations"] {
		out.ExcludeOperations = flags.ExcludeOperations
	}
	if set["include-tags"] {
		out.IncludeTags = flags.IncludeTags
	}
	if set["matrix-version"] {
		out.MatrixVersion = flags.MatrixVersion
	}
	if set["check"] {
		out.Check = flags.Check
	}
	return out
}

// check compares code with the file at name and prints a short summary of
// the first difference.
func check(name string, code []byte, stdout, stderr io.Writer) int {
	old, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "%s: missing; run the generator to create it\n", name)
		return exitOutdated
	}
	if err != nil {
		fmt.Fprintf(stderr, "generate: %v\n", err)
		return exitWrite
	}
	if bytes.Equal(old, code) {
		fmt.Fprintf(stdout, "%s: up to date\n", name)
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: out of date; %s\n", name, diffSummary(old, code))
	return exitOutdated
}

// diffSummary says where two texts first differ and how their lengths compare.
func diffSummary(old, new []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(new), "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	line := func(lines []string) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return "(end of file)"
	}
	return fmt.Sprintf("%d lines now, %d generated; first difference at line %d:\n  - %s\n  + %s",
		len(a), len(b), i+1, line(a), line(b))
}

// writeFileAtomic writes data to a temporary file beside name and renames it
// into place, so a failed run never leaves a half-written file.
func writeFileAtomic(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func isIdentifier(s string) bool {
	if s == "" || path.Base(s) != s {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
