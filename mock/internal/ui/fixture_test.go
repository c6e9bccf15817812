package ui

import (
	"slices"
	"time"

	"github.com/mxauth/mxauth/mock/journal"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	alice = "@alice:localhost"
	bob   = "@bob:localhost"
)

// story is a client's morning on the mock: alice logs in on her phone, a
// rule expires her token after three whoamis, her client refreshes; the
// clock jumps six minutes and she refreshes again. Bob's laptop signs in
// with OAuth 2.0, meets a rate limit, a server error and a dropped
// connection, and is logged out elsewhere. Bob's tablet has a token that
// never expires and no history.
func story() Model {
	req := func(d time.Duration, user, device, method, path, op string, status int, errcode string, soft bool) journal.Entry {
		return journal.Entry{Time: at(d), UserID: user, DeviceID: device, Method: method, Path: path,
			Operation: op, Status: status, Errcode: errcode, SoftLogout: soft}
	}
	// refused moves the device of a request whose token did not
	// authenticate it where the journal puts it.
	refused := func(e journal.Entry) journal.Entry {
		e.TokenUserID, e.TokenDeviceID, e.UserID, e.DeviceID = e.UserID, e.DeviceID, "", ""
		return e
	}
	const (
		whoami = "/_matrix/client/v3/account/whoami"
		sync   = "/_matrix/client/v3/sync"
		ms     = time.Millisecond
	)
	entries := []journal.Entry{
		req(100*ms, "", "", "POST", "/_matrix/client/v3/login", "login", 200, "", false),
		req(300*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 200, "", false),
		req(900*ms, bob, "LAPTOP", "POST", "/oauth2/token", "", 200, "", false),
		req(1100*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 200, "", false),
		req(1200*ms, bob, "LAPTOP", "GET", sync, "sync", 200, "", false),
		req(1500*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 200, "", false),
		req(1600*ms, bob, "LAPTOP", "GET", sync, "sync", 429, "M_LIMIT_EXCEEDED", false),
		refused(req(2000*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 401, "M_UNKNOWN_TOKEN", true)),
		refused(req(2100*ms, alice, "PHONE", "POST", "/_matrix/client/v3/refresh", "refresh", 200, "", false)),
		req(2200*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 200, "", false),
		req(3000*ms, bob, "LAPTOP", "GET", sync, "sync", 500, "M_UNKNOWN", false),
		req(3500*ms, bob, "LAPTOP", "GET", sync, "sync", 0, "", false),
		refused(req(6*time.Minute+5100*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 401, "M_UNKNOWN_TOKEN", true)),
		refused(req(6*time.Minute+5200*ms, alice, "PHONE", "POST", "/_matrix/client/v3/refresh", "refresh", 200, "", false)),
		req(6*time.Minute+5300*ms, alice, "PHONE", "GET", whoami, "getTokenOwner", 200, "", false),
		req(6*time.Minute+12*time.Second, "", "", "GET", sync, "sync", 401, "M_UNKNOWN_TOKEN", false), // the device is gone
		req(6*time.Minute+13*time.Second, "", "", "GET", "/_matrix/client/versions", "getVersions", 200, "", false),
	}
	events := []journal.Event{
		{Time: at(100 * ms), Kind: journal.TokenIssued, UserID: alice, DeviceID: "PHONE", Auth: journal.AuthLegacy, AccessExpires: at(time.Minute + 100*ms), Refreshable: true},
		{Time: at(900 * ms), Kind: journal.TokenIssued, UserID: bob, DeviceID: "LAPTOP", Auth: journal.AuthOAuth, AccessExpires: at(5*time.Minute + 900*ms), Refreshable: true},
		{Time: at(1500 * ms), Kind: journal.RuleFired, Rule: "expire after 3 whoamis"},
		{Time: at(1500 * ms), Kind: journal.TokenEnded, UserID: alice, DeviceID: "PHONE", Reason: journal.ReasonExpired},
		{Time: at(1600 * ms), Kind: journal.RuleFired, Rule: "rate limit sync once"},
		{Time: at(2100 * ms), Kind: journal.TokenRefreshed, UserID: alice, DeviceID: "PHONE", Auth: journal.AuthLegacy, AccessExpires: at(time.Minute + 2100*ms), Refreshable: true},
		{Time: at(6*time.Minute + 5*time.Second), Kind: journal.ClockMoved, From: at(5 * time.Second)},
		{Time: at(6*time.Minute + 5200*ms), Kind: journal.TokenRefreshed, UserID: alice, DeviceID: "PHONE", Auth: journal.AuthLegacy, AccessExpires: at(7*time.Minute + 5200*ms), Refreshable: true},
		{Time: at(6*time.Minute + 10*time.Second), Kind: journal.TokenEnded, UserID: bob, DeviceID: "LAPTOP", Reason: journal.ReasonDeviceDeleted},
	}
	// The journal's order: by time, and an event before the entry of the
	// request that caused it, as the server records them.
	type stamp struct {
		t     time.Time
		event bool
		seq   *uint64
	}
	var stamps []stamp
	for i := range entries {
		stamps = append(stamps, stamp{entries[i].Time, false, &entries[i].Seq})
	}
	for i := range events {
		stamps = append(stamps, stamp{events[i].Time, true, &events[i].Seq})
	}
	slices.SortStableFunc(stamps, func(a, b stamp) int {
		if c := a.t.Compare(b.t); c != 0 || a.event == b.event {
			return c
		}
		if a.event {
			return -1
		}
		return 1
	})
	for i, s := range stamps {
		*s.seq = uint64(i + 1)
	}
	hist := Histories(events)
	return Model{
		Now: at(6*time.Minute + 20*time.Second), Virtual: true,
		Users: []User{
			{ID: alice, Devices: []Device{{ID: "PHONE", DisplayName: "Alice's phone", Auth: hist[[2]string{alice, "PHONE"}].Auth,
				AccessExpires: at(7*time.Minute + 5200*ms), Refreshable: true, Generation: hist[[2]string{alice, "PHONE"}].Generation}}},
			{ID: bob, Devices: []Device{{ID: "TABLET"}}},
		},
		Scenario: Scenario{Description: "Alice's token expires after her third whoami.", Source: "scenarios/story.yaml",
			Rules: []Rule{{Name: "expire after 3 whoamis", Fired: 1}, {Name: "rate limit sync once", Fired: 1}, {Fired: 0}}},
		Entries: entries, Events: events,
	}
}
