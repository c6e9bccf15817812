// Package ui renders the mock homeserver's state and journal for people:
// the live page of the control API (/_mock/ui) with its forms, and the
// timeline of every device's session (tokens as bars, requests as marks,
// rule firings and clock moves as lines) as an HTML file that needs
// nothing but itself. It reads a plain Model, so it knows nothing of how
// the server keeps its state: it may touch the journal's types, and acts
// on the server only through its Backend; the forms' CSRF scheme comes in
// through its Config.
package ui

import (
	"time"

	"github.com/mxauth/mxauth/mock/journal"
)

// Model is what the page shows: a snapshot of the server taken by its
// caller.
type Model struct {
	Now      time.Time // the server's clock reading
	Virtual  bool      // whether the clock is virtual
	Users    []User
	Scenario Scenario
	Entries  []journal.Entry // answered requests, oldest first
	Events   []journal.Event // state changes, oldest first
	Dropped  int             // entries the journal dropped to make room
}

// User is a user and their devices.
type User struct {
	ID      string
	Devices []Device
}

// Device is a device and its current session.
type Device struct {
	ID            string
	DisplayName   string
	Auth          string    // journal.AuthLegacy, journal.AuthOAuth, or empty when no event says
	AccessExpires time.Time // zero: never
	AccessExpired bool
	Refreshable   bool // a refresh token is issued and usable
	Generation    int  // refreshes since the device's last login
	SoftLoggedOut bool
}

// Scenario is the loaded scenario and how often each rule fired.
type Scenario struct {
	Description string
	Source      string // the file it came from, if any
	Rules       []Rule
}

// Rule is one scenario rule.
type Rule struct {
	Name  string // may be empty
	Fired int
}

// History is what the events say of one device's current session.
type History struct {
	Auth       string // the Auth of its last TokenIssued or TokenRefreshed event
	Generation int    // TokenRefreshed events since its last TokenIssued
}

// Histories returns the History of every device the events name, by user
// and device ID: what the server's state does not keep.
func Histories(events []journal.Event) map[[2]string]History {
	out := map[[2]string]History{}
	for _, ev := range events {
		key := [2]string{ev.UserID, ev.DeviceID}
		switch ev.Kind {
		case journal.TokenIssued:
			out[key] = History{Auth: ev.Auth}
		case journal.TokenRefreshed:
			h := out[key]
			out[key] = History{Auth: ev.Auth, Generation: h.Generation + 1}
		}
	}
	return out
}
