package specgen

import (
	"go/format"
	"strings"
	"testing"
)

// enumSource is gofmt'd code shaped like oapi-codegen's: an enum whose value
// "client" clashes with the client type, one whose values clash with
// nothing, and a type that shares a name with nothing.
const enumSource = `package p

// Defines values for FilterEventFormat.
const (
	Client     FilterEventFormat = "client"
	Federation FilterEventFormat = "federation"
)

// Valid indicates whether the value is a known member of the FilterEventFormat enum.
func (e FilterEventFormat) Valid() bool {
	switch e {
	case Client:
		return true
	case Federation:
		return true
	default:
		return false
	}
}

// Defines values for Membership.
const (
	Join  Membership = "join"
	Leave Membership = "leave"
)

// Valid indicates whether the value is a known member of the Membership enum.
func (e Membership) Valid() bool {
	switch e {
	case Join:
		return true
	case Leave:
		return true
	default:
		return false
	}
}

type FilterEventFormat string

type Membership string

// Client talks to the server.
type Client struct{}

func New() *Client { return &Client{} }
`

func TestPrefixClashingEnums(t *testing.T) {
	out, err := prefixClashingEnums([]byte(enumSource))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"\tFilterEventFormatClient     FilterEventFormat = \"client\"\n",
		"\tFilterEventFormatFederation FilterEventFormat = \"federation\"\n",
		"\tcase FilterEventFormatClient:\n",
		"\tcase FilterEventFormatFederation:\n",
		"\tJoin  Membership = \"join\"\n", // no clash: short names stay
		"\tcase Join:\n",
		"type Client struct{}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	formatted, err := format.Source(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(formatted) != got {
		t.Errorf("output is not gofmt'd:\n%s", got)
	}
}

// TestPrefixClashingEnumsReservedOnly checks that a constant taking one of
// oapi-codegen's names is prefixed even when that declaration is not
// generated (types only), so that its name does not depend on the parts.
func TestPrefixClashingEnumsReservedOnly(t *testing.T) {
	src := strings.Replace(enumSource, "type Client struct{}\n\nfunc New() *Client { return &Client{} }\n", "", 1)
	out, err := prefixClashingEnums([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "FilterEventFormatClient ") {
		t.Errorf("Client not prefixed without a Client type:\n%s", out)
	}
}

func TestPrefixClashingEnumsUnchanged(t *testing.T) {
	src := strings.Replace(enumSource, `Client     FilterEventFormat = "client"`, `Clients    FilterEventFormat = "client"`, 1)
	src = strings.Replace(src, "case Client:", "case Clients:", 1)
	out, err := prefixClashingEnums([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != src {
		t.Error("code without clashes was changed")
	}
}

func TestPrefixClashingEnumsReportsOtherClashes(t *testing.T) {
	src := enumSource + "\ntype Membership int\n"
	_, err := prefixClashingEnums([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "more than once: Membership") {
		t.Errorf("error = %v, want one naming Membership", err)
	}
}

func TestDuplicateDeclarationsReported(t *testing.T) {
	src := strings.Replace(enumSource, `Client     FilterEventFormat = "client"`, `Clients    FilterEventFormat = "client"`, 1)
	_, err := prefixClashingEnums([]byte(src + "\nfunc New() {}\n"))
	if err == nil || !strings.Contains(err.Error(), "more than once: New") {
		t.Errorf("error = %v, want one naming New", err)
	}
}
