// Package rooms is the mock homeserver's state engine for rooms, per-user
// data and /sync. It knows nothing of HTTP: the handler layer authenticates
// the caller, decodes the request, calls one method here with the caller's
// user ID (and device ID where the spec ties something to a device), and maps
// the returned values and errors to the Matrix answer.
//
// Every method takes the acting user's ID as its first argument. The same
// methods serve tests that make something happen to a client: to send a
// message as "@bob:localhost", invite or kick, call SendMessage, Invite or
// Kick with Bob's user ID.
//
// # Stream positions and sync tokens
//
// Every change a client can see (a room event, an account data change, a
// typing or receipt change, a presence change) takes the next position of
// one stream, a counter that only grows (Reset keeps it). A sync token or a
// pagination token is "s" followed by a position in decimal: "s42" means
// "everything up to and including position 42". Another package with its own
// stream (to-device messages, device lists) composes its part after an
// underscore, "s42_k7": ParseToken reads only the part before the first
// underscore, so the handler can pass the whole since token here and split
// the rest off for its other stream.
//
// # Long-polls
//
// Sync never blocks. Wake returns a channel that is closed at the next change
// for one user (or at WakeAll); LongPoll wraps the wait loop. A change wakes
// only the users who can see it: a room event wakes the room's joined members
// and the user whose membership it changes; account data, push rules and
// private receipts wake their owner; presence wakes the users sharing a room.
// Notify lets another package (to-device messages, device lists) wake users.
//
// Time is the injected clock's. A long-poll's timeout is measured on that
// clock: whoever moves the mock's clock must then call ClockMoved, which ends
// expired typing notices and wakes every waiter to re-check its deadline. The handler caps each wait in real time too, so that a
// request never hangs on a clock that nobody moves.
//
// # History
//
// Rooms behave as with history_visibility "shared" whatever the room's
// setting: a member sees the whole history, a user who left sees it up to
// their leave, and in a world_readable room anyone sees everything. A Store is safe for concurrent use: one RWMutex guards the
// state, and each user's waiters share one channel.
//
// # Serving the client-server API
//
// The handler passes the authenticated user (and device) and maps errors
// with errors.Is: ErrNotFound and ErrUnknownUser 404 M_NOT_FOUND,
// ErrForbidden 403 M_FORBIDDEN, ErrRoomInUse 400 M_ROOM_IN_USE,
// ErrInvalidParam 400 M_INVALID_PARAM, ErrBadJSON 400 M_BAD_JSON,
// ErrStillJoined 400 M_UNKNOWN, ErrServerControlled 405 M_BAD_JSON.
// Operations whose path names a user other than the caller (profile,
// account data, filters, presence) are the handler's to refuse.
//
//   - GET /sync: SyncFilter for the filter parameter; SetPresence first when
//     set_presence is online or unavailable; then LongPoll until Sync (plus
//     the keys part) is not Empty, with the deadline now+timeout on the
//     mock's clock and ctx capped in real time; answer the last Sync.
//   - POST /createRoom: CreateRoom. POST /join/{idOrAlias} and
//     /rooms/{id}/join: JoinRoom. invite, leave, forget, kick, ban, unban:
//     the methods of those names. GET /joined_rooms: JoinedRooms.
//   - GET /rooms/{id}/members: Members; /joined_members: JoinedMembers;
//     /state: State; /state/{type}/{key}: StateEvent (answer its Content);
//     PUT /state/{type}/{key}: SetState; PUT /send/{type}/{txnId}:
//     SendMessage; PUT /redact/{eventId}/{txnId}: Redact; GET /messages:
//     Messages (ParseRoomEventFilter); GET /context/{eventId}: Context;
//     GET /event/{eventId}: EventByID; GET /aliases: RoomAliases.
//   - /directory/room/{alias}: ResolveAlias, SetAlias, DeleteAlias;
//     /directory/list/room/{id}: Visibility, SetVisibility; /publicRooms:
//     PublicRooms.
//   - /user/{userId}/filter: CreateFilter, FilterJSON. /pushrules/...:
//     PushRules, PushRule, PutPushRule, DeletePushRule, SetPushRuleEnabled,
//     SetPushRuleActions. /user/{userId}/account_data and
//     /user/{userId}/rooms/{roomId}/account_data: SetAccountData,
//     AccountData, SetRoomAccountData, RoomAccountData.
//   - /profile/{userId}: Profile, SetDisplayName, SetAvatarURL.
//     /presence/{userId}/status: Presence, SetPresence. /rooms/{id}/typing:
//     SetTyping. /rooms/{id}/receipt/{type}/{eventId}: SendReceipt.
//     /rooms/{id}/read_markers: SetReadMarkers.
package rooms
