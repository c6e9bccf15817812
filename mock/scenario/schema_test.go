package scenario

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/gen/oauth2"
	"github.com/mxauth/mxauth/operation"
)

// notSchemaDetectable lists the invalid fixtures that the JSON Schema
// cannot reject, with the reason.
var notSchemaDetectable = map[string]string{
	"syntax_error.yaml":         "not YAML: there is no document to validate",
	"duplicate_key.yaml":        "yaml.v3 refuses duplicate keys while decoding, before any schema sees the document",
	"second_document.yaml":      "the schema sees only the first document",
	"duplicate_user.yaml":       "uniqueness across objects, after resolving localparts",
	"duplicate_device.yaml":     "uniqueness of a property across array items",
	"duplicate_token.yaml":      "uniqueness across all devices of all users",
	"duplicate_rule_name.yaml":  "uniqueness of a property across array items",
	"unknown_user.yaml":         "a reference to another part of the document",
	"oauth_without_oauth.yaml":  "a condition on another section (server.auth)",
	"user_on_other_server.yaml": "depends on server.name",
	"after_rule_unknown.yaml":   "a reference to another rule",
	"after_rule_self.yaml":      "a reference to another rule",
	"after_rule_cycle.yaml":     "a property of several rules together",
	"from_after_to.yaml":        "compares two values",
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

// yamlToJSON decodes a YAML file into the values the JSON Schema
// validator takes. An empty file is an empty object.
func yamlToJSON(data []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return map[string]any{}, nil
	}
	return jsonValue(v)
}

// jsonValue turns map keys into strings and times into RFC 3339 strings.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			j, err := jsonValue(item)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			j, err := jsonValue(item)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = j
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			j, err := jsonValue(item)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case nil, bool, int, int64, uint64, float64, string:
		return v, nil
	}
	return nil, fmt.Errorf("no JSON for %T", v)
}

func TestSchemaAcceptsValidFixtures(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) < 8 {
		t.Fatalf("want at least 8 valid fixtures, got %d", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			v, err := yamlToJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(v); err != nil {
				t.Errorf("schema: %v", err)
			}
			if _, err := Parse(file, data, knownOps); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestSchemaRejectsInvalidFixtures(t *testing.T) {
	schema := compileSchema(t)
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(file, data, knownOps); err == nil {
				t.Error("Parse accepted it")
			}
			if reason, ok := notSchemaDetectable[name]; ok {
				t.Skipf("not for the schema: %s", reason)
			}
			v, err := yamlToJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(v); err == nil {
				t.Error("the schema accepted it")
			}
		})
	}
	for name := range notSchemaDetectable {
		if _, err := os.Stat(filepath.Join("testdata/invalid", name)); err != nil {
			t.Errorf("notSchemaDetectable lists %s: %v", name, err)
		}
	}
}

// TestSchemaAgreesWithParser checks small documents against both.
func TestSchemaAgreesWithParser(t *testing.T) {
	schema := compileSchema(t)
	tests := []struct {
		src   string
		valid bool
	}{
		{"rules: [{when: {at: 1m}, then: {soft_logout: }}]", false},
		{"rules: [{when: {at: 1m}, then: {soft_logout: {user: a}}}]\nusers: [{id: a}]", true},
		{"rules: [{when: {nth: 1}, then: {soft_logout: }}]", true},
		{"rules: [{when: {nth: 1}, then: {drop_connection: false}}]", false},
		{"rules: [{when: {nth: 1}, then: {respond: {headers: {Retry-After: 1}}}}]", true},
		{"rules: [{when: {nth: 1}, then: {respond: {headers: {'A B': x}}}}]", false},
		{"rules: [{when: {nth: 1}, then: {respond: {body_text: x, content_type: text/csv}}}]", true},
		{"rules: [{when: {request: {operation: login, method: POST}}, then: {delay: 1s}}]", false},
		{"rules: [{when: {every: 2, from: 1, to: 9}, then: {delay: 1s}}]", true},
		{"rules: [{when: {nth: 2, to: 9}, then: {delay: 1s}}]", false},
		{"rules: [{when: {nth: 1}, then: {delay: 1s}, times: always}]", true},
		{"rules: [{when: {nth: 1}, then: {delay: 1s}, times: 0}]", false},
		{"tokens: {access_lifetime: never, refresh_lifetime: 1h30m, login_token_lifetime: 1.5s}", true},
		{"tokens: {access_lifetime: -5m}", false},
		{"tokens: {deterministic: -1}", false},
		{"clock: {mode: real}", true},
		{"clock: {mode: virtual, start: 2026-01-01T00:00:00Z}", true},
		{"server: {name: 'localhost:8008', versions: [v1.1], auth: [oauth, legacy]}", true},
		{"server: {versions: [v1.1, v1.1]}", false},
		{"server: {auth: []}", false},
		{"users: [{id: Alice}]", false},
		{"users: [{id: a, devices: [{id: X, access_token: 'a b'}]}]", false},
	}
	for _, tt := range tests {
		_, perr := Parse("f.yaml", []byte(tt.src), knownOps)
		v, err := yamlToJSON([]byte(tt.src))
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		serr := schema.Validate(v)
		if (perr == nil) != tt.valid || (serr == nil) != tt.valid {
			t.Errorf("%s:\nparser: %v\nschema: %v\nwant valid=%v", tt.src, perr, serr, tt.valid)
		}
	}
}

// TestSchemaKnowsTheOperations checks the schema's lists of operations
// against the tables the mock routes by: every operation a rule may name,
// and those that take no access token (whose user and device it refuses).
func TestSchemaKnowsTheOperations(t *testing.T) {
	data, err := os.ReadFile("scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Request struct {
				Properties struct {
					Operation struct{ Enum []string } `json:"operation"`
				} `json:"properties"`
				If struct {
					Properties struct {
						Operation struct{ Enum []string } `json:"operation"`
					} `json:"properties"`
				} `json:"if"`
			} `json:"request"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var all, tokenless []string
	for _, table := range []*operation.Table{clientserver.Operations, oauth2.Operations} {
		for _, op := range table.All() {
			all = append(all, op.ID)
			if op.Auth == operation.AuthNone {
				tokenless = append(tokenless, op.ID)
			}
		}
	}
	slices.Sort(all)
	slices.Sort(tokenless)
	req := doc.Defs.Request
	if got := req.Properties.Operation.Enum; !slices.Equal(got, all) {
		t.Errorf("operation enum: got %d names, want the %d of the tables:\n%v", len(got), len(all), all)
	}
	if got := req.If.Properties.Operation.Enum; !slices.Equal(got, tokenless) {
		t.Errorf("operations without a token: got %v, want %v", got, tokenless)
	}
}
