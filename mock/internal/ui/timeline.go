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

// bar is the life of one access token on a lane, between two slots of
// the axis.
type bar struct {
	start, end         time.Time
	startSlot, endSlot int
	expires            time.Time // zero: never
	expiredSlot        int       // the slot where it was expired on purpose; -1: it expires by time
	auth               string
	generation         int
	endedBy            string // journal.Reason* or "refreshed", "replaced", "" when still open
	refreshEnded       int    // the slot where its refresh token was revoked; -1: it was not
}

// timeline is the laid-out drawing: lanes and their contents on an axis.
type timeline struct {
	axis       axis
	nowSlot    int
	lanes      []*lane
	byKey      map[[2]string]*lane
	entrySlots []int // the axis slot of each entry
	eventSlots []int // the axis slot of each event
	m          *Model
}

// layout sorts the model's requests and events into lanes and bars, and
// gives each a slot on the axis in the journal's order.
func layout(m *Model) *timeline {
	tl := &timeline{m: m, byKey: map[[2]string]*lane{}, entrySlots: make([]int, len(m.Entries)), eventSlots: make([]int, len(m.Events))}
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
	for _, u := range m.Users {
		for _, d := range u.Devices {
			laneOf(u.ID, d.ID)
		}
	}
	slots := tl.order()
	for i := range m.Entries {
		l := laneOf(entryDevice(&m.Entries[i]))
		l.marks = append(l.marks, i)
	}
	for i := range m.Events {
		if ev := &m.Events[i]; ev.DeviceID != "" {
			laneOf(ev.UserID, ev.DeviceID).apply(ev, tl.eventSlots[i])
		}
	}
	// The open bars end now; expiries still to come get slots after now.
	now := len(slots)
	slots = append(slots, m.Now)
	var future []time.Time
	for _, l := range tl.lanes {
		for i := range l.bars {
			if br := &l.bars[i]; br.endedBy == "" {
				br.end, br.endSlot = m.Now, now
				future = append(future, br.expires)
			}
		}
	}
	for _, u := range m.Users {
		for _, d := range u.Devices {
			future = append(future, d.AccessExpires)
		}
	}
	future = slices.DeleteFunc(future, func(t time.Time) bool { return !t.After(m.Now) })
	slices.SortFunc(future, time.Time.Compare)
	tl.axis, tl.nowSlot = newAxis(append(slots, slices.Compact(future)...), now), now
	tl.sessionsBeforeJournal(now)
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

// order merges the entries and events in the journal's order (Seq, then
// time) and returns the time of each slot, noting each one's slot.
func (tl *timeline) order() []time.Time {
	type item struct {
		seq  uint64
		t    time.Time
		slot *int
	}
	items := make([]item, 0, len(tl.m.Entries)+len(tl.m.Events))
	for i, e := range tl.m.Entries {
		items = append(items, item{e.Seq, e.Time, &tl.entrySlots[i]})
	}
	for i, ev := range tl.m.Events {
		items = append(items, item{ev.Seq, ev.Time, &tl.eventSlots[i]})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Or(cmp.Compare(a.seq, b.seq), a.t.Compare(b.t)) })
	times := make([]time.Time, len(items))
	for i, it := range items {
		times[i], *it.slot = it.t, i
	}
	return times
}

// apply draws a token event of the lane's device, at slot.
func (l *lane) apply(ev *journal.Event, slot int) {
	open := len(l.bars) > 0 && l.bars[len(l.bars)-1].endedBy == ""
	last := func() *bar { return &l.bars[len(l.bars)-1] }
	end := func(by string) { last().end, last().endSlot, last().endedBy = ev.Time, slot, by }
	switch ev.Kind {
	case journal.TokenIssued, journal.TokenRefreshed:
		generation := 0
		if ev.Kind == journal.TokenRefreshed && len(l.bars) > 0 {
			generation = last().generation + 1
		}
		if open && ev.Kind == journal.TokenRefreshed {
			end("refreshed")
		} else if open {
			end("replaced")
		}
		l.bars = append(l.bars, bar{start: ev.Time, startSlot: slot, expires: ev.AccessExpires, expiredSlot: -1,
			auth: ev.Auth, generation: generation, refreshEnded: -1})
	case journal.TokenEnded:
		switch {
		case !open:
		case ev.Reason == journal.ReasonRefreshRevoked:
			last().refreshEnded = slot
		case ev.Reason == journal.ReasonExpired:
			// Expired on purpose: refused from now on, and the session
			// lives on until a refresh replaces the token.
			last().expires, last().expiredSlot = ev.Time, slot
		default:
			end(ev.Reason)
		}
	}
}

// sessionsBeforeJournal draws the session of each device that has one but
// no token event, such as a scenario's devices when the journal has lost
// their login: a bar from the timeline's start to now (slot now).
func (tl *timeline) sessionsBeforeJournal(now int) {
	for _, u := range tl.m.Users {
		for _, d := range u.Devices {
			l := tl.byKey[laneKey(u.ID, d.ID)]
			if len(l.bars) > 0 || d.SoftLoggedOut {
				continue
			}
			br := bar{start: tl.axis.start(), end: tl.m.Now, endSlot: now, expires: d.AccessExpires, expiredSlot: -1,
				auth: d.Auth, generation: d.Generation, refreshEnded: -1}
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

// px returns the horizontal position in the drawing of an axis position.
func px(p float64) float64 { return plotLeft + p*(plotRight-plotLeft) }

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
	x := px(tl.axis.at(tl.nowSlot))
	fmt.Fprintf(&b, `<g class="line now"><title>now: %s</title><path d="M%.1f %gV%g"/><text x="%.1f" y="%g" text-anchor="middle">now</text></g>`+"\n",
		clockTime(tl.m.Now), x, headHeight-6, bottom, x, headHeight-8)
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
		x0, x1 := px(tl.axis.at(br.startSlot)), px(tl.axis.at(br.endSlot))
		xl := x1 // where the token stops working
		switch {
		case br.expiredSlot >= 0:
			xl = min(px(tl.axis.at(br.expiredSlot)), x1)
		case !br.expires.IsZero():
			xl = min(px(tl.axis.within(br.expires, br.startSlot)), x1)
		}
		fmt.Fprintf(b, `<g class="bar %s"><title>%s</title>`, authClass(br.auth), html.EscapeString(tl.describe(&br)))
		fmt.Fprintf(b, `<rect class="token" x="%.1f" y="%g" width="%.1f" height="12" rx="3"/>`, x0, barY, max(xl-x0, 1.5))
		if x1 > xl+0.5 {
			fmt.Fprintf(b, `<rect class="expired" x="%.1f" y="%g" width="%.1f" height="12"/>`, xl, barY, x1-xl)
		}
		if br.endedBy == "" && br.expires.After(tl.m.Now) {
			// The time it has left.
			xe := px(tl.axis.within(br.expires, br.endSlot))
			fmt.Fprintf(b, `<rect class="ahead" x="%.1f" y="%g" width="%.1f" height="12" rx="3"/>`, x1, barY, xe-x1)
		}
		if xl-x0 > 38 {
			fmt.Fprintf(b, `<text class="gen" x="%.1f" y="%g">gen %d</text>`, x0+7, barY+9.5, br.generation)
		}
		if br.endedBy != "" && br.endedBy != "refreshed" && br.endedBy != "replaced" {
			fmt.Fprintf(b, `<path class="end" d="M%.1f %gv16"/>`, x1, barY-2)
		}
		if br.refreshEnded >= 0 {
			fmt.Fprintf(b, `<path class="end refresh-ended" d="M%.1f %gv12"/>`, px(tl.axis.at(br.refreshEnded)), barY)
		}
		b.WriteString("</g>\n")
		if br.generation > 0 {
			fmt.Fprintf(b, `<circle class="join" cx="%.1f" cy="%g" r="4"><title>refreshed: generation %d</title></circle>`, x0, barY+6, br.generation)
		}
	}
	markTop := top + 25
	for _, i := range l.marks {
		e := &tl.m.Entries[i]
		x := px(tl.axis.at(tl.entrySlots[i]))
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
	for i, ev := range tl.m.Events {
		var class, text, title string
		switch ev.Kind {
		case journal.RuleFired:
			class, text = "rule", ev.Rule
			title = "rule " + ev.Rule + " fired"
		case journal.ClockMoved:
			class, text = "clock", "clock "+offset(ev.Time.Sub(ev.From))
			title = "clock moved from " + clockTime(ev.From) + " to " + clockTime(ev.Time)
		default:
			continue
		}
		x := px(tl.axis.at(tl.eventSlots[i]))
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
	start, previous := tl.axis.start(), ""
	for i := range ticks + 1 {
		p := float64(i) / ticks
		label := tickLabel(tl.axis.time(p).Sub(start))
		if label == previous {
			continue // the clock stood still: one label says it
		}
		previous = label
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case ticks:
			anchor = "end"
		}
		x := px(p)
		fmt.Fprintf(b, `<path d="M%.1f %gv5"/><text x="%.1f" y="%g" text-anchor="%s">%s</text>`,
			x, bottom, x, bottom+18, anchor, html.EscapeString(label))
	}
	b.WriteString("</g>\n")
}

// describe says what a bar is, for its tooltip.
func (tl *timeline) describe(br *bar) string {
	origin := tl.axis.start()
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
	if br.refreshEnded >= 0 {
		s.WriteString("; refresh token revoked at " + offset(tl.axis.times[br.refreshEnded].Sub(origin)))
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
// "+6m0s", "-1h0m0s" (after the clock was set back).
func offset(d time.Duration) string { return withSign(roundDuration(d)) }

// tickLabel writes an axis offset to two significant figures or so:
// "+0s", "+120ms", "+1.9s", "+23s", "+6m5s".
func tickLabel(d time.Duration) string {
	unit := time.Second
	switch {
	case d.Abs() < time.Second:
		unit = 10 * time.Millisecond
	case d.Abs() < 10*time.Second:
		unit = 100 * time.Millisecond
	}
	return withSign(d.Round(unit))
}

// withSign writes d with its sign, "+" too.
func withSign(d time.Duration) string {
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
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
