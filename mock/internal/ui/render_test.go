package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"flag"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (run go test -update and review the diff)", path)
	}
}

// wellFormed parses page as XML (HTML entities allowed), which checks that
// every element is closed and nested, every attribute quoted.
func wellFormed(t *testing.T, page []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Entity = xml.HTMLEntity
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			line := bytes.Split(page, []byte("\n"))
			n, _ := dec.InputPos()
			t.Fatalf("not well-formed: %v\nline %d: %s", err, n, line[min(n-1, len(line)-1)])
		}
	}
}

func render(t *testing.T, m Model, o Options) Rendered {
	t.Helper()
	r, err := Render(m, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var live = Options{Live: true, CSRF: "csrf-0123456789", Refresh: 5 * time.Second}

// TestGolden: the control page, the timeline file and the sign-in page of
// the story render as reviewed, and each is well-formed.
func TestGolden(t *testing.T) {
	page := render(t, story(), live)
	file := render(t, story(), Options{})
	signin, err := RenderSignIn("csrf-0123456789", "Wrong control token")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Rendered{"page.html": page, "timeline.html": file, "signin.html": signin} {
		t.Run(name, func(t *testing.T) {
			wellFormed(t, r.HTML)
			// The stylesheet is style.css itself: the golden files keep
			// only what is made for the page (its lane filters).
			golden(t, name, bytes.Replace(r.HTML, []byte(baseStyle), []byte("/* style.css */\n"), 1))
		})
	}
}

// TestPolicy: no script may run, and the one style element is allowed by
// the hash of exactly what it holds, in the header and the meta element.
func TestPolicy(t *testing.T) {
	r := render(t, story(), live)
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllSubmatch(r.HTML, -1)
	if len(style) != 1 {
		t.Fatalf("%d style elements, want 1", len(style))
	}
	sum := sha256.Sum256(style[0][1])
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(r.Policy, "style-src "+hash) || !strings.HasPrefix(r.Policy, "default-src 'none'") ||
		!strings.HasSuffix(r.Policy, "frame-ancestors 'none'") {
		t.Errorf("policy %q does not allow the style %s alone", r.Policy, hash)
	}
	meta := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)" />`).FindSubmatch(r.HTML)
	if want := strings.TrimSuffix(r.Policy, frameAncestors); meta == nil || html.UnescapeString(string(meta[1])) != want {
		t.Errorf("meta element %q, want the policy %s", meta, want)
	}
	// No script, no style attribute, no event handler, nothing from
	// elsewhere (the SVG namespace is a name, not a load).
	bad := regexp.MustCompile(`<script|\sstyle=|\son[a-z]+=|https?://[^"]*`)
	for _, loc := range bad.FindAllIndex(r.HTML, -1) {
		if got := string(r.HTML[loc[0]:loc[1]]); got != "http://www.w3.org/2000/svg" {
			t.Errorf("the page holds %q", got)
		}
	}
}

// TestTimelineShapes: the drawing has what the story says, counted: one
// bar per access token (alice: login and two refreshes; bob: one), the
// refreshes joined, a ring on each soft-logout 401, the ends marked, the
// rule and clock lines, one mark per request.
func TestTimelineShapes(t *testing.T) {
	m := story()
	svg := layout(&m).svg()
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllString(svg, -1)) }
	checks := []struct {
		what, re string
		want     int
	}{
		{"token bars (and bob's tablet's, from before the journal)", `<rect class="token"`, 5},
		{"bars of unknown login", `<g class="bar unknown"><title>unknown access token, generation 0, from \+0s, never expires</title>`, 1},
		{"legacy bars", `<g class="bar legacy">`, 3},
		{"OAuth bars", `<g class="bar oauth">`, 1},
		{"refresh joins", `<circle class="join"`, 2},
		{"expired stretches (alice twice, bob before his logout)", `<rect class="expired"`, 3},
		{"ends (bob's hard logout)", `<path class="end"`, 1},
		{"request marks", `<g class="mark `, len(m.Entries)},
		{"soft-logout rings", `<g class="mark s-soft"><title>[^<]*</title><path [^>]*/><circle`, 2},
		{"marks of 5xx", `<g class="mark s-5xx">`, 1},
		{"dropped connections", `<g class="mark s-drop">`, 1},
		{"rule lines", `<g class="line rule">`, 2},
		{"clock lines", `<g class="line clock"><title>clock moved from 2026-01-01 00:00:05.000 to 2026-01-01 00:06:05.000</title>`, 1},
		{"lanes (alice PHONE, bob LAPTOP, bob TABLET, no device)", `<g class="lane"`, 4},
		{"generation labels", `>gen 2</text>`, 1},
	}
	for _, c := range checks {
		if got := count(c.re); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	// A request whose token was refused, and a refresh, go to the lane of
	// the token's device: alice's phone has all of her requests.
	lanes := strings.Split(svg, `<g class="lane"`)
	if got := strings.Count(lanes[1], `<g class="mark `); !strings.Contains(lanes[1], ">PHONE<") || got != 9 {
		t.Errorf("the phone's lane has %d marks, want 9 (its whoamis, 401s and refreshes)", got)
	}
	if !strings.Contains(svg, `id="lane-3"`) || !strings.Contains(svg, ">no device</text>") {
		t.Error("the lane of requests without a device is not last")
	}
}

// TestEscaping: names from the outside world (user IDs, devices, paths,
// rule names) cannot inject markup into the page or the drawing.
func TestEscaping(t *testing.T) {
	m := story()
	evil := `"><script>alert(1)</script>`
	m.Users[0].Devices[0].DisplayName = evil
	m.Entries[1].Path = "/x" + evil
	m.Entries[1].DeviceID = "D" + evil
	m.Events[2].Rule = evil
	m.Scenario.Description = evil
	r := render(t, m, live)
	if bytes.Contains(r.HTML, []byte("<script")) {
		t.Fatal("markup got through")
	}
	wellFormed(t, r.HTML)
}

// TestSessionRows: the sessions table counts down on the mock's clock and
// says what each token is.
func TestSessionRows(t *testing.T) {
	m := story()
	m.Users = append(m.Users, User{ID: "@carol:localhost", Devices: []Device{
		{ID: "OLD", AccessExpires: at(time.Minute), Refreshable: true, Auth: "oauth"},
		{ID: "SOFT", AccessExpires: at(time.Minute), SoftLoggedOut: true},
	}})
	got := map[string]string{}
	for _, row := range sessionRows(&m, layout(&m)) {
		got[row.Device] = row.Expiry + "; " + row.Refresh
	}
	want := map[string]string{
		"PHONE":  "expires in 45.2s; generation 2",
		"TABLET": "never expires; none",
		"OLD":    "expired 5m20s ago; generation 0",
		"SOFT":   "ended; none",
	}
	for device, w := range want {
		if got[device] != w {
			t.Errorf("%s: %q, want %q", device, got[device], w)
		}
	}
}

// TestTableLimit: the table lists the latest requests first and says how
// many older ones it left out.
func TestTableLimit(t *testing.T) {
	m := story()
	rows, omitted := requestRows(&m, layout(&m), 3)
	if len(rows) != 3 || omitted != len(m.Entries)-3 || rows[0].Path != m.Entries[len(m.Entries)-1].Path {
		t.Fatalf("rows %+v, omitted %d", rows, omitted)
	}
	if r := rows[1]; r.Status != "401" || r.Soft || r.Class != "s-401" || r.Errcode != "M_UNKNOWN_TOKEN" {
		t.Errorf("second newest row %+v, want bob's 401 without soft logout", r)
	}
}

// TestEmpty: a server with nothing to show renders a page that says so.
func TestEmpty(t *testing.T) {
	r := render(t, Model{Now: t0}, live)
	wellFormed(t, r.HTML)
	for _, want := range []string{"No user has a device.", "No rules.", "No requests yet."} {
		if !bytes.Contains(r.HTML, []byte(want)) {
			t.Errorf("no %q", want)
		}
	}
}

// TestPreview writes the story's page and timeline file into
// $MXAUTH_UI_PREVIEW, for a person to look at in a browser; it skips
// without it.
func TestPreview(t *testing.T) {
	dir := os.Getenv("MXAUTH_UI_PREVIEW")
	if dir == "" {
		t.Skip("set MXAUTH_UI_PREVIEW=DIR to write the story's pages there")
	}
	for name, o := range map[string]Options{"page.html": live, "timeline.html": {}} {
		if err := os.WriteFile(filepath.Join(dir, name), render(t, story(), o).HTML, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
