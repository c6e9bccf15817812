#!/usr/bin/env bash
# A client test in any language, driven with curl: start the mock homeserver
# with a scenario, log in, let the access token expire by moving the mock's
# clock through the control API, and check that the client sees
# soft_logout: true and recovers by refreshing. A JavaScript or Python
# client's CI does the same around its own test runner.
#
# Usage: examples/shell/expiry.sh   (from the repository root)
# MOCKSERVER may name a built mockserver binary; by default it is built.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=$(mktemp -d)
PID=
trap '[ -z "$PID" ] || { kill "$PID"; wait "$PID" || true; }; rm -rf "$WORK"' EXIT
if [ -z "${MOCKSERVER:-}" ]; then
  go build -o "$WORK/mockserver" ./cmd/mockserver
  MOCKSERVER=$WORK/mockserver
fi
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
OUT=$WORK/out

# 1. Start the server; it prints its URL on the first line once it is ready.
$MOCKSERVER -scenario scenarios/short-expiry.yaml -addr 127.0.0.1:0 \
  -control -control-token "$TOKEN" -log-format json >"$OUT" 2>/dev/null &
PID=$!
for _ in $(seq 600); do [ -s "$OUT" ] && break; sleep 0.1; done
URL=$(head -n1 "$OUT")
[ -n "$URL" ] || { echo "the mock did not start" >&2; exit 1; }

# field NAME: read a string or boolean field from the JSON on stdin.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
# expect WHAT WANT GOT: fail unless GOT is WANT.
expect() { [ "$2" = "$3" ] || { echo "FAIL: $1: got '$3', want '$2'" >&2; exit 1; }; echo "ok: $1"; }
control() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }

# 2. The client logs in with refresh tokens.
LOGIN=$(curl -sf "$URL/_matrix/client/v3/login" -H 'Content-Type: application/json' -d '{
  "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
  "password": "wonderland", "refresh_token": true}')
ACCESS=$(field access_token <<<"$LOGIN")
REFRESH=$(field refresh_token <<<"$LOGIN")
expect "login gives a one-minute token" 60000 "$(sed -n 's/.*"expires_in_ms":\([0-9]*\).*/\1/p' <<<"$LOGIN")"
expect "whoami works" "@alice:localhost" "$(curl -sf -H "Authorization: Bearer $ACCESS" "$URL/_matrix/client/v3/account/whoami" | field user_id)"

# 3. A minute passes on the mock's clock: the token has expired.
control "$URL/_mock/clock/advance" -d '{"by": "1m"}' >/dev/null
EXPIRED=$(curl -s -H "Authorization: Bearer $ACCESS" "$URL/_matrix/client/v3/account/whoami")
expect "expired token is M_UNKNOWN_TOKEN" M_UNKNOWN_TOKEN "$(field errcode <<<"$EXPIRED")"
expect "expired token is a soft logout" true "$(field soft_logout <<<"$EXPIRED")"

# 4. The client refreshes and goes on.
NEW=$(curl -sf "$URL/_matrix/client/v3/refresh" -H 'Content-Type: application/json' -d "{\"refresh_token\": \"$REFRESH\"}")
ACCESS=$(field access_token <<<"$NEW")
expect "whoami works after the refresh" "@alice:localhost" "$(curl -sf -H "Authorization: Bearer $ACCESS" "$URL/_matrix/client/v3/account/whoami" | field user_id)"

# 5. Assert on what the client did: exactly one refresh, no sleeping needed.
WAITED=$(control "$URL/_mock/journal/wait?operation=refresh&count=1&timeout=5s")
expect "the journal has the refresh" 200 "$(field status <<<"$WAITED")"
COUNT=$(control "$URL/_mock/journal?operation=refresh" | grep -o '"operation":"refresh"' | wc -l)
expect "exactly one refresh" 1 "$COUNT"
echo "all checks passed"
