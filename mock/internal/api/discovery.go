package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
	"github.com/mxauth/mxauth/mock/internal/rooms"
)

// Discovery: what the server offers and where it is (versions,
// .well-known, capabilities, auth_metadata).

// refreshTokenFeature is the unstable feature flag of refresh tokens (MSC2918).
const refreshTokenFeature = "org.matrix.msc2918.refresh_token"

// GetVersions answers with the world's versions, encoded at the first
// request that asks, since they depend on the settings only.
func (Handlers) GetVersions(ctx context.Context, _ clientserver.GetVersionsRequestObject) (clientserver.GetVersionsResponseObject, error) {
	wd := From(ctx).World
	v := &wd.Versions
	v.Do(func() {
		body, err := json.Marshal(clientserver.GetVersions200JSONResponse{
			Versions:         wd.Settings.Versions,
			UnstableFeatures: &map[string]bool{refreshTokenFeature: true},
		})
		if err == nil {
			v.Body = append(body, '\n')
		}
	})
	if v.Body == nil {
		return nil, errInternal
	}
	return encodedVersions(v.Body), nil
}

func (Handlers) GetWellknown(ctx context.Context, _ clientserver.GetWellknownRequestObject) (clientserver.GetWellknownResponseObject, error) {
	return clientserver.GetWellknown200JSONResponse(discovery(From(ctx))), nil
}

// discovery tells clients where the server is.
func discovery(x *Exchange) clientserver.DiscoveryInformation {
	return clientserver.DiscoveryInformation{MHomeserver: clientserver.HomeserverInformation{BaseURL: x.BaseURL()}}
}

func (Handlers) GetAuthMetadata(ctx context.Context, _ clientserver.GetAuthMetadataRequestObject) (clientserver.GetAuthMetadataResponseObject, error) {
	x := From(ctx)
	if x.World.OAuth == nil {
		return nil, Errorf(http.StatusNotFound, "M_UNRECOGNIZED", "This server does not offer the OAuth 2.0 API")
	}
	return x.World.OAuth.Metadata(x.BaseURL()), nil
}

// GetCapabilities answers GET /capabilities for the caller. What needs
// user-interactive auth (a password change, 3PID changes, a login token)
// is off for a session made through OAuth 2.0, which has no password stage;
// password changes are also off when the server turns them off.
func (Handlers) GetCapabilities(ctx context.Context, _ clientserver.GetCapabilitiesRequestObject) (clientserver.GetCapabilitiesResponseObject, error) {
	x := From(ctx)
	uia := !x.Principal.ViaOAuth
	on := func(enabled bool) *clientserver.BooleanCapability {
		return &clientserver.BooleanCapability{Enabled: enabled}
	}
	versions := &clientserver.GetCapabilitiesResponseCapabilitiesMRoomVersions{
		Default:   rooms.DefaultRoomVersion,
		Available: make(map[string]clientserver.GetCapabilitiesResponseCapabilitiesMRoomVersionsAvailable, len(rooms.StableRoomVersions)),
	}
	for _, v := range rooms.StableRoomVersions {
		versions.Available[v] = clientserver.Stable
	}
	caps := clientserver.GetCapabilitiesResponseCapabilities{
		MChangePassword: on(uia && !x.World.NoPasswordChanges),
		M3PidChanges:    on(uia),
		MGetLoginToken:  on(uia),
		MSetDisplayname: on(true),
		MSetAvatarURL:   on(true),
		MRoomVersions:   versions,
	}
	return clientserver.GetCapabilities200JSONResponse{Capabilities: caps}, nil
}
