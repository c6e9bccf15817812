package journal

import "time"

// EventKind names what changed on the server outside a request's answer,
// or as its effect: the events a timeline of a session needs besides the
// requests.
type EventKind string

// The kinds of Event.
const (
	// TokenIssued: a login (password, token, OAuth 2.0 code or device
	// grant, or the Go API) gave the device a new access token.
	TokenIssued EventKind = "token_issued"
	// TokenRefreshed: a refresh rotated the device's tokens.
	TokenRefreshed EventKind = "token_refreshed"
	// TokenEnded: the device's tokens, or only its refresh token
	// (ReasonRefreshRevoked), stopped working before their expiry; Reason
	// says how.
	TokenEnded EventKind = "token_ended"
	// RuleFired: a scenario rule fired; Rule names it.
	RuleFired EventKind = "rule_fired"
	// ClockMoved: the clock was advanced or set; From is the reading
	// before, Time the reading after.
	ClockMoved EventKind = "clock_moved"
)

// Reasons a TokenEnded event gives.
const (
	ReasonExpired        = "expired"         // expired on purpose (ExpireAccessToken, a rule); a refresh still works
	ReasonSoftLogout     = "soft_logout"     // soft logout: the device stays, a re-login restores it
	ReasonLogout         = "logout"          // the client logged out
	ReasonRevoked        = "revoked"         // revoked (OAuth 2.0 revocation)
	ReasonDeviceDeleted  = "device_deleted"  // the device went with its tokens (hard logout, deletion)
	ReasonRefreshRevoked = "refresh_revoked" // only the refresh token ended; the access token lives on
)

// Auth methods a token event names.
const (
	AuthLegacy = "legacy" // the Matrix login and refresh API
	AuthOAuth  = "oauth"  // the OAuth 2.0 API
)

// Event is one change of state worth drawing on a timeline.
type Event struct {
	Seq      uint64    `json:"seq"`  // as Entry.Seq: entries and events share one order
	Time     time.Time `json:"time"` // when it happened, on the server's clock
	Kind     EventKind `json:"kind"`
	UserID   string    `json:"user_id,omitempty"`
	DeviceID string    `json:"device_id,omitempty"`
	// Auth is AuthLegacy or AuthOAuth on TokenIssued and TokenRefreshed.
	Auth string `json:"auth,omitempty"`
	// AccessExpires is when the new access token expires (TokenIssued,
	// TokenRefreshed); zero: never.
	AccessExpires time.Time `json:"access_expires,omitzero"`
	// Refreshable says whether a refresh token came with the new access
	// token (TokenIssued, TokenRefreshed).
	Refreshable bool `json:"refreshable,omitempty"`
	// Reason says why a TokenEnded event happened: one of the Reason
	// constants.
	Reason string `json:"reason,omitempty"`
	// Rule names the rule of a RuleFired event (its name, or "rule N" for
	// an unnamed one).
	Rule string `json:"rule,omitempty"`
	// From is the clock's reading before a ClockMoved event.
	From time.Time `json:"from,omitzero"`
}

// Record keeps ev, dropping the oldest event when as many are kept as the
// journal keeps entries. Events do not wake Wait, which waits for requests.
func (j *Journal) Record(ev Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	ev.Seq = j.seq
	j.events.add(ev)
}

// Events returns the recorded events, oldest first.
func (j *Journal) Events() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Event, 0, len(j.events.items))
	j.events.all(func(ev *Event) bool {
		out = append(out, *ev)
		return true
	})
	return out
}

// DroppedEvents returns how many events were dropped to make room since the
// journal was created or last reset.
func (j *Journal) DroppedEvents() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.events.dropped
}
