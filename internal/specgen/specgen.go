// Package specgen turns OpenAPI files laid out like the Matrix spec's
// data/api/client-server folder into Go: it loads them (multi-file, relative
// $refs, OpenAPI 3.1 or Swagger 2.0), normalises them into one document,
// filters it, and emits types, a typed client and a strict server with
// oapi-codegen.
//
// The steps, in order: load (load.go, with Swagger 2.0 converted in
// swagger2.go), merge (merge.go), filterVersion and filterOperations
// (filter.go), patternMapsAsAdditional (patterns.go), rewriteTypeLists
// (sumtypes.go), hoistSchemas (hoist.go), nameInlineBodies (bodies.go), emit (emit.go, which ends with
// prefixClashingEnums in enumnames.go).
package specgen

import (
	"context"
	"errors"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// ErrBadOptions is wrapped by the errors that come from the options rather
// than from the spec files: an operationId that is not in the specs, a
// selection that leaves nothing, a malformed Matrix version.
var ErrBadOptions = errors.New("bad options")

// optionsError is an error that matches ErrBadOptions under errors.Is and
// reads as its cause.
type optionsError struct{ cause error }

func badOptions(cause error) error          { return optionsError{cause} }
func (e optionsError) Error() string        { return e.cause.Error() }
func (e optionsError) Unwrap() error        { return e.cause }
func (e optionsError) Is(target error) bool { return target == ErrBadOptions }

// Options says what to generate from which files.
type Options struct {
	// Sources are the spec folders or files, merged in order.
	Sources []Source
	// Package is the Go package name of the output.
	Package string
	// Parts chooses types, client and server.
	Parts Parts
	// Selection limits the operations.
	Selection Selection
	// MatrixVersion, when set (such as "1.2"), drops what
	// x-addedInMatrixVersion marks as added later.
	MatrixVersion string
}

// Generate returns gofmt'd Go source for opts. The output is the same,
// byte for byte, for the same inputs.
func Generate(ctx context.Context, opts Options) ([]byte, error) {
	doc, inputs, err := Document(ctx, opts)
	if err != nil {
		return nil, err
	}
	return emit(doc, opts.Package, opts.Parts, inputs)
}

// Document loads, merges, filters and normalises the sources into the one
// document that is handed to oapi-codegen, and returns it with the display
// names of the files that contributed the operations it kept.
func Document(ctx context.Context, opts Options) (*openapi3.T, []string, error) {
	var target *matrixVersion
	if opts.MatrixVersion != "" {
		v, err := parseMatrixVersion(opts.MatrixVersion)
		if err != nil {
			return nil, nil, err
		}
		target = &v
	}
	files, err := load(ctx, opts.Sources)
	if err != nil {
		return nil, nil, err
	}
	doc, err := merge(files)
	if err != nil {
		return nil, nil, err
	}
	if target != nil {
		filterVersion(doc, *target)
	}
	if err := filterOperations(doc, opts.Selection); err != nil {
		return nil, nil, err
	}
	patternMapsAsAdditional(doc)
	stringUnionParameters(doc)
	sums := rewriteTypeLists(doc)
	taken := sumTypeNames(sums)
	if err := hoistSchemas(doc, taken); err != nil {
		return nil, nil, err
	}
	nameInlineBodies(doc, taken)
	return doc, contributors(files, doc), nil
}

// contributors returns the display names of the files that gave doc at
// least one of its operations, sorted: the sources worth naming in the
// generated header.
func contributors(files []*specFile, doc *openapi3.T) []string {
	kept := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			kept[op.OperationID] = true
		}
	}
	var inputs []string
	for _, f := range files {
		if gaveOne(f.doc, kept) {
			inputs = append(inputs, f.display)
		}
	}
	slices.Sort(inputs)
	return inputs
}

// gaveOne reports whether doc has an operation whose operationId is in kept.
func gaveOne(doc *openapi3.T, kept map[string]bool) bool {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if kept[op.OperationID] {
				return true
			}
		}
	}
	return false
}
