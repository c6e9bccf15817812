package session

import (
	"fmt"
	"net/url"
	"slices"
)

// AccountManagementAction is an action of the account management page
// (MSC4191, Matrix v1.18): what the page should show when the app links to
// it.
type AccountManagementAction string

// The actions of the account management page.
const (
	// ActionProfile shows the user's profile.
	ActionProfile AccountManagementAction = "org.matrix.profile"
	// ActionDevicesList lists the user's devices.
	ActionDevicesList AccountManagementAction = "org.matrix.devices_list"
	// ActionDeviceView shows one device; needs a device ID.
	ActionDeviceView AccountManagementAction = "org.matrix.device_view"
	// ActionDeviceDelete offers to delete (log out) one device; needs a
	// device ID.
	ActionDeviceDelete AccountManagementAction = "org.matrix.device_delete"
	// ActionAccountDeactivate offers to deactivate the account.
	ActionAccountDeactivate AccountManagementAction = "org.matrix.account_deactivate"
	// ActionCrossSigningReset lets the user approve a reset of their
	// cross-signing keys.
	ActionCrossSigningReset AccountManagementAction = "org.matrix.cross_signing_reset"

	// ActionSessionsList is the MSC-era name of ActionDevicesList.
	ActionSessionsList AccountManagementAction = "org.matrix.sessions_list"
	// ActionSessionView is the MSC-era name of ActionDeviceView.
	ActionSessionView AccountManagementAction = "org.matrix.session_view"
	// ActionSessionEnd is the MSC-era name of ActionDeviceDelete.
	ActionSessionEnd AccountManagementAction = "org.matrix.session_end"
)

// actionAliases maps each action that has two names to the other one.
var actionAliases = map[AccountManagementAction]AccountManagementAction{
	ActionDevicesList:  ActionSessionsList,
	ActionSessionsList: ActionDevicesList,
	ActionDeviceView:   ActionSessionView,
	ActionSessionView:  ActionDeviceView,
	ActionDeviceDelete: ActionSessionEnd,
	ActionSessionEnd:   ActionDeviceDelete,
}

// takesDevice reports whether a is about one device, and so needs its ID.
func (a AccountManagementAction) takesDevice() bool {
	switch a {
	case ActionDeviceView, ActionDeviceDelete, ActionSessionView, ActionSessionEnd:
		return true
	}
	return false
}

// AccountManagementRequest says which account management page to link to.
type AccountManagementRequest struct {
	// Action is what the page should show; empty: its start page.
	Action AccountManagementAction
	// DeviceID is the device of ActionDeviceView and ActionDeviceDelete
	// (and their MSC-era names), which need one; the other actions take
	// none.
	DeviceID string
	// IDTokenHint is an ID token the server issued, telling the page which
	// user to expect; optional.
	IDTokenHint string
}

// AccountManagementURL returns the link to the account management page for
// req: account_management_uri with the parameters action, device_id and
// id_token_hint. The action goes under the name the server advertises:
// ActionDeviceDelete becomes ActionSessionEnd on a server that lists only
// the MSC-era name, and the other way round. A server that lists no
// actions is sent any. The error wraps ErrActionNotSupported when the
// server has no account management page, or lists actions without this
// one under either name.
func (m *ServerMetadata) AccountManagementURL(req AccountManagementRequest) (string, error) {
	if m.AccountManagementURI == "" {
		return "", fmt.Errorf("%w: the server has no account management page", ErrActionNotSupported)
	}
	u, err := url.Parse(m.AccountManagementURI)
	if err != nil {
		return "", fmt.Errorf("session: account management URI: %w", err)
	}
	q := u.Query() // the page's own parameters stay
	if req.Action != "" {
		action, err := m.resolveAction(req.Action)
		if err != nil {
			return "", err
		}
		switch {
		case action.takesDevice() && req.DeviceID == "":
			return "", fmt.Errorf("session: account management action %s needs a device ID", req.Action)
		case !action.takesDevice() && req.DeviceID != "":
			return "", fmt.Errorf("session: account management action %s takes no device ID", req.Action)
		}
		q.Set("action", string(action))
		if req.DeviceID != "" {
			q.Set("device_id", req.DeviceID)
		}
	} else if req.DeviceID != "" {
		return "", fmt.Errorf("session: a device ID needs an account management action")
	}
	if req.IDTokenHint != "" {
		q.Set("id_token_hint", req.IDTokenHint)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SupportsAction reports whether AccountManagementURL gives a link for a:
// the server has an account management page, and lists a (under either
// of its names) or lists nothing.
func (m *ServerMetadata) SupportsAction(a AccountManagementAction) bool {
	if m.AccountManagementURI == "" {
		return false
	}
	_, err := m.resolveAction(a)
	return err == nil
}

// resolveAction returns the name under which the server takes a.
func (m *ServerMetadata) resolveAction(a AccountManagementAction) (AccountManagementAction, error) {
	list := m.AccountManagementActionsSupported
	if list == nil || slices.Contains(list, a) {
		return a, nil
	}
	if alias, ok := actionAliases[a]; ok && slices.Contains(list, alias) {
		return alias, nil
	}
	return "", fmt.Errorf("%w: %s", ErrActionNotSupported, a)
}
