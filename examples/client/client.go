// Package client is an example Matrix client built on mxauth, the shape to
// copy into a project of your own:
//
//   - matrix/ holds the typed API, generated with //go:generate from only
//     the operations the client calls (see matrix/mxauth.yaml);
//   - this file keeps the session alive with mxauth's session package,
//     persisting every rotated token and asking for the password again
//     after a soft logout;
//   - client_test.go tests it against mxauth's mock homeserver, moving its
//     virtual clock instead of sleeping.
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/examples/client/matrix"
	"github.com/mxauth/mxauth/session"
)

// Store keeps a session's credentials between runs (a file, the keychain).
type Store interface {
	Load() (session.Credentials, bool)
	Save(session.Credentials) error
}

// Client is a logged-in Matrix client.
type Client struct {
	api  *matrix.ClientWithResponses
	sess *session.Session
}

// Options tell Connect where and who.
type Options struct {
	HomeserverURL string
	User          string
	// Password asks the user for their password: at the first login, and
	// again when the server has soft-logged the device out.
	Password func(ctx context.Context) (string, error)
	Store    Store
	// Now is the clock for token expiry (default time.Now); tests pass the
	// mock's.
	Now func() time.Time
}

// Connect resumes the stored session, or logs in on a new device.
func Connect(ctx context.Context, o Options) (*Client, error) {
	cfg := session.Config{
		HomeserverURL: o.HomeserverURL,
		Operations:    matrix.Operations,
		Now:           o.Now,
		OnChange: func(ev session.Event) {
			if ev.Kind != session.LoggedOut {
				_ = o.Store.Save(ev.Credentials) // a lost refresh token would log the user out
			}
		},
	}
	cfg.Relogin = func(ctx context.Context, deviceID string) (session.Credentials, error) {
		password, err := o.Password(ctx)
		if err != nil {
			return session.Credentials{}, err
		}
		return session.PasswordLogin(ctx, cfg, o.User, password, deviceID) // same device: keys kept
	}
	creds, ok := o.Store.Load()
	if !ok {
		password, err := o.Password(ctx)
		if err != nil {
			return nil, err
		}
		if creds, err = session.PasswordLogin(ctx, cfg, o.User, password, ""); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		if err := o.Store.Save(creds); err != nil {
			return nil, err
		}
	}
	cfg.Credentials = creds
	sess, err := session.New(cfg)
	if err != nil {
		return nil, err
	}
	api, err := matrix.NewClientWithResponses(o.HomeserverURL, matrix.WithHTTPClient(sess.HTTPClient()))
	if err != nil {
		return nil, err
	}
	return &Client{api: api, sess: sess}, nil
}

// ErrSignedOut means the user must sign in again from scratch.
var ErrSignedOut = errors.New("signed out")

// DeviceID returns the device the client is logged in on.
func (c *Client) DeviceID() string { return c.sess.Credentials().DeviceID }

// Devices returns the IDs of the user's devices.
func (c *Client) Devices(ctx context.Context) ([]string, error) {
	resp, err := c.api.GetDevicesWithResponse(ctx)
	if err != nil {
		return nil, classify(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Devices == nil {
		return nil, fmt.Errorf("devices: HTTP %d", resp.StatusCode())
	}
	var ids []string
	for _, d := range *resp.JSON200.Devices {
		ids = append(ids, d.DeviceID)
	}
	return ids, nil
}

// Rename sets the display name of this client's device.
func (c *Client) Rename(ctx context.Context, name string) error {
	resp, err := c.api.UpdateDeviceWithResponse(ctx, c.DeviceID(), matrix.UpdateDeviceJSONRequestBody{DisplayName: &name})
	if err != nil {
		return classify(err)
	}
	if resp.StatusCode() != 200 {
		return fmt.Errorf("rename: HTTP %d", resp.StatusCode())
	}
	return nil
}

// classify turns the end of the session into ErrSignedOut.
func classify(err error) error {
	if errors.Is(err, session.ErrLoggedOut) {
		return fmt.Errorf("%w: %w", ErrSignedOut, err)
	}
	return err
}
