package specgen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/internal/yamlpos"
)

// Source is a set of spec files in a file system: a folder (every top-level
// OpenAPI file in it) or a single file.
type Source struct {
	// FS holds the files. Paths inside it are slash-separated and unrooted.
	FS fs.FS
	// Path is a folder or a file inside FS.
	Path string
	// Display turns a path inside FS into the name shown to people (in
	// errors and in the generated header). Nil shows the path as it is.
	Display func(p string) string
}

// DirSource returns the Source for a folder or file on disk, shown relative
// to the folder relativeTo (the output file's folder, so that the header of
// generated code does not depend on where the generator ran).
func DirSource(osPath, relativeTo string) (Source, error) {
	abs, err := filepath.Abs(osPath)
	if err != nil {
		return Source{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return Source{}, err
	}
	wd, err := filepath.Abs(relativeTo)
	if err != nil {
		return Source{}, err
	}
	return Source{
		FS:   os.DirFS("/"),
		Path: strings.TrimPrefix(filepath.ToSlash(abs), "/"),
		Display: func(p string) string {
			full := filepath.FromSlash("/" + p)
			if rel, err := filepath.Rel(wd, full); err == nil {
				return filepath.ToSlash(rel)
			}
			return full
		},
	}, nil
}

// ShownAs returns s with its files shown under name (in errors and in the
// generated header): s.Path itself as name, a file in it as name/file. Give
// the path as the user wrote it, so that what is shown does not depend on
// where the project is checked out.
func (s Source) ShownAs(name string) Source {
	root := s.Path
	s.Display = func(p string) string {
		rel, err := filepath.Rel(filepath.FromSlash(root), filepath.FromSlash(p))
		if err != nil {
			return p
		}
		return path.Join(name, filepath.ToSlash(rel))
	}
	return s
}

// specFile is one loaded top-level OpenAPI document.
type specFile struct {
	display string
	doc     *openapi3.T
	node    *yaml.Node // the file as parsed by the $ref check, for positions
}

// position returns "file:line:col" of the key at keys in the file (such as
// "paths", "/login", "post"), read from the YAML parsed by the $ref check;
// just the file when there is no such key. kin-openapi can record origins
// too, but only one decode at a time, and Swagger 2.0 documents lose them in
// conversion.
func (f *specFile) position(keys ...string) string {
	if key := keyNode(f.node, keys); key != nil {
		return fmt.Sprintf("%s:%d:%d", f.display, key.Line, key.Column)
	}
	return f.display
}

// keyNode returns the key node of the last of keys, followed from the
// top-level mapping of doc, or nil.
func keyNode(doc *yaml.Node, keys []string) *yaml.Node {
	if doc == nil || len(keys) == 0 {
		return nil
	}
	n := documentMapping(doc)
	var key *yaml.Node
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		next := (*yaml.Node)(nil)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				key, next = n.Content[i], n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return key
}

// load reads every OpenAPI document of the sources. It first checks each file
// and everything it references for YAML errors and dangling $refs, so that
// such problems are reported with file:line:col; then it loads the documents
// with kin-openapi, several at a time.
func load(ctx context.Context, sources []Source) ([]*specFile, error) {
	var files []*specFile
	for _, src := range sources {
		display := src.Display
		if display == nil {
			display = func(p string) string { return p }
		}
		paths, err := listSpecFiles(src.FS, src.Path, display)
		if err != nil {
			return nil, err
		}
		check := refChecker{fsys: src.FS, display: display, nodes: map[string]*yaml.Node{}}
		for _, p := range paths {
			check.file(p)
		}
		if err := errors.Join(check.errs...); err != nil {
			return nil, err
		}
		docs, err := loadDocs(ctx, src.FS, paths, display)
		if err != nil {
			return nil, err
		}
		for i, p := range paths {
			files = append(files, &specFile{display: display(p), doc: docs[i], node: check.nodes[p]})
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no OpenAPI files to generate from")
	}
	return files, nil
}

// loadDocs loads the documents at paths, several at a time: each has its
// own loader, and most of the time goes into parsing the files they
// reference. The result is in the order of paths; on failure, the error of
// the first failing path in that order is returned.
func loadDocs(ctx context.Context, fsys fs.FS, paths []string, display func(string) string) ([]*openapi3.T, error) {
	docs := make([]*openapi3.T, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Go(func() {
			for i := range next {
				docs[i], errs[i] = loadDoc(ctx, fsys, paths[i], display)
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// listSpecFiles returns p itself when it is a file, or the top-level YAML and
// JSON files of the folder p that are OpenAPI documents (they have an
// "openapi" or "swagger" key), sorted. Subfolders such as definitions/ hold
// referenced schemas and are read only through $ref.
func listSpecFiles(fsys fs.FS, p string, display func(string) string) ([]string, error) {
	info, err := fs.Stat(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(p), errors.Unwrap(err))
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	entries, err := fs.ReadDir(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(p), err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isSpecName(name) {
			continue
		}
		full := path.Join(p, name)
		data, err := fs.ReadFile(fsys, full)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", display(full), err)
		}
		if isOpenAPIDocument(data) {
			out = append(out, full)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no OpenAPI files in this folder", display(p))
	}
	slices.Sort(out)
	return out, nil
}

func isSpecName(name string) bool {
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

var openAPIKey = regexp.MustCompile(`(?m)^("?)(openapi|swagger)("?)\s*:`)

func isOpenAPIDocument(data []byte) bool { return openAPIKey.Match(data) }

// loadDoc loads the OpenAPI document p of fsys with its relative $refs:
// OpenAPI 3.0 and 3.1 as they are, Swagger 2.0 converted (see loadSwagger2).
// Errors start with the file's name as display gives it.
func loadDoc(ctx context.Context, fsys fs.FS, p string, display func(string) string) (*openapi3.T, error) {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(p), err)
	}
	if isSwagger2(data) {
		return loadSwagger2(ctx, fsys, p, data, display)
	}
	doc, err := newLoader(ctx, fsys).LoadFromDataWithPath(data, &url.URL{Path: p})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display(p), err)
	}
	return doc, nil
}

// newLoader returns a kin-openapi loader that reads relative references from
// fsys and refuses remote ones.
func newLoader(ctx context.Context, fsys fs.FS) *openapi3.Loader {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Scheme != "" || u.Host != "" {
			return nil, fmt.Errorf("remote reference %s: only relative file references are allowed", u)
		}
		return fs.ReadFile(fsys, strings.TrimPrefix(path.Clean(u.Path), "/"))
	}
	return loader
}

// refChecker parses files with yaml.v3 and checks that every $ref names a
// readable file and, with a fragment, a node inside it. It reports each
// problem at the $ref's own line and column.
type refChecker struct {
	fsys    fs.FS
	display func(string) string
	nodes   map[string]*yaml.Node // parsed files; nil for one that failed
	errs    []error
}

// file parses p (once) and checks the references in it, following them into
// other files. It returns the parsed document node, or nil.
func (c *refChecker) file(p string) *yaml.Node {
	if n, seen := c.nodes[p]; seen {
		return n
	}
	c.nodes[p] = nil
	data, err := fs.ReadFile(c.fsys, p)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", c.display(p), err))
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		c.errs = append(c.errs, yamlError(c.display(p), data, err))
		return nil
	}
	c.nodes[p] = &doc
	c.walk(p, &doc)
	return &doc
}

// walk visits n, checking each $ref. Example values are skipped: the Matrix
// spec puts $refs in them that only its site tooling expands.
func (c *refChecker) walk(p string, n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, child := range n.Content {
			c.walk(p, child)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			switch {
			case key.Value == "$ref" && value.Kind == yaml.ScalarNode:
				c.ref(p, value)
			case key.Value == "example" || key.Value == "examples" || strings.HasPrefix(key.Value, "x-"):
			default:
				c.walk(p, value)
			}
		}
	}
}

func (c *refChecker) ref(p string, ref *yaml.Node) {
	where := fmt.Sprintf("%s:%d:%d", c.display(p), ref.Line, ref.Column)
	target, fragment, _ := strings.Cut(ref.Value, "#")
	if strings.Contains(target, "://") {
		c.errs = append(c.errs, fmt.Errorf("%s: $ref %q: only relative file references are allowed", where, ref.Value))
		return
	}
	targetPath := p
	if target != "" {
		targetPath = path.Join(path.Dir(p), target)
		if _, err := fs.Stat(c.fsys, targetPath); err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: $ref %q: no such file %s", where, ref.Value, c.display(targetPath)))
			return
		}
	}
	doc := c.file(targetPath)
	if doc == nil || fragment == "" {
		return
	}
	if pointerNode(doc, fragment) == nil {
		c.errs = append(c.errs, fmt.Errorf("%s: $ref %q: %s has nothing at #%s", where, ref.Value, c.display(targetPath), fragment))
	}
}

// pointerNode returns the node that the JSON pointer (RFC 6901) names in
// doc, or nil.
func pointerNode(doc *yaml.Node, pointer string) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if pointer == "" || pointer == "/" {
		return n
	}
	for _, token := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		token = strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
		if unescaped, err := url.PathUnescape(token); err == nil {
			token = unescaped
		}
		next := (*yaml.Node)(nil)
		switch n.Kind {
		case yaml.MappingNode:
			next = mappingValue(n, token)
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(token); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// yamlError turns a yaml.v3 error in data into "file:line:col: message",
// one line per problem.
func yamlError(file string, data []byte, err error) error {
	var msgs []string
	for _, p := range yamlpos.Problems(data, err) {
		msgs = append(msgs, fmt.Sprintf("%s:%d:%d: %s", file, p.Line, p.Col, p.Msg))
	}
	return errors.New(strings.Join(msgs, "\n"))
}
