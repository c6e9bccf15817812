package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/keys"
	"github.com/mxauth/mxauth/mock/internal/rooms"
	"github.com/mxauth/mxauth/operation"
)

// GET /sync: the rooms package's part of the answer (rooms, account data,
// presence) and the keys package's (to-device messages, device lists,
// one-time key counts), long-polled together.

// VirtualPollCap is the longest a /sync long-poll waits in real time on a
// virtual clock. Its timeout runs on the mock's clock, which only the test
// moves; so that a client whose test never moves the clock is not left
// hanging, the poll answers (empty) after at most this long, and the
// client polls again.
const VirtualPollCap = time.Second

// syncAnswer is a /sync answer: the rooms package's part and the keys
// package's, with next_batch naming both streams.
type syncAnswer struct {
	*rooms.SyncResponse
	ToDevice           toDevice       `json:"to_device"`
	DeviceLists        deviceLists    `json:"device_lists"`
	OneTimeKeysCount   map[string]int `json:"device_one_time_keys_count"`
	UnusedFallbackKeys []string       `json:"device_unused_fallback_key_types"`
}

type toDevice struct {
	Events []keys.ToDeviceEvent `json:"events"`
}

type deviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

func (a *syncAnswer) VisitSyncResponse(w http.ResponseWriter) error {
	return operation.WriteJSON(w, http.StatusOK, a)
}

// syncToken is "s<rooms position>_k<keys position>": the rooms package
// reads the part before the underscore, the keys position follows "_k".
func syncToken(roomsToken string, keysPos int64) string {
	return roomsToken + "_k" + strconv.FormatInt(keysPos, 10)
}

// keysSince reads the keys position of a since token; 0 (from the start)
// when the token has none, as a token from before the keys stream would.
func keysSince(since string) (int64, error) {
	_, rest, found := strings.Cut(since, "_")
	if !found {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(rest, "k"), 10, 64)
	if !strings.HasPrefix(rest, "k") || err != nil || n < 0 {
		return 0, Errorf(http.StatusBadRequest, "M_INVALID_PARAM", "Malformed since token "+strconv.Quote(since))
	}
	return n, nil
}

func (Handlers) Sync(ctx context.Context, req clientserver.SyncRequestObject) (clientserver.SyncResponseObject, error) {
	x := From(ctx)
	rs, user, device := x.World.Rooms, x.Principal.UserID, x.Principal.DeviceID
	p := req.Params
	sreq := rooms.SyncRequest{UserID: user, DeviceID: device, Since: deref(p.Since), FullState: deref(p.FullState)}
	keysFrom, err := keysSince(sreq.Since)
	if err != nil {
		return nil, err
	}
	if sreq.Filter, err = rs.SyncFilter(user, deref(p.Filter)); err != nil {
		return nil, err
	}
	if sp := deref(p.SetPresence); sp == clientserver.SyncParamsSetPresenceOnline || sp == clientserver.SyncParamsSetPresenceUnavailable {
		if err := rs.SetPresence(user, string(sp), nil); err != nil {
			return nil, err
		}
	}
	timeout := time.Duration(max(deref(p.Timeout), 0)) * time.Millisecond
	if sreq.Since == "" || sreq.FullState {
		timeout = 0 // an initial or full-state sync answers at once
	}
	wait := timeout
	if x.World.Virtual {
		wait = min(wait, VirtualPollCap)
	}
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()

	var answer syncAnswer
	var failed error
	rs.LongPoll(pollCtx, user, x.World.Now().Add(timeout), func() bool {
		// A device deleted while its client waits ends the wait with
		// the answer its token now gets (soft_logout false), rather than
		// at the client's next request. A token merely expired or
		// replaced by a refresh does not: the next request hears of it.
		if _, err := x.Store().Device(user, device); err != nil {
			if _, failed = x.Store().Owner(x.Token); failed == nil {
				failed = err
			}
			return true
		}
		resp, err := rs.Sync(sreq)
		if err != nil {
			failed = err
			return true
		}
		upd := x.World.Keys.Sync(user, device, keysFrom)
		answer = syncAnswer{
			SyncResponse:       resp,
			ToDevice:           toDevice{Events: orEmpty(upd.ToDevice)},
			DeviceLists:        deviceLists{Changed: orEmpty(upd.Changed), Left: []string{}},
			OneTimeKeysCount:   upd.Counts.OneTimeKeys,
			UnusedFallbackKeys: orEmpty(upd.Counts.UnusedFallbackKeyTypes),
		}
		answer.NextBatch = syncToken(resp.NextBatch, upd.Pos)
		return !resp.Empty() || !upd.Empty()
	})
	if failed != nil {
		return nil, failed
	}
	return &answer, nil
}

// orEmpty returns s, or an empty slice for nil, so that JSON shows [].
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
