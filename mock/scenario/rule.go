package scenario

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rule is a scripted event: when its trigger holds, its effects apply.
type Rule struct {
	// Name is the rule's name, empty when the file gives none.
	Name string
	// When is the trigger.
	When Trigger
	// Then holds the effects, in the order they apply (see EffectKind).
	Then []Effect
	// Times is how often the rule fires at most; 0 means always.
	Times int
	// Line is where the rule starts in its file, from 1; 0 when unknown.
	Line int
}

// Summary describes the rule in one line, to tell rules apart in a
// listing, such as "request operation=getTokenOwner user=alice, nth 3 →
// expire_access_token".
func (r *Rule) Summary() string {
	var when []string
	t := &r.When
	if t.At > 0 {
		when = append(when, "at "+t.At.String())
	}
	if m := t.Request; m != nil {
		req := "request"
		for _, f := range []struct{ key, val string }{
			{"operation", m.Operation}, {"method", m.Method}, {"path", m.Path}, {"user", m.User}, {"device", m.Device},
		} {
			if f.val != "" {
				req += " " + f.key + "=" + f.val
			}
		}
		when = append(when, req)
	}
	for _, c := range []struct {
		key string
		n   int
	}{{"nth", t.Nth}, {"every", t.Every}, {"from", t.From}, {"to", t.To}} {
		if c.n > 0 {
			when = append(when, c.key+" "+strconv.Itoa(c.n))
		}
	}
	if t.AfterRule != "" {
		when = append(when, "after_rule "+t.AfterRule)
	}
	then := make([]string, len(r.Then))
	for i, e := range r.Then {
		then[i] = string(e.Kind)
	}
	return strings.Join(when, ", ") + " → " + strings.Join(then, ", ")
}

// Trigger says when a rule fires. A rule with a Request is a request rule,
// checked by Engine.OnRequest; one without is a time rule, checked by
// Engine.Due.
type Trigger struct {
	// At is how long after the clock's start the rule may first fire.
	At time.Duration
	// Request selects the requests a request rule counts; nil for a time
	// rule. Nth, Every, From and To imply a Request that matches every
	// request.
	Request *RequestMatch
	// Nth, when not 0, fires the rule on the Nth matching request only.
	Nth int
	// Every, when not 0, fires the rule on every Every-th matching request.
	Every int
	// From and To, when not 0, fire the rule only on the matching requests
	// numbered From to To (inclusive; To 0 means no upper bound).
	From, To int
	// AfterRule names a rule that must have fired before this one may.
	AfterRule string
}

// RequestMatch selects requests: every non-empty field must match.
type RequestMatch struct {
	// Operation is an operationId, such as "getTokenOwner".
	Operation string
	// Method is an HTTP method in upper case.
	Method string
	// Path is the exact URL path, without the query.
	Path string
	// User is the authenticated user, as written (localpart or full ID).
	User string
	// Device is the authenticated device ID.
	Device string
}

// EffectKind names an effect. The constants are listed in the order in
// which a rule's effects apply.
type EffectKind string

// The effects, in the order they apply.
const (
	// ExpireAccessToken makes the target device's access token expired.
	ExpireAccessToken EffectKind = "expire_access_token"
	// SoftLogout invalidates the target device's access token with
	// soft_logout: true, keeping the device.
	SoftLogout EffectKind = "soft_logout"
	// HardLogout logs the target device out as a logout would: its tokens
	// become unknown, and requests with them fail with soft_logout: false.
	HardLogout EffectKind = "hard_logout"
	// DeleteDevice deletes the target device as if another client of the
	// user had done it.
	DeleteDevice EffectKind = "delete_device"
	// RevokeRefreshToken revokes the target device's refresh token.
	RevokeRefreshToken EffectKind = "revoke_refresh_token"
	// Delay waits for Effect.Delay before the request is answered.
	Delay EffectKind = "delay"
	// Respond answers the request with Effect.Response instead of the real
	// handler.
	Respond EffectKind = "respond"
	// DropConnection closes the connection without answering.
	DropConnection EffectKind = "drop_connection"
	// LoseAnswer lets the real handler answer the request (a refresh, a
	// login, a token grant is done and kept) and then loses the answer, as
	// Effect.Loss says, so that the client never learns its result.
	LoseAnswer EffectKind = "lose_answer"
)

// Values of Effect.Loss: how a LoseAnswer effect loses the answer.
const (
	// LostConnection closes the connection instead of sending the answer.
	LostConnection = "drop_connection"
	// LostBadGateway sends 502 Bad Gateway instead, as a proxy whose
	// upstream connection broke does.
	LostBadGateway = "bad_gateway"
)

// effectOrder lists every kind in the order effects apply.
var effectOrder = []EffectKind{
	ExpireAccessToken, SoftLogout, HardLogout, DeleteDevice, RevokeRefreshToken,
	Delay, Respond, DropConnection, LoseAnswer,
}

// responds reports whether the rule answers the requests it fires on.
func (r *Rule) responds() bool {
	return slices.ContainsFunc(r.Then, func(e Effect) bool { return e.Kind == Respond })
}

// targeted reports whether effects of kind k act on a user's device.
func (k EffectKind) targeted() bool {
	switch k {
	case ExpireAccessToken, SoftLogout, HardLogout, DeleteDevice, RevokeRefreshToken:
		return true
	}
	return false
}

// Effect is one thing a rule does.
type Effect struct {
	Kind EffectKind
	// User and Device are the target of ExpireAccessToken, SoftLogout,
	// HardLogout, DeleteDevice and RevokeRefreshToken. In a rule they are
	// as written, empty when left out. In a Fired effect, User is as
	// written or the request's full user ID, and an empty Device means
	// every device of User.
	User, Device string
	// Delay is the wait of a Delay effect.
	Delay time.Duration
	// Response is the answer of a Respond effect.
	Response Response
	// Loss is how a LoseAnswer effect loses the answer: LostConnection or
	// LostBadGateway.
	Loss string
}

// Response is the answer a Respond effect sends.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Headers are extra header fields; a Content-Type here replaces
	// ContentType.
	Headers map[string]string
	// Body is the body: JSON from body, or the text of body_text; nil when
	// the rule gives neither.
	Body []byte
	// ContentType is "application/json" for body, the content_type given
	// (default "text/plain") for body_text, and empty when there is no body.
	ContentType string
}
