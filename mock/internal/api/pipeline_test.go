package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oapi-codegen/runtime"

	"github.com/mxauth/mxauth/gen/clientserver"
)

// TestReadBodyDecodesOnce checks which JSON bodies readBody leaves to a
// single decoding by encoding/json (member names it can match only
// exactly) and which it decodes itself so that names match exactly, and
// that both kinds keep the bytes for bodyObject.
func TestReadBodyDecodesOnce(t *testing.T) {
	for _, c := range []struct {
		body    string
		decoded bool // decoded by readBody (decodedBody), not left to encoding/json (jsonBody)
	}{
		{`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wonderland"}`, false},
		{`{"password":"Wonderland \"Alice\" ünïcode \\ \u00e9"}`, false}, // only values have such bytes
		{"{ \"refresh_token\" :\t\"RT\" }", false},
		{`{"User":"alice"}`, true},
		{`{"identifier":{"type":"m.id.user","User":"alice"}}`, true},
		{`{"user\u0041":"alice"}`, true},    // an escape
		{"{\"pa\u017fsword\":\"x\"}", true}, // ſ, which encoding/json folds into s
		{"{\"\u212aey\":\"x\"}", true},      // the Kelvin sign, folded into k
		{`{"a":["B",{"C":1}]}`, true},       // a name in an array's object
		{`{"a":"x\":","b":1}`, false},       // a quote escaped in a value, then ':' inside it
		{`{"a\"B":1}`, true},                // an escaped quote inside a name
		{`{"ok":{"Nested value":"no colon"}}`, true},
	} {
		r := httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/login", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		if e := readBody(httptest.NewRecorder(), r); e != nil {
			t.Fatalf("%s: %v", c.body, e)
		}
		_, decoded := r.Body.(*decodedBody)
		if decoded != c.decoded {
			t.Errorf("%s: read as %T, want decoded: %v", c.body, r.Body, c.decoded)
		}
		if got, _ := io.ReadAll(r.Body); string(got) != c.body {
			t.Errorf("%s: the handler reads %q", c.body, got)
		}
		if _, ok := bodyObject(r.Body); !ok {
			t.Errorf("%s: bodyObject found no object", c.body)
		}
	}
}

// TestReadBodyRefusesAsBefore checks the answers to bodies that are not
// one JSON object, which the single decoding must not change.
func TestReadBodyRefusesAsBefore(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":1} {"b":2}`:   "M_NOT_JSON",
		`{"a":1`:            "M_NOT_JSON",
		`{"a":1}x`:          "M_NOT_JSON",
		"{\"a\":\"\xff\"}":  "M_NOT_JSON",
		`[{"a":1}]`:         "M_BAD_JSON",
		`"a"`:               "M_BAD_JSON",
		`null`:              "M_BAD_JSON",
		" \n{\"a\":1}\n ":   "",
		`{"A":1}`:           "",
		`{"a":{"B":[1,2]}}`: "",
	} {
		r := httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/login", strings.NewReader(body))
		got := ""
		if e := readBody(httptest.NewRecorder(), r); e != nil {
			got = e.Errcode
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", body, got, want)
		}
	}
}

// TestBodyFieldNamesFoldFree checks what foldFreeNames relies on: every
// JSON name of a generated type that a request body is decoded into is
// lower-case ASCII, so that encoding/json's case-insensitive match can
// only pick the field a name equals. Parameter types (query, header and
// path values, never decoded from a body) are left out.
func TestBodyFieldNamesFoldFree(t *testing.T) {
	for _, file := range []string{"../../../gen/clientserver/clientserver.gen.go", "../../../gen/oauth2/oauth2.gen.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok || strings.HasSuffix(spec.Name.Name, "Params") || strings.HasSuffix(spec.Name.Name, "RequestObject") {
				return true
			}
			st, ok := spec.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				if field.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(field.Tag.Value)
				name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				checked++
				for _, c := range []byte(name) {
					if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
						t.Errorf("%s: %s.%s has the JSON name %q, which encoding/json would match in other cases too", file, spec.Name.Name, field.Names, name)
						break
					}
				}
			}
			return true
		})
		if checked == 0 {
			t.Errorf("%s: no JSON field names found", file)
		}
	}
}

// TestDiscoveryJSON checks the well_known a login answer carries against
// json.Marshal of the generated type, for base URLs that take turns (the
// cache holds one) and with an identity server (not cached).
func TestDiscoveryJSON(t *testing.T) {
	idServer := &clientserver.IdentityServerInformation{BaseURL: "https://id.example.org"}
	for _, d := range []clientserver.DiscoveryInformation{
		{MHomeserver: clientserver.HomeserverInformation{BaseURL: "http://127.0.0.1:8008"}},
		{MHomeserver: clientserver.HomeserverInformation{BaseURL: "http://localhost:8008"}},
		{MHomeserver: clientserver.HomeserverInformation{BaseURL: "http://127.0.0.1:8008"}},
		{MHomeserver: clientserver.HomeserverInformation{BaseURL: "http://127.0.0.1:8008"}, MIdentityServer: idServer},
		{MHomeserver: clientserver.HomeserverInformation{BaseURL: "http://<&>"}},
	} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := discoveryJSON(&d)
		if err != nil || string(got) != string(want) {
			t.Errorf("%+v: got %s, %v; want %s", d, got, err, want)
		}
	}
}

// FuzzDecodeOnce checks that a body readBody leaves to encoding/json
// (foldFreeNames) binds to what the exact binding from the decoded value
// gives: the same JSON value, or an error on both sides, for the body
// types of login, device deletion and key upload. (Not the same bytes:
// a union member keeps its JSON as sent when decoded once, and as
// encoding/json writes it again, keys sorted and '&' escaped, when bound
// from the decoded value.)
func FuzzDecodeOnce(f *testing.F) {
	for _, body := range []string{
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"wonderland","refresh_token":true}`,
		`{"type":"m.login.password","user":"alice","password":"x","device_id":"D","initial_device_display_name":"é"}`,
		`{"devices":["A","B"],"auth":{"type":"m.login.password","session":"s"}}`,
		`{"device_keys":{"user_id":"@a:b","device_id":"D","algorithms":["x"],"keys":{"ed25519:D":"k"},"signatures":{}},"one_time_keys":{"signed_curve25519:1":{"key":"k"}}}`,
		`{"type":5}`, `{"refresh_token":null}`, `{"identifier":{"type":"m.id.user","user":1e400}}`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) || !json.Valid(body) || !foldFreeNames(body) {
			return
		}
		value, e := decodeObject(body)
		if e != nil {
			return // not an object: readBody refuses it either way
		}
		for _, newTarget := range []func() any{
			func() any { return new(clientserver.LoginRequest) },
			func() any { return new(clientserver.DeleteDevicesJSONRequestBody) },
			func() any { return new(clientserver.UploadKeysJSONRequestBody) },
		} {
			once, exact := newTarget(), newTarget()
			errOnce := json.Unmarshal(body, once)
			errExact := runtime.BindJSONValue(value, exact)
			if errExact != nil {
				errExact = json.Unmarshal(body, exact) // BindJSONBody falls back so
			}
			if (errOnce == nil) != (errExact == nil) || errOnce == nil && !sameJSON(t, once, exact) {
				t.Fatalf("%s into %T: decoded once %+v (%v), bound exactly %+v (%v)", body, once, once, errOnce, exact, errExact)
			}
		}
	})
}

// sameJSON reports whether a and b encode to the same JSON value.
func sameJSON(t *testing.T, a, b any) bool {
	var values [2]any
	for i, v := range []any{a, b} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encoding %+v: %v", v, err)
		}
		if err := json.Unmarshal(raw, &values[i]); err != nil {
			t.Fatalf("decoding %s: %v", raw, err)
		}
	}
	return reflect.DeepEqual(values[0], values[1])
}
