package ui

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/journal"
)

// Paths of the pages, under the control API's prefix.
const (
	PagePath     = "/_mock/ui"
	SignInPath   = PagePath + "/session"
	SignOutPath  = PagePath + "/signout"
	ClockPath    = PagePath + "/clock"
	DevicePath   = PagePath + "/device"
	TimelinePath = "/_mock/journal/timeline.html"
	JournalPath  = "/_mock/journal"
)

// DefaultTableRows is how many of the latest requests the table lists;
// the timeline draws them all.
const DefaultTableRows = 1000

//go:embed style.css
var baseStyle string

//go:embed page.html
var pageTemplate string

var templates = template.Must(template.New("ui").Funcs(template.FuncMap{
	"clock":   clockTime,
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"inc":     func(i int) int { return i + 1 },
}).Parse(pageTemplate))

// Options choose what Render draws.
type Options struct {
	// Live makes the control page: forms that act on the server (each
	// carrying CSRF) and a reload every Refresh (paused when zero).
	// Without it the page is the timeline file, which only shows.
	Live    bool
	CSRF    string
	Refresh time.Duration
	// Notice is an error to show at the top, such as a rejected form.
	Notice string
	// TableRows bounds the request table (DefaultTableRows when <= 0).
	TableRows int
}

// Rendered is a page and the Content-Security-Policy it needs. The page
// carries the policy in a meta element too, so that a file opened from
// disk has it; frame-ancestors, which a meta element cannot carry, is in
// Header only.
type Rendered struct {
	HTML   []byte
	Policy string // for the Content-Security-Policy header
}

// policy returns the page's content security policy: nothing may load,
// no script may run, and the one style element is allowed by its hash.
func policy(style string) string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; base-uri 'none'"
}

// frameAncestors completes a policy sent as a header.
const frameAncestors = "; frame-ancestors 'none'"

// view is what the templates read.
type view struct {
	Title                                                                               string
	Live                                                                                bool
	CSRF, Notice                                                                        string
	Refresh                                                                             int
	CSP                                                                                 string
	Style                                                                               template.CSS
	Model                                                                               *Model
	Origin                                                                              time.Time
	SVG                                                                                 template.HTML
	Sessions                                                                            []sessionRow
	Lanes                                                                               []laneRow
	Rows                                                                                []requestRow
	Omitted                                                                             int
	PagePath, SignInPath, SignOutPath, ClockPath, DevicePath, TimelinePath, JournalPath string
}

type sessionRow struct {
	Lane                      int
	User, Device, DisplayName string
	Auth, Expiry, Refresh     string
	Expired, SoftLoggedOut    bool
}

type laneRow struct {
	Index int
	Name  string
}

type requestRow struct {
	Class                                     string
	Lane                                      int
	Offset, Clock, User, Device, Method, Path string
	Operation, Errcode                        string
	Status                                    string
	Soft                                      bool
	ByToken                                   bool // User and Device are the refused or refresh token's
}

// Render draws the page of m.
func Render(m Model, o Options) (Rendered, error) {
	tl := layout(&m)
	v := newView(&m, o)
	v.Origin = tl.axis.start()
	v.SVG = template.HTML(tl.svg())
	var style strings.Builder
	style.WriteString(baseStyle)
	for _, l := range tl.lanes {
		_, device := l.label()
		v.Lanes = append(v.Lanes, laneRow{Index: l.index, Name: device})
		fmt.Fprintf(&style, ".journal:has(#lane-f-%[1]d:checked) tbody tr:not(.l-%[1]d){display:none}\n", l.index)
		fmt.Fprintf(&style, "body:has(#lane-f-%[1]d:checked) .timeline .lane:not(#lane-%[1]d){opacity:.3}\n", l.index)
	}
	v.Sessions = sessionRows(&m, tl)
	v.Rows, v.Omitted = requestRows(&m, tl, o.TableRows)
	return execute("page", v, style.String())
}

// RenderSignIn draws the page that asks for the control token.
func RenderSignIn(csrf, notice string) (Rendered, error) {
	return execute("signin", view{CSRF: csrf, Notice: notice, SignInPath: SignInPath}, baseStyle)
}

// WriteTimeline writes the timeline file of m: the page without forms.
func WriteTimeline(w io.Writer, m Model) error {
	r, err := Render(m, Options{})
	if err != nil {
		return err
	}
	_, err = w.Write(r.HTML)
	return err
}

func newView(m *Model, o Options) view {
	v := view{
		Title: "mxauth mock: sessions and timeline", Live: o.Live, CSRF: o.CSRF, Notice: o.Notice, Model: m,
		PagePath: PagePath, SignOutPath: SignOutPath, ClockPath: ClockPath, DevicePath: DevicePath,
		TimelinePath: TimelinePath, JournalPath: JournalPath,
	}
	if o.Live && o.Refresh > 0 {
		v.Refresh = max(int(o.Refresh/time.Second), 1)
	}
	return v
}

func execute(name string, v view, style string) (Rendered, error) {
	v.Style = template.CSS(style)
	v.CSP = policy(style)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		return Rendered{}, fmt.Errorf("ui: render %s: %w", name, err)
	}
	return Rendered{HTML: buf.Bytes(), Policy: v.CSP + frameAncestors}, nil
}

func sessionRows(m *Model, tl *timeline) []sessionRow {
	var out []sessionRow
	for _, u := range m.Users {
		for _, d := range u.Devices {
			row := sessionRow{
				Lane: tl.byKey[laneKey(u.ID, d.ID)].index, User: u.ID, Device: d.ID, DisplayName: d.DisplayName,
				Auth: d.Auth, Expired: d.AccessExpired, SoftLoggedOut: d.SoftLoggedOut,
				Refresh: "none",
			}
			switch {
			case d.SoftLoggedOut:
				row.Expiry = "ended"
			case d.AccessExpires.IsZero():
				row.Expiry = "never expires"
			case d.AccessExpired || !d.AccessExpires.After(m.Now):
				row.Expiry = "expired " + roundDuration(m.Now.Sub(d.AccessExpires)).String() + " ago"
			default:
				row.Expiry = "expires in " + roundDuration(d.AccessExpires.Sub(m.Now)).String()
			}
			if d.Refreshable {
				row.Refresh = fmt.Sprintf("generation %d", d.Generation)
			}
			out = append(out, row)
		}
	}
	return out
}

// requestRows lists the latest limit requests, newest first, and how many
// older ones it left out.
func requestRows(m *Model, tl *timeline, limit int) ([]requestRow, int) {
	if limit <= 0 {
		limit = DefaultTableRows
	}
	first := max(len(m.Entries)-limit, 0)
	origin := tl.axis.start()
	out := make([]requestRow, 0, len(m.Entries)-first)
	for i := len(m.Entries) - 1; i >= first; i-- {
		e := &m.Entries[i]
		row := requestRow{
			Class: statusClass(e), Lane: tl.laneOf(e).index,
			Offset: offset(e.Time.Sub(origin)), Clock: e.Time.UTC().Format("15:04:05.000"),
			Method: e.Method, Path: e.Path, Operation: e.Operation, ByToken: e.DeviceID == "" && e.TokenDeviceID != "",
			Errcode: e.Errcode, Soft: e.SoftLogout, Status: "dropped",
		}
		if e.Status != 0 {
			row.Status = fmt.Sprint(e.Status)
		}
		row.User, row.Device = entryDevice(e)
		out = append(out, row)
	}
	return out, first
}

// laneOf returns the lane of a request.
func (tl *timeline) laneOf(e *journal.Entry) *lane {
	return tl.byKey[laneKey(entryDevice(e))]
}
