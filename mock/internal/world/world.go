// Package world holds what a scenario sets up for the mock homeserver:
// its settings, the authentication state (package state), the rooms, sync
// streams and per-user data (package rooms), the key bookkeeping (package
// keys), the media (package media), the scenario's rules with their counts
// (package scenario) and, when the OAuth 2.0 API is on, the authorization
// server (package oauth). The mock replaces a World
// whole on Reset and LoadScenario; a request works on the World it started
// in.
//
// It may touch state, rooms, keys, media, scenario, oauth and the clock; it
// knows nothing of HTTP, routing or the journal.
package world

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mxauth/mxauth/clock"
	"github.com/mxauth/mxauth/mock/internal/keys"
	"github.com/mxauth/mxauth/mock/internal/limit"
	"github.com/mxauth/mxauth/mock/internal/media"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/rooms"
	"github.com/mxauth/mxauth/mock/internal/state"
	"github.com/mxauth/mxauth/mock/scenario"
)

// Settings are what a scenario decides: what Reset goes back to.
type Settings struct {
	Store    state.Config
	Virtual  bool      // a virtual clock
	Start    time.Time // where a virtual clock starts
	Versions []string  // what GET /versions advertises
	Users    []scenario.User
	Rules    []scenario.Rule
	// SynapseUnknown answers unknown endpoints 400 M_UNRECOGNIZED, as
	// Synapse does, rather than 404 or 405.
	SynapseUnknown bool
	// SynapseRefresh answers expired or revoked refresh tokens 403
	// M_FORBIDDEN, as Synapse does.
	SynapseRefresh bool
	OAuth          bool // the OAuth 2.0 API is on
	OAuthSettings  oauth.Settings
	// Limits bound the failed password and user code attempts per user and
	// per client address, on every surface (Attempts).
	Limits      limit.Rule
	LegacyOff   bool   // the legacy login API (login, register, refresh) is off
	Description string // the scenario's
	Source      string // the file the settings came from, if any
}

// World is a homeserver's state as one scenario set it up.
type World struct {
	Settings
	Store  *state.Store
	Rooms  *rooms.Store
	Keys   *keys.Store
	Media  *media.Store
	Engine *scenario.Engine // nil without rules
	OAuth  *oauth.Server    // nil while the OAuth 2.0 API is off
	// Attempts counts failed password and user code attempts, shared by
	// POST /login, the UIA password stage and the OAuth pages.
	Attempts *limit.Limiter

	clock  *clock.Clock
	logger *slog.Logger

	// Versions caches the encoded answer to GET /versions, which depends on
	// the settings only: the api package fills it at the first request.
	Versions struct {
		sync.Once
		Body []byte
	}
}

// New builds the world set describes on clk, which it resets to the start
// set asks for. Effects that find no device are logged to logger.
func New(set Settings, clk *clock.Clock, logger *slog.Logger) (*World, error) {
	clk.Reset(set.Virtual, set.Start)
	w := &World{Settings: set, Attempts: limit.New(set.Limits, clk), clock: clk, logger: logger}
	storeCfg := set.Store
	storeCfg.OnDeviceRemoved = w.deviceRemoved
	w.Store = state.New(storeCfg, clk)
	w.newContentStores()
	for _, u := range set.Users {
		if _, err := w.Store.AddUser(u.ID, u.Password); err != nil {
			return nil, fmt.Errorf("user %q: %w", u.ID, err)
		}
		for _, d := range u.Devices {
			if err := w.addDevice(u.ID, d); err != nil {
				return nil, fmt.Errorf("user %q, device %q: %w", u.ID, d.ID, err)
			}
		}
	}
	if len(set.Rules) > 0 {
		w.Engine = scenario.NewEngine(set.Rules, clk.Now(), w.Store.UserID)
	}
	if set.OAuth {
		o := set.OAuthSettings
		o.Attempts = w.Attempts
		w.OAuth = oauth.New(o, w.Store, clk)
	}
	return w, nil
}

// newContentStores makes the rooms, keys and media stores. Their IDs come
// from the state store's generator, so that Deterministic covers them; the
// keys store wakes the sync long-polls that the rooms store keeps.
func (w *World) newContentStores() {
	newID := func() string { return w.Store.RandomString(18) }
	server := w.Store.ServerName()
	w.Rooms = rooms.New(rooms.Config{ServerName: server, Now: w.clock.Now, NewID: newID, UserExists: w.Store.UserExists})
	w.Keys = keys.New(keys.Config{
		Peers: w.Rooms.RoomMates,
		Devices: func(user string) []string {
			var ids []string
			for _, d := range w.Store.Devices(user) {
				ids = append(ids, d.ID)
			}
			return ids
		},
		DisplayName: func(user, device string) string {
			for _, d := range w.Store.Devices(user) {
				if d.ID == device {
					return d.DisplayName
				}
			}
			return ""
		},
		OnChange: w.Rooms.Notify,
	})
	w.Media = media.New(media.Config{ServerName: server, Now: w.clock.Now, NewID: newID})
}

// deviceRemoved is the state store's OnDeviceRemoved: however a device
// goes (deleted, logged out, revoked, a scenario effect), its keys and
// queued to-device messages go with it, and its user's waiting syncs are
// woken, so that the device's answers 401 at once.
func (w *World) deviceRemoved(userID, deviceID string) {
	w.Keys.DeleteDevice(userID, deviceID)
	w.Rooms.Notify(userID)
}

// addDevice logs a scenario's device in with its fixed tokens.
func (w *World) addDevice(user string, d scenario.Device) error {
	expiresIn := d.ExpiresIn
	if expiresIn == 0 && d.RefreshToken != "" {
		expiresIn = w.Store.AccessTokenLifetime()
	}
	if _, err := w.Store.AddSession(user, d.ID, d.AccessToken, d.RefreshToken, expiresIn); err != nil {
		return err
	}
	if d.DisplayName != "" {
		return w.Store.UpdateDevice(user, d.ID, d.DisplayName)
	}
	return nil
}

// ApplyDue applies the effects of the time rules due at the clock's
// reading. Only effects on devices apply: without a request there is
// nothing to delay or answer. Every HTTP request and every read or write
// of the Go and control APIs calls it first.
func (w *World) ApplyDue() {
	if w.Engine == nil {
		return
	}
	for _, f := range w.Engine.Due(w.clock.Now()) {
		for _, e := range f.Effects {
			w.ApplyToDevices(e)
		}
	}
}

// ApplyToDevices applies an effect on a user's devices: the one it names,
// or all of them. Devices that are gone are skipped; effects that are not
// on devices are ignored.
func (w *World) ApplyToDevices(e scenario.Effect) {
	act := map[scenario.EffectKind]func(user, device string) error{
		scenario.ExpireAccessToken:  w.Store.ExpireAccessToken,
		scenario.SoftLogout:         w.Store.SoftLogout,
		scenario.HardLogout:         w.Store.HardLogout,
		scenario.DeleteDevice:       w.Store.DeleteDevice,
		scenario.RevokeRefreshToken: w.Store.RevokeRefreshToken,
	}[e.Kind]
	if act == nil {
		return
	}
	devices := []string{e.Device}
	if e.Device == "" {
		devices = devices[:0]
		for _, d := range w.Store.Devices(e.User) {
			devices = append(devices, d.ID)
		}
	}
	for _, d := range devices {
		if err := act(e.User, d); err != nil {
			w.logger.Info("scenario effect found no device", "effect", string(e.Kind), "user", e.User, "device", d)
		}
	}
}

// Now reads the clock the world runs on.
func (w *World) Now() time.Time { return w.clock.Now() }
