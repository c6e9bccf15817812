package specgen

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mxauth/mxauth/internal/nearest"
)

// addedInKey is the Matrix spec's extension naming the version that added an
// operation, parameter or property.
const addedInKey = "x-addedInMatrixVersion"

// matrixVersion is a Matrix spec version such as 1.18.
type matrixVersion struct{ major, minor int }

func parseMatrixVersion(s string) (matrixVersion, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	majorText, minorText, ok := strings.Cut(s, ".")
	major, err1 := strconv.Atoi(majorText)
	minor, err2 := strconv.Atoi(minorText)
	if !ok || err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return matrixVersion{}, badOptions(fmt.Errorf("matrix version %q: want MAJOR.MINOR, such as 1.18", s))
	}
	return matrixVersion{major, minor}, nil
}

func (v matrixVersion) after(o matrixVersion) bool {
	return v.major > o.major || (v.major == o.major && v.minor > o.minor)
}

// addedIn returns the version in an element's x-addedInMatrixVersion.
func addedIn(extensions map[string]any) (string, bool) {
	switch v := extensions[addedInKey].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// tooNew reports whether an element was added after target. An element with
// no version mark, or an unreadable one, stays.
func tooNew(extensions map[string]any, target matrixVersion) bool {
	text, ok := addedIn(extensions)
	if !ok {
		return false
	}
	v, err := parseMatrixVersion(text)
	return err == nil && v.after(target)
}

// filterVersion removes the operations, parameters and schema properties that
// x-addedInMatrixVersion says were added after target.
func filterVersion(doc *openapi3.T, target matrixVersion) {
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for method, op := range item.Operations() {
			if tooNew(op.Extensions, target) {
				item.SetOperation(method, nil)
				continue
			}
			op.Parameters = slices.DeleteFunc(op.Parameters, func(p *openapi3.ParameterRef) bool {
				return p.Value != nil && tooNew(p.Value.Extensions, target)
			})
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(p)
		}
	}
	eachSchemaRef(doc, func(sr *openapi3.SchemaRef) {
		s := sr.Value
		if s == nil {
			return
		}
		for name, prop := range s.Properties {
			if prop.Value != nil && tooNew(prop.Value.Extensions, target) {
				delete(s.Properties, name)
				s.Required = slices.DeleteFunc(s.Required, func(r string) bool { return r == name })
			}
		}
	})
}

// Selection picks operations by operationId or tag. Empty lists select all.
type Selection struct {
	IncludeOperations []string
	ExcludeOperations []string
	IncludeTags       []string
}

// filterOperations keeps the operations the selection asks for. An
// operationId that matches nothing is an error that lists the nearest
// existing ones.
func filterOperations(doc *openapi3.T, sel Selection) error {
	known := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			known[op.OperationID] = true
		}
	}
	var errs []error
	for _, id := range append(slices.Clone(sel.IncludeOperations), sel.ExcludeOperations...) {
		if !known[id] {
			errs = append(errs, unknownOperation(id, sortedKeys(known)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return badOptions(err)
	}
	keep := func(op *openapi3.Operation) bool {
		if slices.Contains(sel.ExcludeOperations, op.OperationID) {
			return false
		}
		if len(sel.IncludeOperations) > 0 && !slices.Contains(sel.IncludeOperations, op.OperationID) {
			return false
		}
		if len(sel.IncludeTags) > 0 && !slices.ContainsFunc(op.Tags, func(t string) bool { return slices.Contains(sel.IncludeTags, t) }) {
			return false
		}
		return true
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for method, op := range item.Operations() {
			if !keep(op) {
				item.SetOperation(method, nil)
			}
		}
		if len(item.Operations()) == 0 {
			doc.Paths.Delete(p)
		}
	}
	if doc.Paths.Len() == 0 {
		return badOptions(errors.New("the selection leaves no operations to generate"))
	}
	return nil
}

// unknownOperation names an operationId that is not in the spec and
// suggests the closest ones.
func unknownOperation(id string, known []string) error {
	names := nearest.Names(id, known)
	if len(names) == 0 {
		return fmt.Errorf("unknown operationId %q", id)
	}
	return fmt.Errorf("unknown operationId %q (did you mean %s?)", id, strings.Join(names, ", "))
}
