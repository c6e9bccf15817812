package specgen

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	"golang.org/x/tools/imports"

	"github.com/mxauth/mxauth/templates"
)

// runtimeImport is the package the generated operation table uses.
const runtimeImport = "github.com/mxauth/mxauth/operation"

// Parts chooses what to generate.
type Parts struct {
	Types  bool // models for every schema, parameter and body
	Client bool // the typed client
	Server bool // the strict server interface with gorilla/mux routing
}

// codegenMu serialises calls into oapi-codegen, which keeps its options in
// package-level variables while it generates.
var codegenMu sync.Mutex

var operationsTemplate = template.Must(template.ParseFS(templates.FS, "operations.tmpl"))

// operationData feeds templates/operations.tmpl.
type operationData struct {
	ID, Method, Path, Auth, AddedIn string
	QueryToken                      bool
}

// emit writes the Go source for doc: oapi-codegen's output, the operation
// table, and our header naming the inputs; gofmt'd.
func emit(doc *openapi3.T, pkg string, parts Parts, inputs []string) ([]byte, error) {
	// Describe the operations first: oapi-codegen rewrites operationIds in
	// the document into Go names while it generates.
	described := describeOperations(doc)
	var table bytes.Buffer
	if err := operationsTemplate.Execute(&table, described); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(described))
	for _, op := range described {
		ids[routeKey(op.Method, op.Path)] = op.ID
	}
	var sums string
	if parts.Types {
		var err error
		if sums, err = renderSumTypes(sumTypesIn(doc)); err != nil {
			return nil, err
		}
	}

	cfg := codegenConfig(pkg, parts)
	// One formatting pass for the whole file: oapi-codegen's is skipped, and
	// imports.Process below drops the imports that end up unused.
	cfg.OutputOptions.SkipFmt = true
	cfg.AdditionalImports = []codegen.AdditionalImport{{Package: runtimeImport}}
	code, api, err := runCodegen(doc, cfg, ids)
	if err != nil {
		return nil, fmt.Errorf("generating Go: %w", err)
	}

	if parts.Server {
		code = fastJSONWriters(code)
	}
	// oapi-codegen starts with comments of its own; ours replace them.
	body := code
	if i := strings.Index(code, "\npackage "); i >= 0 {
		body = code[i+1:]
	}
	src := header(inputs) + body + "\n" + sums + table.String() + api
	out, err := imports.Process(pkg+".go", []byte(src), &imports.Options{Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, fmt.Errorf("generated code does not parse (a generator bug): %w", err)
	}
	return prefixClashingEnums(out)
}

// runCodegen calls oapi-codegen, one call at a time, and turns a panic in it
// into an error, so that one odd schema cannot crash the command. With a
// client, it also renders the typed API (see renderAPI), and with a strict
// server the CannedServer (see renderCanned): both read oapi-codegen's
// settings of the same run, and come back as extra; ids are the
// operationIds by route.
func runCodegen(doc *openapi3.T, cfg codegen.Configuration, ids map[string]string) (code, extra string, err error) {
	codegenMu.Lock()
	defer codegenMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("oapi-codegen failed: %v", r)
		}
	}()
	if code, err = codegen.Generate(doc, cfg); err != nil {
		return "", "", err
	}
	if cfg.Generate.Client {
		if extra, err = renderAPI(doc, ids); err != nil {
			return "", "", err
		}
	}
	if cfg.Generate.Strict {
		defs, err := codegen.OperationDefinitions(doc)
		if err != nil {
			return "", "", err
		}
		canned, err := renderCanned(defs, ids)
		if err != nil {
			return "", "", err
		}
		extra += canned
	}
	return code, extra, nil
}

// jsonVisit matches the body of a strict server's Visit method for a JSON
// answer as oapi-codegen writes it (before formatting, so spaces are loose):
// encode the answer (or a union answer's raw JSON) into a bytes.Buffer
// through a json.Encoder, set the headers
// (Content-Type last), write the status, copy the buffer.
var jsonVisit = regexp.MustCompile(`\n\s*var buf bytes\.Buffer\s+if err := json\.NewEncoder\(&buf\)\.Encode\((response(?:\.union)?)\); err != nil \{\s+return err\s+\}\s+((?:w\.Header\(\)\.Set\("[A-Za-z-]+", [^\n]*\)\s+|if [^\n]*\{\s+w\.Header\(\)[^\n]*\s+\}\s+)*?)w\.Header\(\)\.Set\("Content-Type", "application/json"\)\s+w\.WriteHeader\((\d+)\)\s+_, err := buf\.WriteTo\(w\)\s+return err\n`)

// fastJSONWriters rewrites each JSON Visit method to set its other headers
// and then call operation.WriteJSON, which sends the same bytes with two
// allocations fewer and without the Encoder. A Visit method of another
// shape is left as it is.
func fastJSONWriters(code string) string {
	return jsonVisit.ReplaceAllString(code, "\n${2}return operation.WriteJSON(w, ${3}, ${1})\n")
}

// routeKey identifies an operation by method and path template.
func routeKey(method, path string) string { return strings.ToUpper(method) + " " + path }

// codegenConfig is the oapi-codegen configuration for a package and parts.
func codegenConfig(pkg string, parts Parts) codegen.Configuration {
	return codegen.Configuration{
		PackageName: pkg,
		Generate: codegen.GenerateOptions{
			Models:        parts.Types,
			Client:        parts.Client,
			GorillaServer: parts.Server,
			Strict:        parts.Server,
		},
		OutputOptions: codegen.OutputOptions{
			NameNormalizer: string(codegen.NameNormalizerFunctionToCamelCaseWithInitialisms),
			// The success bodies are named <Operation>Response (see
			// nameInlineBodies); oapi-codegen's wrappers of an answer with its
			// *http.Response take this suffix instead.
			ResponseTypeSuffix: "HTTPResponse",
		},
	}
}

// header is the comment the generated file starts with: not the package's
// doc comment (a blank line parts them), which belongs in a hand-written
// file of the package that says how to use it.
func header(inputs []string) string {
	var b strings.Builder
	b.WriteString("// Code generated by github.com/mxauth/mxauth/cmd/generate. DO NOT EDIT.\n//\n// Sources:\n")
	for _, in := range inputs {
		fmt.Fprintf(&b, "//   - %s\n", in)
	}
	return b.String() + "\n"
}

// describeOperations lists doc's operations for the operation table, sorted
// by operationId.
func describeOperations(doc *openapi3.T) []operationData {
	var ops []operationData
	schemes := doc.Components.SecuritySchemes
	for _, p := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(p).Operations() {
			version, _ := addedIn(op.Extensions)
			auth, query := describeSecurity(op.Security, schemes)
			ops = append(ops, operationData{
				ID: op.OperationID, Method: method, Path: p,
				Auth: auth, QueryToken: query, AddedIn: version,
			})
		}
	}
	slices.SortFunc(ops, func(a, b operationData) int { return strings.Compare(a.ID, b.ID) })
	return ops
}

// describeSecurity reads an operation's security requirements: none (no
// requirement), optional (one alternative is the empty requirement {}) or
// required; and whether one alternative is an access_token query parameter.
func describeSecurity(security *openapi3.SecurityRequirements, schemes openapi3.SecuritySchemes) (auth string, queryToken bool) {
	if security == nil || len(*security) == 0 {
		return "AuthNone", false
	}
	auth = "AuthRequired"
	for _, req := range *security {
		if len(req) == 0 {
			auth = "AuthOptional"
		}
		for name := range req {
			if s := schemes[name]; s != nil && s.Value != nil && s.Value.In == "query" && s.Value.Name == "access_token" {
				queryToken = true
			}
		}
	}
	return auth, queryToken
}
