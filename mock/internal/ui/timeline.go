package ui

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/mock/journal"
)

// Geometry of the timeline, in SVG user units: the drawing scales to the
// width it is given and keeps its proportions.
const (
	svgWidth   = 1200.0
	gutter     = 190.0 // lane labels on the left
	plotLeft   = gutter + 10
	plotRight  = svgWidth - 20
	headHeight = 58.0 // two rows of rule and clock labels above the lanes
	laneHeight = 48.0
	footHeight = 30.0 // the time axis below the lanes
	ticks      = 6    // labelled moments on the time axis
)

// lane is one device's row of the timeline; the zero key is the lane of
// requests no device made (logins, unauthenticated calls).
type lane struct {
	key   [2]string // user ID, device ID
	index int
	bars  []bar
	marks []int // indexes into the model's entries
}

// bar is the life of one access token on a lane.
type bar struct {
	start, expires, end time.Time // expires zero: never
	auth                string
	generation          int
	endedBy             string // journal.Reason* or "refreshed", "replaced", "" when still open
	refreshEnded        time.Time
}

// timeline is the laid-out drawing: lanes and their contents on an axis.
type timeline struct {
	axis  axis
	lanes []*lane
	byKey map[[2]string]*lane
	m     *Model
}

// layout sorts the model's requests and events into lanes and bars.
func layout(m *Model) *timeline {
	tl := &timeline{m: m, byKey: map[[2]string]*lane{}}
	laneOf := func(user, device string) *lane {
		key := laneKey(user, device)
		l := tl.byKey[key]
		if l == nil {
			l = &lane{key: key}
			tl.byKey[key] = l
			tl.lanes = append(tl.lanes, l)
		}
		return l
	}
	moments := make([]time.Time, 0, len(m.Entries)+2*len(m.Events)+1)
	moments = append(moments, m.Now)
	for _, u := range m.Users {
		for _, d := range u.Devices {
			laneOf(u.ID, d.ID)
		}
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		l := laneOf(entryDevice(e))
		l.marks = append(l.marks, i)
		moments = append(moments, e.Time)
	}
	for _, ev := range m.Events {
		moments = append(moments, ev.Time, ev.From)
		if ev.DeviceID == "" {
			continue
		}
		l := laneOf(ev.UserID, ev.DeviceID)
		open := len(l.bars) > 0 && l.bars[len(l.bars)-1].endedBy == ""
		last := func() *bar { return &l.bars[len(l.bars)-1] }
		switch ev.Kind {
		case journal.TokenIssued, journal.TokenRefreshed:
			generation := 0
			if ev.Kind == journal.TokenRefreshed && len(l.bars) > 0 {
				generation = last().generation + 1
			}
			if open {
				last().end, last().endedBy = ev.Time, "replaced"
				if ev.Kind == journal.TokenRefreshed {
					last().endedBy = "refreshed"
				}
			}
			l.bars = append(l.bars, bar{start: ev.Time, expires: ev.AccessExpires, auth: ev.Auth, generation: generation})
			moments = append(moments, ev.AccessExpires)
		case journal.TokenEnded:
			switch {
			case !open:
			case ev.Reason == journal.ReasonRefreshRevoked:
				last().refreshEnded = ev.Time
			case ev.Reason == journal.ReasonExpired:
				// Expired on purpose: the token is refused from now on,
				// and the session lives on until a refresh replaces it.
				if last().expires.IsZero() || ev.Time.Before(last().expires) {
					last().expires = ev.Time
				}
			default:
				last().end, last().endedBy = ev.Time, ev.Reason
			}
		}
	}
	for _, u := range m.Users {
		for _, d := range u.Devices {
			moments = append(moments, d.AccessExpires)
		}
	}
	tl.axis = newAxis(moments)
	tl.sessionsBeforeJournal()
	for _, l := range tl.lanes {
		for i := range l.bars {
			if l.bars[i].endedBy == "" {
				l.bars[i].end = tl.axis.end()
			}
		}
	}
	// Devices by user and ID; the lane of requests without a device last.
	slices.SortStableFunc(tl.lanes, func(a, b *lane) int {
		if noneA, noneB := a.key[1] == "", b.key[1] == ""; noneA != noneB {
			if noneA {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.key[0], b.key[0]), cmp.Compare(a.key[1], b.key[1]))
	})
	for i, l := range tl.lanes {
		l.index = i
	}
	return tl
}

// sessionsBeforeJournal draws the session of each device that has one but
// no token event, such as a scenario's devices when the journal has lost
// their login: a bar from the timeline's start.
func (tl *timeline) sessionsBeforeJournal() {
	for _, u := range tl.m.Users {
		for _, d := range u.Devices {
			l := tl.byKey[laneKey(u.ID, d.ID)]
			if len(l.bars) > 0 || d.SoftLoggedOut {
				continue
			}
			br := bar{start: tl.axis.start(), expires: d.AccessExpires, auth: d.Auth, generation: d.Generation}
			if d.AccessExpired && (br.expires.IsZero() || br.expires.After(tl.m.Now)) {
				br.expires = tl.m.Now
			}
			l.bars = append(l.bars, br)
		}
	}
}

// entryDevice returns the device a request belongs to: the one its token
// authenticated, else the one its refused or refresh token was issued to.
func entryDevice(e *journal.Entry) (user, device string) {
	if e.DeviceID != "" {
		return e.UserID, e.DeviceID
	}
	return e.TokenUserID, e.TokenDeviceID
}

// laneKey returns the key of the lane of a device: requests without a
// device share the zero key, whoever made them.
func laneKey(user, device string) [2]string {
	if device == "" {
		return [2]string{}
	}
	return [2]string{user, device}
}

// px returns the horizontal position of t in the drawing.
func (tl *timeline) px(t time.Time) float64 {
	return plotLeft + tl.axis.x(t)*(plotRight-plotLeft)
}

// laneTop returns the top of lane i.
func laneTop(i int) float64 { return headHeight + float64(i)*laneHeight }

// height is the drawing's height.
func (tl *timeline) height() float64 {
	return headHeight + float64(len(tl.lanes))*laneHeight + footHeight
}

// label names a lane for people.
func (l *lane) label() (user, device string) {
	if l.key[1] == "" {
		return "no device", "logins, other calls"
	}
	return l.key[0], l.key[1]
}

// svg writes the drawing. Text goes through html.EscapeString; everything
// else is numbers and fixed class names. Colours and shapes are the
// stylesheet's, by class.
func (tl *timeline) svg() string {
	var b strings.Builder
	b.Grow(256 * (len(tl.m.Entries) + len(tl.m.Events) + 16))
	h := tl.height()
	fmt.Fprintf(&b, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" role="img" aria-labelledby="timeline-title">`, svgWidth, h)
	b.WriteString(`<title id="timeline-title">Each device's access tokens (bars) and requests (marks) on the server's clock</title>`)
	b.WriteString(`<defs><pattern id="expired" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="hatch" width="3" height="6"/></pattern></defs>` + "\n")
	bottom := h - footHeight
	for _, l := range tl.lanes {
		tl.writeLane(&b, l)
	}
	tl.writeLines(&b, bottom)
	tl.writeAxis(&b, bottom)
	b.WriteString(`</svg>`)
	return b.String()
}

func (tl *timeline) writeLane(b *strings.Builder, l *lane) {
	top := laneTop(l.index)
	user, device := l.label()
	fmt.Fprintf(b, `<g class="lane" id="lane-%d"><rect class="lane-bg" x="0" y="%g" width="%g" height="%g"/>`, l.index, top, svgWidth, laneHeight)
	fmt.Fprintf(b, `<text class="lane-device" x="8" y="%g">%s</text><text class="lane-user" x="8" y="%g">%s</text>`,
		top+20, html.EscapeString(clip(device, 24)), top+36, html.EscapeString(clip(user, 28)))
	barY := top + 8
	for _, br := range l.bars {
		x0, x1 := tl.px(br.start), tl.px(br.end)
		live := br.end
		if !br.expires.IsZero() && br.expires.Before(br.end) {
			live = br.expires
		}
		xl := tl.px(live)
		fmt.Fprintf(b, `<g class="bar %s"><title>%s</title>`, authClass(br.auth), html.EscapeString(br.describe(tl.axis.start())))
		fmt.Fprintf(b, `<rect class="token" x="%.1f" y="%g" width="%.1f" height="12" rx="3"/>`, x0, barY, max(xl-x0, 1.5))
		if x1 > xl+0.5 {
			fmt.Fprintf(b, `<rect class="expired" x="%.1f" y="%g" width="%.1f" height="12"/>`, xl, barY, x1-xl)
		}
		if xl-x0 > 34 {
			fmt.Fprintf(b, `<text class="gen" x="%.1f" y="%g">gen %d</text>`, x0+4, barY+9.5, br.generation)
		}
		if br.endedBy != "" && br.endedBy != "refreshed" && br.endedBy != "replaced" {
			fmt.Fprintf(b, `<path class="end" d="M%.1f %gv16"/>`, x1, barY-2)
		}
		if !br.refreshEnded.IsZero() {
			fmt.Fprintf(b, `<path class="end refresh-ended" d="M%.1f %gv12"/>`, tl.px(br.refreshEnded), barY)
		}
		b.WriteString("</g>\n")
		if br.generation > 0 {
			fmt.Fprintf(b, `<circle class="join" cx="%.1f" cy="%g" r="4"><title>refreshed: generation %d</title></circle>`, x0, barY+6, br.generation)
		}
	}
	markTop := top + 25
	for _, i := range l.marks {
		e := &tl.m.Entries[i]
		x := tl.px(e.Time)
		fmt.Fprintf(b, `<g class="mark %s"><title>%s</title><path d="M%.1f %gv16"/>`, statusClass(e), html.EscapeString(describeEntry(e, tl.axis.start())), x, markTop)
		if e.SoftLogout {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%g" r="3.5"/>`, x, markTop+19)
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")
}

// writeLines draws the rule firings and clock moves across every lane,
// with their labels on two rows above so that neighbours do not collide.
func (tl *timeline) writeLines(b *strings.Builder, bottom float64) {
	lastLabel := [2]float64{-1e9, -1e9}
	for _, ev := range tl.m.Events {
		var class, text, title string
		switch ev.Kind {
		case journal.RuleFired:
			class, text = "rule", ev.Rule
			title = "rule " + ev.Rule + " fired"
		case journal.ClockMoved:
			class, text = "clock", "clock "+signed(ev.Time.Sub(ev.From))
			title = "clock moved from " + clockTime(ev.From) + " to " + clockTime(ev.Time)
		default:
			continue
		}
		x := tl.px(ev.Time)
		fmt.Fprintf(b, `<g class="line %s"><title>%s</title><path d="M%.1f %gV%g"/>`, class, html.EscapeString(title), x, headHeight-6, bottom)
		for row, last := range lastLabel {
			if x-last > 110 {
				fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`, x+3, 20+row*18, html.EscapeString(clip(text, 18)))
				lastLabel[row] = x
				break
			}
		}
		b.WriteString("</g>\n")
	}
}

// writeAxis labels evenly spaced moments below the lanes, as offsets from
// the first moment (whose clock time the page's heading gives).
func (tl *timeline) writeAxis(b *strings.Builder, bottom float64) {
	fmt.Fprintf(b, `<g class="axis"><path d="M%g %gH%g"/>`, plotLeft, bottom, plotRight)
	start := tl.axis.start()
	for i := range ticks + 1 {
		p := float64(i) / ticks
		x := plotLeft + p*(plotRight-plotLeft)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case ticks:
			anchor = "end"
		}
		fmt.Fprintf(b, `<path d="M%.1f %gv5"/><text x="%.1f" y="%g" text-anchor="%s">%s</text>`,
			x, bottom, x, bottom+18, anchor, html.EscapeString(tickLabel(tl.axis.time(p).Sub(start))))
	}
	b.WriteString("</g>\n")
}

// describe says what a bar is, for its tooltip.
func (br bar) describe(origin time.Time) string {
	var s strings.Builder
	s.WriteString(cmp.Or(br.auth, "unknown") + " access token, generation " + strconv.Itoa(br.generation))
	s.WriteString(", from " + offset(br.start.Sub(origin)))
	if br.expires.IsZero() {
		s.WriteString(", never expires")
	} else {
		s.WriteString(", expires " + offset(br.expires.Sub(origin)))
	}
	if br.endedBy != "" {
		s.WriteString(", " + strings.ReplaceAll(br.endedBy, "_", " ") + " at " + offset(br.end.Sub(origin)))
	}
	if !br.refreshEnded.IsZero() {
		s.WriteString("; refresh token ended at " + offset(br.refreshEnded.Sub(origin)))
	}
	return s.String()
}

// describeEntry says what a request was, for its tooltip.
func describeEntry(e *journal.Entry, origin time.Time) string {
	s := offset(e.Time.Sub(origin)) + " " + e.Method + " " + e.Path
	if e.Operation != "" {
		s += " (" + e.Operation + ")"
	}
	if e.Status == 0 {
		return s + ": connection dropped"
	}
	s += ": " + strconv.Itoa(e.Status)
	if e.Errcode != "" {
		s += " " + e.Errcode
	}
	if e.SoftLogout {
		s += ", soft_logout true"
	}
	return s
}

// statusClass names the colour class of a request's answer.
func statusClass(e *journal.Entry) string {
	switch {
	case e.SoftLogout:
		return "s-soft"
	case e.Status == 0:
		return "s-drop"
	case e.Status == 401:
		return "s-401"
	case e.Status >= 500:
		return "s-5xx"
	case e.Status >= 400:
		return "s-4xx"
	default:
		return "s-ok"
	}
}

func authClass(auth string) string {
	switch auth {
	case journal.AuthOAuth, journal.AuthLegacy:
		return auth
	}
	return "unknown"
}

// offset writes a duration from the timeline's start: "+0s", "+1.25s",
// "+6m0s".
func offset(d time.Duration) string {
	return "+" + roundDuration(d).String()
}

// tickLabel writes an axis offset to two significant figures or so:
// "+0s", "+120ms", "+1.9s", "+23s", "+6m5s".
func tickLabel(d time.Duration) string {
	unit := time.Second
	switch {
	case d < time.Second:
		unit = 10 * time.Millisecond
	case d < 10*time.Second:
		unit = 100 * time.Millisecond
	}
	return "+" + d.Round(unit).String()
}

// signed writes a clock move: "+6m0s", "-1h0m0s".
func signed(d time.Duration) string {
	if d < 0 {
		return roundDuration(d).String()
	}
	return offset(d)
}

// roundDuration keeps milliseconds under a minute and seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d > -time.Minute && d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// clockTime writes a clock reading to the millisecond.
func clockTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
