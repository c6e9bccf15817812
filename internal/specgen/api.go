package specgen

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/mxauth/mxauth/templates"
)

// apiOperation feeds templates/api.tmpl: one method of the typed API.
type apiOperation struct {
	Def codegen.OperationDefinition
	// ID is the operationId as the spec gives it, the key of the
	// operation table.
	ID string
	// BodyType is the Go type of the body argument; empty for none, or when
	// RawBody is set.
	BodyType string
	// RawBody is set when the body is taken as a content type and an
	// io.Reader, because oapi-codegen has no typed form for its media type.
	RawBody bool
	// CallSuffix completes the name of the raw client's method to call
	// ("WithFormdataBody", "WithBody", or nothing).
	CallSuffix string
	// Result is "json" (a *ResultType is returned), "empty" (only an error)
	// or "raw" (the *http.Response, for a success that is not JSON).
	Result     string
	ResultType string
}

var apiTemplate = template.Must(template.New("api.tmpl").Funcs(codegen.TemplateFunctions).ParseFS(templates.FS, "api.tmpl"))

// renderAPI writes the typed API for doc's operations. It must run right
// after codegen.Generate, in the same hold of codegenMu: it reads
// oapi-codegen's settings for that run. ids maps "METHOD path" to the
// operationId as the spec gives it (oapi-codegen has rewritten the ones in
// doc by now).
func renderAPI(doc *openapi3.T, ids map[string]string) (string, error) {
	defs, err := codegen.OperationDefinitions(doc)
	if err != nil {
		return "", err
	}
	ops := make([]apiOperation, 0, len(defs))
	for _, d := range defs {
		op, err := describeAPIOperation(d)
		if err != nil {
			return "", err
		}
		op.ID = ids[routeKey(d.Method, d.Path)]
		if op.ID == "" {
			return "", fmt.Errorf("%s %s: operation missing from the table", d.Method, d.Path)
		}
		ops = append(ops, op)
	}
	var b bytes.Buffer
	if err := apiTemplate.Execute(&b, ops); err != nil {
		return "", err
	}
	return b.String(), nil
}

// describeAPIOperation chooses the body argument and the result of d's
// method.
func describeAPIOperation(d codegen.OperationDefinition) (apiOperation, error) {
	op := apiOperation{Def: d, Result: "empty"}
	if d.HasBody() {
		op.RawBody, op.CallSuffix = true, "WithBody"
		for _, b := range d.Bodies {
			if !b.IsSupportedByClient() {
				continue
			}
			op.RawBody, op.CallSuffix = false, b.Suffix()
			op.BodyType = b.Schema.RefType
			if op.BodyType == "" {
				op.BodyType = d.OperationId + b.NameTag + "RequestBody"
			}
			if b.IsJSON() {
				break
			}
		}
	}
	types, err := d.GetResponseTypeDefinitions()
	if err != nil {
		return op, err
	}
	for _, t := range types {
		if !strings.HasPrefix(t.ResponseName, "2") || !strings.Contains(t.ContentTypeName, "json") {
			continue
		}
		if t.Schema.RefType == "" && isEmptyObject(t.Schema.OAPISchema) {
			return op, nil
		}
		op.Result, op.ResultType = "json", t.Schema.TypeDecl()
		return op, nil
	}
	for status, r := range d.Spec.Responses.Map() {
		if strings.HasPrefix(status, "2") && r.Value != nil && len(r.Value.Content) > 0 {
			op.Result = "raw"
		}
	}
	return op, nil
}

// isEmptyObject reports whether s is the empty object {}: an answer that
// says nothing beyond its status.
func isEmptyObject(s *openapi3.Schema) bool {
	return s != nil && !needsName(s) && len(s.OneOf) == 0 && len(s.AnyOf) == 0 &&
		(s.Type == nil || s.Type.Is("object"))
}
