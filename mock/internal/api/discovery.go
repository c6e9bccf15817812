package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/mxauth/mxauth/gen/clientserver"
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

func (Handlers) GetCapabilities(context.Context, clientserver.GetCapabilitiesRequestObject) (clientserver.GetCapabilitiesResponseObject, error) {
	caps := clientserver.GetCapabilitiesResponseCapabilities{
		MChangePassword: &clientserver.BooleanCapability{Enabled: false},
		MGetLoginToken:  &clientserver.BooleanCapability{Enabled: true},
	}
	return clientserver.GetCapabilities200JSONResponse{Capabilities: caps}, nil
}
