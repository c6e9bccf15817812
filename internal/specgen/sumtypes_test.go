package specgen

import (
	"bytes"
	"context"
	"go/format"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestSumTypeOf(t *testing.T) {
	for _, tc := range []struct {
		types    []string
		want     string // "" for no sum type
		describe string
		accepted string
	}{
		{[]string{"string", "object"}, "StringOrObject", "a string or an object", `"string", "object"`},
		{[]string{"object", "string"}, "StringOrObject", "a string or an object", `"string", "object"`},
		{[]string{"string", "integer", "boolean", "null"}, "StringOrIntegerOrBooleanOrNull",
			"a string, an integer, a boolean or null", `"string", "integer", "boolean", "null"`},
		{[]string{"number", "array"}, "NumberOrArray", "a number or an array", `"number", "array", "integer"`},
		{[]string{"string", "null"}, "", "", ""},           // a nullable string: oapi-codegen's
		{[]string{"string"}, "", "", ""},                   // one type
		{[]string{"string", "object", "file"}, "", "", ""}, // not a JSON type: left for oapi-codegen to report
	} {
		types := openapi3.Types(tc.types)
		st, ok := sumTypeOf(&openapi3.Schema{Type: &types})
		if ok != (tc.want != "") || st.Name != tc.want {
			t.Errorf("%v: got %q (%v), want %q", tc.types, st.Name, ok, tc.want)
			continue
		}
		if ok && (st.Describe() != tc.describe || st.Accepted() != tc.accepted) {
			t.Errorf("%v: describe %q, accepted %s; want %q, %s", tc.types, st.Describe(), st.Accepted(), tc.describe, tc.accepted)
		}
	}
}

// TestTypeListsBecomeSumTypes checks the rewrite of type lists: each schema
// with several types points at one sum type per set of types, wherever it is
// (an array's items, a property, a hoisted definition), and a nullable
// single type is left alone.
func TestTypeListsBecomeSumTypes(t *testing.T) {
	doc, _, err := Document(context.Background(), fixture(t, "quirks"))
	if err != nil {
		t.Fatal(err)
	}
	rule := doc.Components.Schemas["Rule"].Value
	if got := rule.Properties["actions"].Value.Items.Value.Extensions[goTypeKey]; got != "StringOrObject" {
		t.Errorf("Rule.actions items: x-go-type = %v, want StringOrObject", got)
	}
	if got := rule.Properties["value"].Value.Extensions[goTypeKey]; got != "StringOrIntegerOrBooleanOrNull" {
		t.Errorf("Rule.value: x-go-type = %v, want StringOrIntegerOrBooleanOrNull", got)
	}
	if got, ok := rule.Properties["status_msg"].Value.Extensions[goTypeKey]; ok {
		t.Errorf("Rule.status_msg ([string, null]) was rewritten to %v", got)
	}
	body := doc.Paths.Value("/_matrix/client/v3/rules/{ruleId}").Put.RequestBody.Value.Content["application/json"].Schema.Value
	if got := body.Properties["actions"].Value.Items.Value.Extensions[goTypeKey]; got != "StringOrObject" {
		t.Errorf("setRule body actions items: x-go-type = %v, want StringOrObject", got)
	}
	var names []string
	for _, st := range sumTypesIn(doc) {
		names = append(names, st.Name)
	}
	if got := strings.Join(names, " "); got != "StringOrIntegerOrBooleanOrNull StringOrObject" {
		t.Errorf("sum types = %s", got)
	}
}

// TestSharedParameters checks that parameters given as $refs into
// #/components/parameters, the same name in two files, end up inside each
// operation, so that the merged document needs no parameter components.
func TestSharedParameters(t *testing.T) {
	doc, _, err := Document(context.Background(), fixture(t, "quirks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/_matrix/client/v3/rules/{ruleId}", "/_matrix/client/v3/state/{key}"} {
		op := doc.Paths.Value(p).Get
		param := op.Parameters.GetByInAndName("query", "timeout_ms")
		if param == nil {
			t.Errorf("%s: timeout_ms missing", op.OperationID)
			continue
		}
		for _, pr := range op.Parameters {
			if pr.Ref != "" {
				t.Errorf("%s: parameter %s is still a reference %s", op.OperationID, pr.Value.Name, pr.Ref)
			}
		}
	}
	if doc.Components.Parameters != nil {
		t.Errorf("merged document has parameter components: %v", sortedKeys(doc.Components.Parameters))
	}
}

// TestQuirksCompileAndWork generates the quirks fixture, checks the names
// it should have, and builds, vets and tests it: the sum types read and
// write each of their JSON types and refuse the others.
func TestQuirksCompileAndWork(t *testing.T) {
	code, err := Generate(context.Background(), fixture(t, "quirks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Actions +\[\]StringOrObject +` + "`json:\"actions\"`",
		`Value +\*StringOrIntegerOrBooleanOrNull +` + "`json:\"value,omitempty\"`",
		`StatusMsg +\*string`,
		`GetRuleParamsFormatClient +GetRuleParamsFormat = "client"`, // Client is the client's type
		`TimeoutMs +\*int`,
	} {
		if !regexp.MustCompile(want).Match(code) {
			t.Errorf("generated code lacks %s", want)
		}
	}
	if formatted, err := format.Source(code); err != nil || !bytes.Equal(formatted, code) {
		t.Errorf("generated code is not gofmt'd (%v)", err)
	}
	checkPackages(t, []scratchPackage{{name: "quirks", code: code, test: quirksTest}})
}

// TestSumTypeNamesAreTaken checks that a hoisted schema never takes the name
// of a sum type.
func TestSumTypeNamesAreTaken(t *testing.T) {
	key := "/a/definitions/string_or_object.yaml#"
	names, err := nameTargets(map[string]*openapi3.Schema{key: {Title: "StringOrObject"}}, map[string]bool{"StringOrObject": true})
	if err != nil {
		t.Fatal(err)
	}
	if names[key] == "StringOrObject" {
		t.Error("the schema took the sum type's name")
	}
}

// quirksTest runs inside the generated quirks package.
const quirksTest = `package quirks

import (
	"encoding/json"
	"testing"
)

func TestSumTypes(t *testing.T) {
	var r Rule
	if err := json.Unmarshal([]byte(` + "`" + `{"actions":["notify",{"set_tweak":"sound"}],"value":null}` + "`" + `), &r); err != nil {
		t.Fatal(err)
	}
	if s, err := r.Actions[0].AsString(); err != nil || s != "notify" || !r.Actions[0].IsString() || r.Actions[0].IsObject() {
		t.Errorf("actions[0]: %q, %v", s, err)
	}
	if m, err := r.Actions[1].AsObject(); err != nil || m["set_tweak"] != "sound" {
		t.Errorf("actions[1]: %v, %v", m, err)
	}
	if _, err := r.Actions[1].AsString(); err == nil {
		t.Error("an object read as a string")
	}
	if r.Value != nil {
		t.Errorf("value: %v; want nil, as for any optional field that is null", r.Value)
	}
	out, err := json.Marshal(r)
	if err != nil || string(out) != ` + "`" + `{"actions":["notify",{"set_tweak":"sound"}]}` + "`" + ` {
		t.Errorf("round trip: %s, %v", out, err)
	}

	var v StringOrIntegerOrBooleanOrNull
	if out, _ := json.Marshal(v); string(out) != "null" {
		t.Errorf("zero value marshals to %s", out)
	}
	if err := v.FromInteger(42); err != nil || !v.IsInteger() || v.IsString() {
		t.Errorf("FromInteger: %v, raw %s", err, v.Raw())
	}
	if n, err := v.AsInteger(); err != nil || n != 42 {
		t.Errorf("AsInteger: %d, %v", n, err)
	}
	if err := json.Unmarshal([]byte("true"), &v); err != nil || !v.IsBoolean() {
		t.Errorf("boolean: %v", err)
	}
	if err := json.Unmarshal([]byte("1.5"), &v); err == nil {
		t.Error("a number that is not an integer was accepted")
	}
	if err := json.Unmarshal([]byte(` + "`" + `{"actions":[1]}` + "`" + `), &r); err == nil {
		t.Error("a number was accepted where a string or an object is allowed")
	}
	if err := json.Unmarshal([]byte("null"), &v); err != nil || !v.IsNull() {
		t.Errorf("null: %v, raw %s", err, v.Raw())
	}
	if err := v.FromString("x"); err != nil || v.IsNull() {
		t.Errorf("FromString: %v", err)
	}
	v.SetNull()
	if !v.IsNull() {
		t.Error("SetNull")
	}
}
`
