package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/oauth"
	"github.com/mxauth/mxauth/mock/internal/state"
)

// Device management: list, show, rename and delete devices.

func (Handlers) GetDevices(ctx context.Context, _ clientserver.GetDevicesRequestObject) (clientserver.GetDevicesResponseObject, error) {
	x := From(ctx)
	devices := x.Store().Devices(x.Principal.UserID)
	out := make([]clientserver.Device, len(devices))
	for i, d := range devices {
		out[i] = apiDevice(d)
	}
	return clientserver.GetDevices200JSONResponse{Devices: &out}, nil
}

// apiDevice is d as the device endpoints show it.
func apiDevice(d state.Device) clientserver.Device {
	out := clientserver.Device{DeviceID: d.ID, DisplayName: optional(d.DisplayName), LastSeenIP: optional(d.LastSeenIP)}
	if !d.LastSeenTS.IsZero() {
		out.LastSeenTS = new(d.LastSeenTS.UnixMilli())
	}
	return out
}

func (Handlers) GetDevice(ctx context.Context, req clientserver.GetDeviceRequestObject) (clientserver.GetDeviceResponseObject, error) {
	x := From(ctx)
	d, err := x.Store().Device(x.Principal.UserID, req.DeviceID)
	if err != nil {
		return nil, err
	}
	return clientserver.GetDevice200JSONResponse(apiDevice(d)), nil
}

func (Handlers) UpdateDevice(ctx context.Context, req clientserver.UpdateDeviceRequestObject) (clientserver.UpdateDeviceResponseObject, error) {
	x := From(ctx)
	st, user := x.Store(), x.Principal.UserID
	d, err := st.Device(user, req.DeviceID)
	if err != nil {
		return nil, err
	}
	if req.Body.DisplayName != nil && *req.Body.DisplayName != d.DisplayName {
		if err := st.UpdateDevice(user, req.DeviceID, *req.Body.DisplayName); err != nil {
			return nil, err
		}
	}
	return clientserver.UpdateDevice200JSONResponse{}, nil
}

func (Handlers) DeleteDevice(ctx context.Context, req clientserver.DeleteDeviceRequestObject) (clientserver.DeleteDeviceResponseObject, error) {
	x := From(ctx)
	st, user := x.Store(), x.Principal.UserID
	if _, err := st.Device(user, req.DeviceID); err != nil {
		return nil, err
	}
	if err := refuseOAuthSession(x, "delete devices", oauth.ActionDeviceDelete, req.DeviceID); err != nil {
		return nil, err
	}
	_, challenge, err := passwordUIA(x, req.Body.Auth, "delete_devices", "")
	if err != nil || challenge != nil {
		return clientserver.DeleteDevice401JSONResponse(deref(challenge)), err
	}
	if err := st.DeleteDevice(user, req.DeviceID); err != nil {
		return nil, err
	}
	return clientserver.DeleteDevice200JSONResponse{}, nil
}

func (Handlers) DeleteDevices(ctx context.Context, req clientserver.DeleteDevicesRequestObject) (clientserver.DeleteDevicesResponseObject, error) {
	x := From(ctx)
	if req.Body.Devices == nil {
		return nil, MissingParam("devices")
	}
	if err := refuseOAuthSession(x, "delete devices", oauth.ActionDevicesList, ""); err != nil {
		return nil, err
	}
	_, challenge, err := passwordUIA(x, req.Body.Auth, "delete_devices", deviceSet(req.Body.Devices))
	if err != nil || challenge != nil {
		return clientserver.DeleteDevices401JSONResponse(deref(challenge)), err
	}
	for _, id := range req.Body.Devices {
		// Devices that do not exist are skipped, as the spec allows.
		_ = x.Store().DeleteDevice(x.Principal.UserID, id)
	}
	return clientserver.DeleteDevices200JSONResponse{}, nil
}

// refuseOAuthSession refuses a UIA endpoint to a session made through
// OAuth 2.0, which has no password stage to offer (the spec warns that such
// endpoints cannot be used with these tokens): what says what the caller
// cannot do, and the answer sends the user to the account management page,
// opened on action (a stable name; "" for its main view) for device.
func refuseOAuthSession(x *Exchange, what, action, device string) error {
	if !x.Principal.ViaOAuth {
		return nil
	}
	msg := "Sessions made through OAuth 2.0 cannot " + what + " with user-interactive auth"
	if o := x.World.OAuth; o != nil {
		msg += ": use the account management page, " + o.ActionURL(x.BaseURL(), action, device)
	}
	return Errorf(http.StatusForbidden, "M_FORBIDDEN", msg)
}

// deviceSet is the fingerprint of a list of device IDs for a UIA session:
// the same set of devices, in any order, gives the same fingerprint.
func deviceSet(ids []string) string {
	set := slices.Compact(slices.Sorted(slices.Values(ids)))
	b, _ := json.Marshal(set) // a []string always encodes
	return string(b)
}
