// Package scenario reads the scenario files of mxauth's mock homeserver and
// decides, for each request the mock answers, which scripted effects apply.
//
// A scenario file is YAML. It says what the server is, how its clock runs,
// how tokens live, which users and devices exist at the start, and rules
// that make things happen: an access token that expires after the third
// whoami, a refresh that is rate limited, a device deleted ten minutes in.
// [Parse] and [Load] read a file into a [Scenario]; an [Engine] runs its
// rules. It owns the format, its defaults (DefaultVersions, DefaultStart)
// and the rules' counts; it knows nothing of HTTP or of the mock's state,
// and tells the mock which effects apply rather than applying them.
//
// scenario.schema.json, next to this package's source, is a JSON Schema of
// the format, for editors: with the YAML language server, a first line
// such as
//
//	# yaml-language-server: $schema=../mock/scenario/scenario.schema.json
//
// gives completion and checks as you type. The schema cannot make the
// checks that compare parts of the file (unique IDs, references to users
// and rules); Parse makes them all.
//
// # Example
//
//	description: Alice's token expires after her third whoami; the refresh is rate limited once.
//	server:
//	  name: example.org
//	  versions: [v1.11, v1.18]
//	  auth: [legacy]
//	clock:
//	  mode: virtual
//	  start: 2026-01-01T00:00:00Z
//	tokens:
//	  access_lifetime: 5m
//	  refresh_lifetime: 24h
//	users:
//	  - id: alice
//	    password: wonderland
//	    devices:
//	      - id: PHONE
//	        display_name: Alice's phone
//	        access_token: alice-phone
//	        refresh_token: alice-phone-r
//	rules:
//	  - name: third-whoami
//	    when:
//	      request:
//	        operation: getTokenOwner
//	        user: alice
//	        device: PHONE
//	      nth: 3
//	    then:
//	      expire_access_token: {}
//	  - name: refresh-rate-limited
//	    when:
//	      request:
//	        operation: refresh
//	      after_rule: third-whoami
//	    then:
//	      respond:
//	        status: 429
//	        headers: {Retry-After: "1"}
//	        body: {errcode: M_LIMIT_EXCEEDED, error: Too many requests, retry_after_ms: 1000}
//
// An empty file is a valid scenario: every key is optional unless said
// otherwise, and every section has defaults.
//
// # Values
//
// Strings, numbers and booleans must have their YAML type: guest_access:
// "yes" and password: 1234 are errors (write password: "1234"); only
// header values may be numbers or booleans as well as strings. A duration
// is a Go duration in a string, such as 90s, 5m, 1h30m or 250ms; where
// allowed, "never" means no expiry. A time is RFC 3339, such as
// 2026-01-01T00:00:00Z. Anchors and aliases work; merge keys (<<) do not.
//
// # server
//
//   - name: the server name, the part of user IDs after the colon: a host
//     name or IP address, with an optional port. Default "localhost".
//   - versions: the spec versions GET /_matrix/client/versions advertises,
//     from v1.1 to v1.18, each once. Default: all of them.
//   - auth: the login APIs offered, legacy (/login, /refresh, /logout)
//     and oauth (the OAuth 2.0 API of Matrix v1.15), each once. Default
//     [legacy].
//   - guest_access: true lets clients register guest accounts. Default
//     false.
//   - unknown_endpoint: how an unknown endpoint is answered: spec (404, or
//     405 for a known path with another method, M_UNRECOGNIZED) or synapse
//     (400 M_UNRECOGNIZED). Default spec.
//   - refresh_errors: how an expired or revoked refresh token is answered:
//     spec (401 M_UNKNOWN_TOKEN) or synapse (403 M_FORBIDDEN). Default
//     spec.
//
// # oauth
//
// Settings of the OAuth 2.0 API; they need oauth in server.auth.
//
//   - auto_approve: a user to approve every authorization as, without a
//     sign-in page (for headless tests): following the authorization URL
//     redirects straight back with a code. The user is created if the
//     scenario does not list them. Default: none, the page asks.
//   - metadata_names: the names auth_metadata gives the account management
//     fields: stable (account_management_uri, …), unstable
//     (org.matrix.msc4191.account_management_uri, …) or both. Default
//     stable.
//   - action_names: the account management action names advertised:
//     stable (org.matrix.devices_list, device_view, device_delete) or msc
//     (org.matrix.sessions_list, session_view, session_end). Default
//     stable.
//   - refresh_replay: what a refresh token used a second time does at the
//     token endpoint: strict revokes the session, as RFC 9700 §4.14.2 and
//     the Matrix spec ask; mas lets the replay through while the pair its
//     first use gave has not been used, revoking and replacing that pair,
//     as the Matrix Authentication Service does so that a client whose
//     refresh answer was lost is not logged out (any other replay revokes
//     the session). Default strict.
//   - code_replay: when an authorization code presented a second time
//     revokes the session its exchange gave: immediate, or grace, only
//     once 20 seconds have passed since the exchange, as the Matrix
//     Authentication Service does (earlier replays are only refused).
//     Default immediate.
//
// # clock
//
//   - mode: virtual, a clock that moves only when the test moves it, or
//     real, the system clock. Default virtual.
//   - start: the virtual clock's first reading. Only with mode virtual.
//     Default 2026-01-01T00:00:00Z.
//
// Times in rules (at) and device expiries (expires_in) count from the
// clock's start; for the real clock, that is when the server starts.
//
// # tokens
//
//   - access_lifetime: how long access tokens that come with a refresh
//     token live; "never" allowed. Default 5m.
//   - refresh_lifetime: how long each refresh token lives; "never"
//     allowed. Default 24h.
//   - login_token_lifetime: how long m.login.token tokens live; "never"
//     allowed. Default 2m.
//   - expire_non_refreshable: true makes access tokens without a refresh
//     token expire after access_lifetime too. Default false: they never
//     expire.
//   - old_access_token_after_refresh: keep, the old access token works
//     until the next refresh (the new refresh token used) or its expiry,
//     whichever comes first, as on Synapse; or revoke, it stops working
//     once its refresh token is used. Default keep.
//   - soft_logout_on_failed_refresh: true answers a failed refresh with
//     "soft_logout": true. Default false.
//   - soft_logout_on_expiry: the soft_logout flag of the 401 answer to an
//     expired access token: true or false for every session, or a mapping
//     with legacy and oauth for the two kinds of session apart. Default
//     true for both, as Synapse says; Synapse behind the Matrix
//     Authentication Service says false for OAuth sessions
//     ({legacy: true, oauth: false}).
//   - deterministic: a seed (an integer of 0 or more). When given, tokens,
//     device IDs and session IDs come from a generator seeded with it, so
//     that the same requests always get the same values. By default they
//     are random.
//
// Lifetimes must be longer than 0.
//
// # limits
//
// Failed attempts at a password (POST /login, the UIA password stage, the
// sign-in, account and device pages) and at a device's user code count
// per user and per client address. Once either has failed too often in a
// window, every attempt is refused, right or wrong, until the window ends:
// 429 M_LIMIT_EXCEEDED with retry_after_ms on Matrix endpoints, a message
// on the pages.
//
//   - failed_attempts: how many failures a user or an address may have in
//     a window, 1 or more, or off. Default 30, which no honest test
//     reaches.
//   - window: how long failures count, a duration. Default 1m.
//
// # users
//
// A list of the accounts that exist at the start. Each user has:
//
//   - id (required): a localpart such as alice (a-z, 0-9 and . _ = - / +)
//     or a full user ID on this server such as "@alice:example.org" (quote
//     it: @ cannot start a plain YAML string). Unique: alice and
//     "@alice:example.org" are the same user.
//   - password: the password for password logins. Without one, the user
//     cannot log in with a password.
//   - devices: the devices logged in at the start.
//
// Each device has:
//
//   - id (required): the device ID, visible ASCII without spaces, unique
//     within the user.
//   - display_name: the device's display name.
//   - access_token: a fixed access token, so that a test can use it
//     without logging in. Without one, the mock makes one up.
//   - refresh_token: a fixed refresh token. Without one, the device has
//     none.
//   - expires_in: how long after the clock's start the access token
//     expires; "never" allowed. Default: never, or access_lifetime when the
//     device has a refresh token.
//
// Fixed tokens are visible ASCII without spaces, and unique across all
// devices, access and refresh tokens together.
//
// # rules
//
// A list of rules, each with:
//
//   - name: a unique name, needed for another rule to refer to it.
//   - when (required): the trigger; at least one condition.
//   - then (required): the effects; at least one.
//   - times: how often the rule fires at most, a positive number or
//     "always". Default 1.
//
// # Triggers
//
// Every condition given in when must hold:
//
//   - at: a duration: the rule may fire once the clock has reached its
//     start plus at.
//   - request: the requests the rule counts. Each field given must match:
//     operation, an operationId such as getTokenOwner; method (GET, HEAD,
//     POST, PUT, PATCH, DELETE or OPTIONS) and path, the exact URL path
//     without the query; user, the user the request's access token
//     belongs to (a localpart or full ID of a user listed in users);
//     device, that token's device. operation excludes method and path.
//     request: {} matches every request.
//
// operation may be any operationId of the client-server API (all of it,
// not only sign-in) or of the OAuth 2.0 API; an unknown one is refused
// with the closest names (whoami suggests getTokenOwner). A rule that
// could never fire is refused too: one that gives user or device for an
// operation that takes no access token (login, refresh, register and the
// like), or for a method and path that only such operations serve, or
// for a path outside the API.
//
// method and path may name what the API does not have: no operation
// serves them, and the mock answers 404 (405 for a known path with
// another method) M_UNRECOGNIZED. Rules that respond see these requests
// too, so a test can fake an endpoint the mock lacks; other rules do not
// see or count them.
//   - nth: fire on the nth matching request only (from 1).
//   - every: fire on every nth matching request: every: 2 fires on the
//     2nd, 4th, 6th and so on.
//   - from and to: fire only on the matching requests numbered from to to,
//     inclusive. Either may be left out: from alone has no end, to alone
//     starts at 1. from must not be greater than to.
//   - after_rule: the name of another rule, which must have fired before
//     this one may.
//
// nth excludes every, from and to; every may be combined with from and
// to. A device that users does not list may be named when its user is
// listed: a login may create it later. The same holds for effects.
//
// A rule with request, nth, every, from or to is a request rule (the last
// four without request count every request). It counts each matching
// request that arrives once its at time has come and its after_rule has
// fired, and fires when that count passes nth, every, from and to, until
// times is used up. Without any of them it fires on every match: by
// default (times: 1) on the first one. With at, the rule fires on the
// first matching request at or after that time (or the nth, and so on,
// counted from then).
//
// A rule without a request condition is a time rule: it fires as soon as
// its at time has come and its after_rule has fired, checked before each
// request and whenever the clock moves, once per check up to times.
//
// Rules are checked in file order on each request. A rule with after_rule
// can fire on the very request on which the rule it waits for fires only
// if it comes later in the file; otherwise it can fire from the next
// request on. A rule cannot wait for itself, and rules cannot wait for
// each other in a circle.
//
// # Effects
//
// then maps effects to their parameters. A rule's effects apply in this
// order, whatever the order in the file:
//
//   - expire_access_token: the target device's access token expires now.
//   - soft_logout: the target device's access token stops working, with
//     soft_logout: true; the device stays.
//   - hard_logout: the target device is logged out, as if by a logout; its
//     tokens stop working, with soft_logout: false.
//   - delete_device: the target device is deleted, as if from another
//     client of the user.
//   - revoke_refresh_token: the target device's refresh token stops
//     working.
//   - delay: a duration to wait before the request is answered.
//   - respond: answer the request with this instead of the real handler:
//     status, the HTTP status (100 to 599, default 200); headers, a
//     mapping of extra header fields (a Content-Type here wins); and body,
//     any YAML value, sent as JSON, or body_text, a string sent as is,
//     with content_type (default text/plain, only with body_text).
//   - drop_connection: true closes the connection without answering;
//     excludes respond.
//   - lose_answer: the real handler answers, so what the request does is
//     done and kept (a refresh rotates the tokens, a login or a token grant
//     makes a session), but the client never gets the answer:
//     drop_connection closes the connection instead, bad_gateway sends 502
//     Bad Gateway as a proxy would. It needs a request rule and excludes
//     respond and drop_connection. This is the network blip after which
//     a client holds tokens the server has already replaced.
//
// The first five act on a target device, given as a mapping with user
// and device, or as {} (or nothing). A left-out user is the request's
// own; a left-out device is the request's when the user is the request's
// user, and otherwise means every device of the user. A time rule has no
// request, so its effects must give user. On a request without an access
// token, an effect that gives no user does nothing.
//
// # Errors
//
// Parse reports every problem it finds, not just the first, each as
// file:line:col: message, in the order they appear in the file: unknown
// keys, wrong types, bad values, duplicates, references to users or rules
// that do not exist, and triggers that could never fire.
//
// # Engine
//
// The mock builds an [Engine] from the scenario's rules and calls
// [Engine.Due] before it handles a request and when its clock moves, and
// [Engine.OnRequest] for each request it is about to answer; both return
// the rules that fired, with their effects, for the mock to apply.
package scenario
