// The matrix-js-sdk flows against mxauth's mock homeserver.
//
//   MXAUTH_HS_URL=http://127.0.0.1:PORT MXAUTH_CONTROL_TOKEN=T node flows.mjs FLOW
//   node flows.mjs --list
//
// The mock must run the scenario in scenarios/expiry-mid-sync.yaml (alice and
// bob, a virtual clock, access tokens of one minute, OAuth 2.0 approved as
// alice) with its control API on. Each flow prints its steps, then "ok: FLOW"
// and exits 0, or "FAIL: FLOW: why" and exits 1 (2 for bad usage).

import {
    FlowError, MockControl, check, deleteDeviceWithPassword, oauthLogin, passwordLogin, sdk,
    settings, startSyncing, step, waitForEvent, waitForMessage, withTimeout,
} from "./harness.mjs";

const alice = { user: "alice", password: "wonderland" };
const bob = { user: "bob", password: "builder" };

/** Past the scenario's access token lifetime (1m). */
const pastExpiry = "2m";

/** The SDK's /sync long-poll timeout in the sync flows, and a clock move past it. */
const pollTimeoutMs = 30000;
const pastPollTimeout = "31s";

/**
 * Waits for client's Session.logged_out and resolves with the error it
 * carries; the promise is made before the act that should cause it.
 */
function loggedOut(client, cfg) {
    return waitForEvent(client, sdk.HttpApiEvent.SessionLoggedOut, cfg.timeoutMs, "Session.logged_out")
        .then(([err]) => err);
}

/** Fails unless the M_UNKNOWN_TOKEN error err says soft_logout: soft. */
function checkSoft(err, soft, what) {
    check(err.data?.soft_logout === soft, `${what}: soft_logout ${err.data?.soft_logout}, want ${soft}`);
}

/**
 * Expects client's whoami to fail with 401 M_UNKNOWN_TOKEN and the client
 * to emit Session.logged_out, both saying soft_logout: soft.
 */
async function whoamiLogsOut(cfg, client, soft, what) {
    const logout = loggedOut(client, cfg);
    try {
        await client.whoami();
    } catch (e) {
        check(e.errcode === "M_UNKNOWN_TOKEN" && e.httpStatus === 401, `whoami ${what}: want 401 M_UNKNOWN_TOKEN, got ${e}`);
        checkSoft(e, soft, `whoami ${what}`);
        checkSoft(await logout, soft, "Session.logged_out");
        return;
    }
    throw new FlowError(`whoami ${what} succeeded; want 401 M_UNKNOWN_TOKEN`);
}

/** The refresh an app makes itself: POST /refresh through the SDK, then the new token in the client. */
async function appRefresh(client, refreshToken) {
    const fresh = await client.refreshToken(refreshToken);
    check(fresh.access_token && fresh.refresh_token && fresh.refresh_token !== refreshToken,
        `POST /refresh: want a new access and refresh token, got ${JSON.stringify(Object.keys(fresh))}`);
    client.setAccessToken(fresh.access_token);
    return fresh;
}

/**
 * What an app does after a soft logout without a refresh token: log in
 * again with the password on the same device (keeping its keys), then
 * give client the new token.
 */
async function reloginSameDevice(cfg, client, deviceId) {
    const again = await passwordLogin(cfg, alice.user, alice.password, { refresh: false, deviceId });
    check(again.login.device_id === deviceId, `logging in again on ${deviceId} gave device ${again.login.device_id}`);
    client.setAccessToken(again.login.access_token);
}

/** Fails unless client's whoami names userId and deviceId. */
async function whoamiIs(client, userId, deviceId, what) {
    const who = await client.whoami();
    check(who.user_id === userId && who.device_id === deviceId,
        `${what}: whoami says ${who.user_id} ${who.device_id}, want ${userId} ${deviceId}`);
}

/**
 * Creates a room as the syncing client and resolves, once the client's
 * sync has the room, with its ID and bob, logged in and joined. Bob is the
 * world that writes to the client under test: he does not sync, and his
 * token never expires, so that moving the clock ends only the client's.
 */
async function roomWithBob(cfg, client) {
    const b = await passwordLogin(cfg, bob.user, bob.password, { refresh: false });
    const seen = waitForEvent(client, sdk.ClientEvent.Room, cfg.timeoutMs, "the new room in sync");
    const { room_id: roomId } = await client.createRoom({ name: "with bob", invite: [b.login.user_id] });
    check(roomId, "createRoom gave no room_id");
    const [room] = await seen;
    check(room.roomId === roomId, `sync brought room ${room.roomId}, want ${roomId}`);
    await b.client.joinRoom(roomId);
    return { roomId, bob: b.client };
}

/** Bob writes body into roomId; resolves once client's sync brings it. */
async function bobSays(cfg, bobClient, client, roomId, body) {
    const seen = waitForMessage(client, roomId, body, cfg.timeoutMs);
    await bobClient.sendTextMessage(roomId, body);
    await seen;
}

const flows = {
    /** Legacy login with a refresh token, whoami, and a refresh through the SDK's http API. */
    async "login-refresh"(cfg, mock) {
        step("alice logs in with a password, asking for a refresh token");
        const { client, login } = await passwordLogin(cfg, alice.user, alice.password);
        await whoamiIs(client, login.user_id, login.device_id, "after login");
        step("alice refreshes through the SDK (POST /refresh)");
        const fresh = await appRefresh(client, login.refresh_token);
        check(fresh.access_token !== login.access_token, "POST /refresh gave the same access token");
        await whoamiIs(client, login.user_id, login.device_id, "with the refreshed token");
        const refreshes = await mock.journal({ operation: "refresh", status: 200 });
        check(refreshes.length === 1, `journal: ${refreshes.length} answered refreshes, want 1`);
    },

    /**
     * A legacy session meets an expired access token: the SDK does not
     * refresh it (it refreshes only OAuth 2.0 sessions) but emits
     * Session.logged_out with soft_logout true; the app refreshes and goes on.
     */
    async "legacy-expiry"(cfg, mock) {
        const { client, login } = await passwordLogin(cfg, alice.user, alice.password);
        await whoamiIs(client, login.user_id, login.device_id, "before expiry");
        step(`the clock moves ${pastExpiry}: alice's access token expires`);
        await mock.advanceClock(pastExpiry);
        await whoamiLogsOut(cfg, client, true, "with the expired token");
        const sdkRefreshes = await mock.journal({ operation: "refresh" });
        check(sdkRefreshes.length === 0, `the SDK refreshed a legacy session itself (${sdkRefreshes.length} refreshes)`);
        step("the app refreshes (POST /refresh) and goes on");
        await appRefresh(client, login.refresh_token);
        await whoamiIs(client, login.user_id, login.device_id, "after the app's refresh");
    },

    /**
     * An OAuth 2.0 session (oauthClientId and a refresh token) meets an
     * expired access token: the SDK refreshes at the token endpoint by
     * itself and retries, and no logout is emitted.
     */
    async "oauth-expiry"(cfg, mock) {
        const refreshed = [];
        step("alice logs in through the OAuth 2.0 code grant (registration, auto-approval, token exchange)");
        const { client, userId, deviceId, tokens } = await oauthLogin(cfg, (t) => refreshed.push(t));
        await whoamiIs(client, userId, deviceId, "before expiry");
        let loggedOutSeen = null;
        client.on(sdk.HttpApiEvent.SessionLoggedOut, (e) => { loggedOutSeen = e; });
        step(`the clock moves ${pastExpiry}: alice's access token expires`);
        await mock.advanceClock(pastExpiry);
        await whoamiIs(client, userId, deviceId, "after expiry (the SDK should refresh by itself)");
        check(loggedOutSeen === null, `Session.logged_out emitted: ${loggedOutSeen}`);
        check(refreshed.length === 1, `onTokenRefresh called ${refreshed.length} times, want 1`);
        check(refreshed[0].accessToken !== tokens.access_token, "the refresh gave the same access token");
        const rejected = await mock.journal({ operation: "getTokenOwner", errcode: "M_UNKNOWN_TOKEN" });
        check(rejected.length === 1, `journal: ${rejected.length} whoami answered M_UNKNOWN_TOKEN, want 1`);
    },

    /**
     * A session without a refresh token is soft-logged-out by the server:
     * Session.logged_out with soft_logout true; the app logs in again on the
     * same device and goes on with the same device ID.
     */
    async "soft-logout"(cfg, mock) {
        const { client, login } = await passwordLogin(cfg, alice.user, alice.password, { refresh: false });
        await whoamiIs(client, login.user_id, login.device_id, "before the soft logout");
        step(`the server soft-logs-out device ${login.device_id}`);
        await mock.softLogout(alice.user, login.device_id);
        await whoamiLogsOut(cfg, client, true, "after the soft logout");
        step("the app logs in again on the same device and goes on");
        await reloginSameDevice(cfg, client, login.device_id);
        await whoamiIs(client, login.user_id, login.device_id, "after logging in again");
    },

    /** A session whose device is deleted from another one: Session.logged_out with soft_logout false. */
    async "device-deleted"(cfg) {
        const laptop = await passwordLogin(cfg, alice.user, alice.password);
        const phone = await passwordLogin(cfg, alice.user, alice.password);
        step(`alice deletes device ${laptop.login.device_id} from ${phone.login.device_id}`);
        await deleteDeviceWithPassword(phone.client, alice.user, alice.password, laptop.login.device_id);
        await whoamiLogsOut(cfg, laptop.client, false, "on the deleted device");
    },

    /** Two users start syncing, meet in a room alice creates, and exchange messages. */
    async "sync-two-users"(cfg) {
        const a = await passwordLogin(cfg, alice.user, alice.password);
        const b = await passwordLogin(cfg, bob.user, bob.password);
        step("both start their clients and reach SYNCING");
        await startSyncing(a.client, cfg.timeoutMs, [], pollTimeoutMs);
        await startSyncing(b.client, cfg.timeoutMs, [], pollTimeoutMs);
        step("alice creates a room and invites bob; bob sees the invite through sync and joins");
        const invited = waitForEvent(b.client, sdk.RoomMemberEvent.Membership, cfg.timeoutMs, "bob's invite",
            (_ev, member) => member.userId === b.login.user_id && member.membership === "invite");
        const { room_id: roomId } = await a.client.createRoom({ name: "mxauth", invite: [b.login.user_id] });
        const [, invite] = await invited;
        check(invite.roomId === roomId, `bob was invited to ${invite.roomId}, want ${roomId}`);
        const joined = waitForEvent(a.client, sdk.RoomMemberEvent.Membership, cfg.timeoutMs, "bob's join, seen by alice",
            (_ev, member) => member.roomId === roomId && member.userId === b.login.user_id && member.membership === "join");
        await b.client.joinRoom(roomId);
        await joined;
        step("alice writes, bob reads; bob answers, alice reads");
        const toBob = waitForMessage(b.client, roomId, "hello bob", cfg.timeoutMs);
        await a.client.sendTextMessage(roomId, "hello bob");
        const got = await toBob;
        check(got.getSender() === a.login.user_id, `bob's message is from ${got.getSender()}, want alice`);
        const toAlice = waitForMessage(a.client, roomId, "hello alice", cfg.timeoutMs);
        await b.client.sendTextMessage(roomId, "hello alice");
        const answer = await toAlice;
        check(answer.getSender() === b.login.user_id, `alice's message is from ${answer.getSender()}, want bob`);
        a.client.stopClient();
        b.client.stopClient();
    },

    /**
     * A legacy session's access token expires mid-sync: Session.logged_out
     * with soft_logout true and the sync stops; the app refreshes, starts
     * the client again, and messages flow again.
     */
    async "sync-legacy-expiry"(cfg, mock) {
        const { client, login } = await passwordLogin(cfg, alice.user, alice.password);
        await startSyncing(client, cfg.timeoutMs, [], pollTimeoutMs);
        const { roomId, bob: bobClient } = await roomWithBob(cfg, client);
        step(`the clock moves ${pastExpiry} while /sync long-polls: the access token expires`);
        const logout = loggedOut(client, cfg);
        const stopped = waitForEvent(client, sdk.ClientEvent.Sync, cfg.timeoutMs, "sync state ERROR",
            (state) => state === sdk.SyncState.Error);
        await mock.advanceClock(pastExpiry);
        checkSoft(await logout, true, "Session.logged_out");
        await stopped;
        step("the app refreshes, restarts the client, and the sync goes on");
        client.stopClient();
        await appRefresh(client, login.refresh_token);
        await startSyncing(client, cfg.timeoutMs, [], pollTimeoutMs);
        await bobSays(cfg, bobClient, client, roomId, "after the refresh");
        client.stopClient();
        const rejected = await mock.journal({ operation: "sync", errcode: "M_UNKNOWN_TOKEN" });
        check(rejected.length >= 1, "journal: no /sync answered M_UNKNOWN_TOKEN; the expiry did not meet the sync");
    },

    /**
     * An OAuth 2.0 session's access token expires mid-sync: the SDK
     * refreshes by itself and the client stays SYNCING throughout.
     */
    async "sync-oauth-expiry"(cfg, mock) {
        const refreshed = [];
        let tokenRefreshed;
        const refreshedOnce = new Promise((resolve) => { tokenRefreshed = resolve; });
        const { client } = await oauthLogin(cfg, (t) => { refreshed.push(t); tokenRefreshed(); });
        const states = await startSyncing(client, cfg.timeoutMs, [], pollTimeoutMs);
        const { roomId, bob: bobClient } = await roomWithBob(cfg, client);
        const firstSyncing = states.length;
        let loggedOutSeen = null;
        client.on(sdk.HttpApiEvent.SessionLoggedOut, (e) => { loggedOutSeen = e; });
        step(`the clock moves ${pastExpiry} while /sync long-polls: the access token expires`);
        await mock.advanceClock(pastExpiry);
        // Bob speaks once the SDK has refreshed: a message sent sooner can
        // reach the long-poll that began before the expiry, and the refresh
        // would come after the check.
        await withTimeout(refreshedOnce, cfg.timeoutMs, "the SDK's own refresh after the expiry");
        await bobSays(cfg, bobClient, client, roomId, "after the expiry");
        client.stopClient();
        check(loggedOutSeen === null, `Session.logged_out emitted: ${loggedOutSeen}`);
        check(refreshed.length === 1, `onTokenRefresh called ${refreshed.length} times, want 1`);
        const after = states.slice(firstSyncing);
        check(after.every((s) => s === sdk.SyncState.Syncing), `sync states after the expiry: ${after}, want only SYNCING`);
        const rejected = await mock.journal({ operation: "sync", errcode: "M_UNKNOWN_TOKEN" });
        check(rejected.length >= 1, "journal: no /sync answered M_UNKNOWN_TOKEN; the expiry did not meet the sync");
    },

    /**
     * A syncing session without a refresh token is soft-logged-out:
     * Session.logged_out with soft_logout true and the sync stops; the app
     * logs in again on the same device, restarts, and messages flow again.
     */
    async "sync-soft-logout"(cfg, mock) {
        const { client, login } = await passwordLogin(cfg, alice.user, alice.password, { refresh: false });
        await startSyncing(client, cfg.timeoutMs, [], pollTimeoutMs);
        const { roomId, bob: bobClient } = await roomWithBob(cfg, client);
        step(`the server soft-logs-out the syncing device ${login.device_id}`);
        const logout = loggedOut(client, cfg);
        const stopped = waitForEvent(client, sdk.ClientEvent.Sync, cfg.timeoutMs, "sync state ERROR",
            (state) => state === sdk.SyncState.Error);
        await mock.softLogout(alice.user, login.device_id);
        await mock.advanceClock(pastPollTimeout); // ends the long-poll, if the soft logout did not
        checkSoft(await logout, true, "Session.logged_out");
        await stopped;
        step("the app logs in again on the same device, restarts the client, and the sync goes on");
        client.stopClient();
        await reloginSameDevice(cfg, client, login.device_id);
        await startSyncing(client, cfg.timeoutMs, [], pollTimeoutMs);
        await bobSays(cfg, bobClient, client, roomId, "after logging in again");
        client.stopClient();
    },

    /** A syncing session's device is deleted elsewhere: Session.logged_out with soft_logout false. */
    async "sync-device-deleted"(cfg, mock) {
        const laptop = await passwordLogin(cfg, alice.user, alice.password);
        const phone = await passwordLogin(cfg, alice.user, alice.password);
        await startSyncing(laptop.client, cfg.timeoutMs, [], pollTimeoutMs);
        step(`alice deletes the syncing device ${laptop.login.device_id} from ${phone.login.device_id}`);
        const logout = loggedOut(laptop.client, cfg);
        await deleteDeviceWithPassword(phone.client, alice.user, alice.password, laptop.login.device_id);
        await mock.advanceClock(pastPollTimeout); // ends the long-poll, if the deletion did not
        checkSoft(await logout, false, "Session.logged_out");
        laptop.client.stopClient();
    },
};

async function main(argv) {
    if (argv[0] === "--list") {
        console.log(Object.keys(flows).join("\n"));
        return 0;
    }
    const name = argv[0];
    if (argv.length !== 1 || !Object.hasOwn(flows, name)) {
        console.error(`usage: node flows.mjs FLOW | --list\nflows: ${Object.keys(flows).join(", ")}`);
        return 2;
    }
    try {
        const cfg = settings();
        await flows[name](cfg, new MockControl(cfg.baseUrl, cfg.controlToken));
    } catch (e) {
        console.log(`FAIL: ${name}: ${e instanceof FlowError ? e.message : e?.stack ?? e}`);
        return 1;
    }
    console.log(`ok: ${name}`);
    return 0;
}

// Exit at once: a client stopped mid-request may leave timers behind.
process.exit(await main(process.argv.slice(2)));
