// Shared pieces of the matrix-js-sdk flows: the mock's control API, logging
// in through the SDK (legacy password login and the OAuth 2.0 code grant),
// and waiting for what a client sees.

import { randomBytes } from "node:crypto";

// First, so that the SDK's modules find their logger quiet when they load.
import { logLevels, sdkLogLevel, levelLogger } from "./sdklog.mjs";
import * as sdk from "matrix-js-sdk";

/** Fails the flow with a message; the runner prints it and exits 1. */
export class FlowError extends Error {}

/** Throws a FlowError saying what was wanted when cond is false. */
export function check(cond, message) {
    if (!cond) throw new FlowError(message);
}

/** Prints one step of a flow, so a failing run shows how far it got. */
export function step(message) {
    console.log(`step: ${message}`);
}

/**
 * The settings of a run, from the environment:
 * MXAUTH_HS_URL (required), MXAUTH_CONTROL_TOKEN (required),
 * MXAUTH_TIMEOUT_MS (how long to wait for any one thing, default 10000),
 * MXAUTH_JSSDK_LOG (the SDK's log level: trace, debug, info, warn, error
 * or silent, the default).
 */
export function settings() {
    const baseUrl = process.env.MXAUTH_HS_URL;
    const controlToken = process.env.MXAUTH_CONTROL_TOKEN;
    if (!baseUrl || !controlToken) {
        throw new FlowError("set MXAUTH_HS_URL and MXAUTH_CONTROL_TOKEN (the mock's base URL and control token)");
    }
    const timeoutMs = Number(process.env.MXAUTH_TIMEOUT_MS ?? 10000);
    check(Number.isFinite(timeoutMs) && timeoutMs > 0, `MXAUTH_TIMEOUT_MS=${process.env.MXAUTH_TIMEOUT_MS}: want a positive number`);
    check(sdkLogLevel !== undefined, `MXAUTH_JSSDK_LOG=${process.env.MXAUTH_JSSDK_LOG}: want one of ${logLevels}, silent`);
    return { baseUrl: baseUrl.replace(/\/+$/, ""), controlToken, timeoutMs, logger: levelLogger(sdkLogLevel) };
}

/** The mock's control API (/_mock/), with its bearer token. */
export class MockControl {
    constructor(baseUrl, token) {
        this.baseUrl = baseUrl;
        this.token = token;
    }

    async call(method, path, body) {
        const res = await fetch(this.baseUrl + path, {
            method,
            headers: { "Authorization": `Bearer ${this.token}`, "Content-Type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        check(res.ok, `control ${method} ${path}: ${res.status} ${text}`);
        return text ? JSON.parse(text) : {};
    }

    /** Moves the mock's virtual clock by a Go duration such as "2m". */
    advanceClock(by) {
        return this.call("POST", "/_mock/clock/advance", { by });
    }

    /** Soft-logs-out user's device, as a server may at any time. */
    softLogout(user, deviceId) {
        return this.call("POST", `/_mock/users/${encodeURIComponent(user)}/devices/${encodeURIComponent(deviceId)}/soft_logout`);
    }

    /** The journal entries matching filter (operation, status, user, …). */
    async journal(filter = {}) {
        const query = new URLSearchParams(Object.entries(filter).map(([k, v]) => [k, String(v)]));
        return (await this.call("GET", `/_mock/journal?${query}`)).entries;
    }
}

/** Rejects after ms with a message naming what was awaited. */
export function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new FlowError(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the arguments of the first event of emitter named name for
 * which accept(...args) is true; rejects after ms.
 */
export function waitForEvent(emitter, name, ms, what, accept = () => true) {
    let listener;
    const seen = new Promise((resolve) => {
        listener = (...args) => {
            if (accept(...args)) resolve(args);
        };
        emitter.on(name, listener);
    });
    return withTimeout(seen, ms, what).finally(() => emitter.off(name, listener));
}

/** A client of the mock at cfg.baseUrl, logging through cfg.logger. */
export function newClient(cfg, opts = {}) {
    return sdk.createClient({ baseUrl: cfg.baseUrl, logger: cfg.logger, ...opts });
}

/**
 * Password login of user through the SDK's POST /login, and a client
 * holding the session (not started). With refresh (the default) it asks for
 * a refresh token and gets an access token that expires; without, one that
 * never does. With deviceId it logs in on that device again.
 */
export async function passwordLogin(cfg, user, password, { refresh = true, deviceId } = {}) {
    const anon = newClient(cfg);
    const login = await anon.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user },
        password,
        device_id: deviceId,
        refresh_token: refresh,
    });
    check(login.access_token && login.device_id,
        `login ${user}: want access_token and device_id, got ${JSON.stringify(Object.keys(login))}`);
    if (refresh) {
        check(login.refresh_token && typeof login.expires_in_ms === "number" && login.expires_in_ms > 0,
            `login ${user}: want a refresh token and expires_in_ms > 0, got ${JSON.stringify(Object.keys(login))}`);
    } else {
        check(login.refresh_token === undefined && login.expires_in_ms === undefined,
            `login ${user} without refresh_token: want a token that never expires, got ${JSON.stringify(Object.keys(login))}`);
    }
    const client = newClient(cfg, {
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
        refreshToken: login.refresh_token,
    });
    return { client, login };
}

/**
 * Where the OAuth 2.0 flows say the browser would come back: a loopback
 * redirect URI is registered without a port and used with one (RFC 8252
 * §7.3), as the Matrix spec asks of native clients.
 */
const registeredRedirectUri = "http://127.0.0.1/callback";
const redirectUri = "http://127.0.0.1:8765/callback";

/**
 * OAuth 2.0 login through the SDK's own OAuth API: discover the server's
 * auth metadata, register a native client (RFC 7591), follow the
 * authorization URL (the mock approves without a page), and exchange the
 * code at the token endpoint. Returns a client created as the SDK asks for
 * an OAuth 2.0 session that refreshes by itself (oauthClientId and the
 * refresh token), and what the login gave.
 */
export async function oauthLogin(cfg, onTokenRefresh) {
    const anon = newClient(cfg);
    const metadata = await anon.getAuthMetadata();
    const clientId = await sdk.OAuth2.registerClient(metadata, {
        client_name: "mxauth matrix-js-sdk flows",
        client_uri: "https://client.example.org/",
        application_type: "native",
        redirect_uris: [registeredRedirectUri],
    }, cfg.logger);
    const oauth = new sdk.OAuth2(metadata, { clientId }, cfg.logger);
    const state = randomBytes(12).toString("base64url");
    const authorizeUrl = await oauth.generateAuthorizationCodeGrantUrl(state, redirectUri, "query");
    const res = await fetch(authorizeUrl, { redirect: "manual" });
    const location = res.headers.get("location");
    check(res.status >= 300 && res.status < 400 && location,
        `authorization: want a redirect back with a code (is auto-approve on?), got ${res.status} ${await res.text()}`);
    const back = new URL(location, authorizeUrl);
    check(back.searchParams.get("state") === state, `authorization: state ${back.searchParams.get("state")}, want ${state}`);
    const code = back.searchParams.get("code");
    check(code, `authorization: no code in the redirect ${back.origin}${back.pathname}?${[...back.searchParams.keys()]}`);
    const tokens = await oauth.completeAuthorizationCodeGrant(code, redirectUri);
    check(tokens.access_token && tokens.refresh_token, "token endpoint: want an access and a refresh token");
    const deviceId = oauth.context.deviceId;
    const probe = newClient(cfg, { accessToken: tokens.access_token });
    const who = await probe.whoami();
    check(who.device_id === deviceId, `whoami after the code grant: device ${who.device_id}, want the scope's ${deviceId}`);
    const client = newClient(cfg, {
        userId: who.user_id,
        deviceId,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        oauthClientId: clientId,
        onTokenRefresh,
    });
    return { client, clientId, deviceId, userId: who.user_id, tokens };
}

/**
 * Starts client's sync loop (long-polls of pollTimeoutMs) and resolves once
 * it reports SYNCING; every sync state it passes through is pushed to
 * states, which it returns.
 */
export async function startSyncing(client, timeoutMs, states, pollTimeoutMs) {
    client.on(sdk.ClientEvent.Sync, (state) => states.push(state));
    const syncing = waitForEvent(client, sdk.ClientEvent.Sync, timeoutMs, "sync state SYNCING",
        (state) => state === sdk.SyncState.Syncing);
    await client.startClient({ initialSyncLimit: 10, pollTimeout: pollTimeoutMs });
    await syncing;
    return states;
}

/**
 * Resolves with the event of a message with this body when it reaches
 * client through sync, in the given room.
 */
export function waitForMessage(client, roomId, body, timeoutMs) {
    return waitForEvent(client, sdk.RoomEvent.Timeline, timeoutMs, `message "${body}" in ${roomId}`,
        (event, room) => room?.roomId === roomId && event.getType() === "m.room.message" &&
            event.getContent().body === body && !event.status)
        .then(([event]) => event);
}

/**
 * Deletes deviceId of user from client (another of user's sessions),
 * answering the user-interactive auth with the password.
 */
export async function deleteDeviceWithPassword(client, user, password, deviceId) {
    let session;
    try {
        await client.deleteDevice(deviceId);
        throw new FlowError(`deleting ${deviceId} without auth succeeded; want 401 with UIA flows`);
    } catch (e) {
        check(e.httpStatus === 401 && e.data?.session, `deleting ${deviceId}: want 401 with a UIA session, got ${e}`);
        session = e.data.session;
    }
    await client.deleteDevice(deviceId, {
        type: "m.login.password",
        identifier: { type: "m.id.user", user },
        password,
        session,
    });
}

export { sdk };
