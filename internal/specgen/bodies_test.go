package specgen

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

const namingSpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /login:
    post:
      operationId: login
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [type]
              properties:
                type: {type: string}
                identifier:
                  type: object
                  properties:
                    user: {type: string}
                object:
                  type: object
                  properties:
                    kind: {type: string}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [user_id]
                properties:
                  user_id: {type: string}
                  flows:
                    type: array
                    items:
                      type: object
                      properties:
                        stages: {type: array, items: {type: string}}
        "202":
          description: accepted
          content:
            application/json:
              schema:
                type: object
                properties:
                  pending: {type: boolean}
        "400":
          description: bad
          content:
            application/json:
              schema:
                type: object
                properties:
                  errcode: {type: string}
  /logout:
    post:
      operationId: logout
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object}
  /whoami:
    get:
      operationId: whoami
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/LoginResponse"}
components:
  schemas:
    LoginResponse:
      type: object
      properties:
        taken: {type: string}
`

// TestNameInlineBodies checks the names inline bodies get, and that the
// typed API uses them.
func TestNameInlineBodies(t *testing.T) {
	src := Source{FS: fstest.MapFS{"api.yaml": {Data: []byte(namingSpec)}}, Path: "api.yaml"}
	opts := Options{Sources: []Source{src}, Package: "naming", Parts: Parts{Types: true, Client: true}}
	doc, _, err := Document(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sortedKeys(doc.Components.Schemas), " ")
	want := "Login202Response Login400Error LoginRequest LoginRequestIdentifier LoginRequestObject2 LoginResponse LoginResponse2 LoginResponse2FlowsItem"
	if got != want {
		t.Errorf("schemas:\n got %s\nwant %s", got, want)
	}
	code, err := Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{
		`func \(a \*API\) Login\(ctx context.Context, body LoginRequest\) \(\*LoginResponse2, error\)`,
		`func \(a \*API\) Logout\(ctx context.Context\) error`,
		`func \(a \*API\) Whoami\(ctx context.Context\) \(\*LoginResponse, error\)`,
		`UserID +string +` + "`" + `json:"user_id"`,                                    // required: a value
		`Identifier +\*LoginRequestIdentifier +` + "`" + `json:"identifier,omitempty"`, // optional: a pointer
	} {
		if !regexp.MustCompile(sig).Match(code) {
			t.Errorf("generated code lacks %s", sig)
		}
	}
}
