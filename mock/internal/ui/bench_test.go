package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/mxauth/mxauth/mock/journal"
)

// bigModel is a full journal: n requests from ten devices, a refresh every
// fiftieth request, a rule firing every thousandth.
func bigModel(n int) Model {
	m := Model{Now: at(time.Duration(n) * 100 * time.Millisecond)}
	for i := range n {
		user, device := fmt.Sprintf("@u%d:localhost", i%10), fmt.Sprintf("DEV%d", i%10)
		t := at(time.Duration(i) * 100 * time.Millisecond)
		e := journal.Entry{Time: t, UserID: user, DeviceID: device, Method: "GET", Path: "/_matrix/client/v3/sync", Operation: "sync", Status: 200}
		if i%50 == 0 {
			e.Status, e.Errcode, e.SoftLogout = 401, "M_UNKNOWN_TOKEN", true
			m.Events = append(m.Events, journal.Event{Time: t, Kind: journal.TokenRefreshed, UserID: user, DeviceID: device, Auth: journal.AuthLegacy, AccessExpires: t.Add(time.Minute)})
		}
		if i%1000 == 0 {
			m.Events = append(m.Events, journal.Event{Time: t, Kind: journal.RuleFired, Rule: fmt.Sprintf("rule %d", i)})
		}
		m.Entries = append(m.Entries, e)
	}
	return m
}

// BenchmarkRenderFullJournal renders the timeline file of a journal at
// its default capacity, and reports the page's size.
func BenchmarkRenderFullJournal(b *testing.B) {
	m := bigModel(journal.DefaultCapacity)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		r, err := Render(m, Options{})
		if err != nil {
			b.Fatal(err)
		}
		size = len(r.HTML)
	}
	b.ReportMetric(float64(size), "page-bytes")
}

// BenchmarkJournalJSON is the baseline: the same requests as the JSON the
// control API's GET /_mock/journal answers.
func BenchmarkJournalJSON(b *testing.B) {
	m := bigModel(journal.DefaultCapacity)
	b.ReportAllocs()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(m.Entries); err != nil {
			b.Fatal(err)
		}
	}
}
