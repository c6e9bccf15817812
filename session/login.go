package session

import (
	"context"

	"github.com/mxauth/mxauth/gen/clientserver"
)

// PasswordLogin logs user in with password on deviceID (empty: a new
// device), asking for a refresh token, and returns the credentials to give
// New. It uses cfg's homeserver, HTTP client, rate-limit settings and clock.
// A refusal is an *Error, such as ErrForbidden for a wrong password.
func PasswordLogin(ctx context.Context, cfg Config, user, password, deviceID string) (Credentials, error) {
	cfg = cfg.withDefaults()
	api, err := homeserverAPI(cfg.HomeserverURL, cfg.plainClient())
	if err != nil {
		return Credentials{}, err
	}
	body := clientserver.LoginRequest{
		Type:         "m.login.password",
		Identifier:   &clientserver.UserIdentifier{Type: "m.id.user", AdditionalProperties: map[string]any{"user": user}},
		Password:     &password,
		RefreshToken: ptr(true),
	}
	if deviceID != "" {
		body.DeviceID = &deviceID
	}
	l, err := api.Login(ctx, body)
	if err != nil {
		return Credentials{}, callError("login", err)
	}
	creds := Credentials{UserID: l.UserID, DeviceID: l.DeviceID, AccessToken: l.AccessToken, ExpiresAt: expiry(cfg.Now(), l.ExpiresInMs)}
	if l.RefreshToken != nil {
		creds.RefreshToken = *l.RefreshToken
	}
	return creds, nil
}

func ptr[T any](v T) *T { return &v }
