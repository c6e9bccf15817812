package oauth

import (
	"slices"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/scenario"
)

// Account management actions (MSC4191) by their stable names.
const (
	actionProfile      = "org.matrix.profile"
	actionDevicesList  = "org.matrix.devices_list"
	actionDeviceView   = "org.matrix.device_view"
	actionDeviceDelete = "org.matrix.device_delete"
	actionDeactivate   = "org.matrix.account_deactivate"
	actionSigningReset = "org.matrix.cross_signing_reset"
)

// stableActions are the actions the page performs, in the order the
// metadata lists them; mscActionNames gives the MSC's older names where
// they differ.
var (
	stableActions = []string{
		actionProfile, actionDevicesList, actionDeviceView,
		actionDeviceDelete, actionDeactivate, actionSigningReset,
	}
	mscActionNames = map[string]string{
		actionDevicesList:  "org.matrix.sessions_list",
		actionDeviceView:   "org.matrix.session_view",
		actionDeviceDelete: "org.matrix.session_end",
	}
)

// Metadata is the auth_metadata answer for a homeserver at base: this
// server's endpoints, what it supports, and the account management page.
func (s *Server) Metadata(base string) clientserver.GetAuthMetadata200JSONResponse {
	actions := slices.Clone(stableActions)
	if s.settings.ActionNames == scenario.MSC {
		for i, a := range actions {
			if old, ok := mscActionNames[a]; ok {
				actions[i] = old
			}
		}
	}
	m := clientserver.GetAuthMetadata200JSONResponse{
		Issuer:                        Issuer(base),
		AuthorizationEndpoint:         base + AuthorizePath,
		TokenEndpoint:                 base + TokenPath,
		RegistrationEndpoint:          base + RegistrationPath,
		RevocationEndpoint:            base + RevocationPath,
		DeviceAuthorizationEndpoint:   new(base + DeviceAuthorizationPath),
		ResponseTypesSupported:        []string{"code"},
		ResponseModesSupported:        []string{"query", "fragment"},
		GrantTypesSupported:           []string{grantAuthorizationCode, grantRefreshToken, grantDeviceCode},
		CodeChallengeMethodsSupported: []string{"S256"},
		PromptValuesSupported:         new([]string{"create"}),
	}
	uri := base + AccountPath
	if s.settings.FieldNames != scenario.Unstable {
		typed := make([]clientserver.GetAuthMetadataResponseAccountManagementActionsSupported, len(actions))
		for i, a := range actions {
			typed[i] = clientserver.GetAuthMetadataResponseAccountManagementActionsSupported(a)
		}
		m.AccountManagementURI, m.AccountManagementActionsSupported = &uri, &typed
	}
	if s.settings.FieldNames != scenario.Stable {
		m.OrgMatrixMsc4191AccountManagementURI, m.OrgMatrixMsc4191AccountManagementActionsSupported = &uri, &actions
	}
	return m
}

// Issuer is the issuer identifier of the server at base: what the metadata
// says and the authorization response's iss carries (RFC 9207).
func Issuer(base string) string { return base + "/" }

// stableAction returns the stable name of an account management action,
// and whether it was asked for by the MSC's older name; "" for an unknown
// action.
func stableAction(name string) (stable string, msc bool) {
	if slices.Contains(stableActions, name) {
		return name, false
	}
	for s, old := range mscActionNames {
		if old == name {
			return s, true
		}
	}
	return "", false
}
