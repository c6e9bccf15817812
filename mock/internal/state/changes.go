package state

import "time"

// ChangeKind says how a device's tokens changed.
type ChangeKind uint8

// The kinds of Change.
const (
	// Issued: a login (Login, AddSession) gave the device a new pair.
	Issued ChangeKind = iota + 1
	// Refreshed: Refresh rotated the device's pair.
	Refreshed
	// Expired: ExpireAccessToken made the access tokens expire now.
	Expired
	// SoftLoggedOut: SoftLogout stopped the device's tokens.
	SoftLoggedOut
	// LoggedOut: Logout ended the device with the access token's owner's
	// consent.
	LoggedOut
	// Revoked: RevokeToken ended the device (OAuth 2.0 revocation).
	Revoked
	// Deleted: the device went with its tokens (DeleteDevice, HardLogout,
	// LogoutAll, a deactivation, a password change that logs out the other
	// devices).
	Deleted
	// RefreshRevoked: RevokeRefreshToken ended the refresh tokens; the
	// access token lives on.
	RefreshRevoked
)

// Change is a change of a device's tokens, as Config.OnChange hears of it.
type Change struct {
	Kind             ChangeKind
	Time             time.Time // on the store's clock
	UserID, DeviceID string
	ViaOAuth         bool // the device's tokens come from the OAuth 2.0 API
	// AccessExpires (zero: never) and Refreshable describe the new pair of
	// an Issued or Refreshed change.
	AccessExpires time.Time
	Refreshable   bool
}

// changed tells Config.OnChange of a change to d, with the new pair p for
// Issued and Refreshed. s.mu must be held.
func (s *Store) changed(kind ChangeKind, d *device, p *pair) {
	if s.cfg.OnChange == nil {
		return
	}
	c := Change{Kind: kind, Time: s.clk.Now(), UserID: d.user.id, DeviceID: d.ID, ViaOAuth: d.viaOAuth}
	if p != nil {
		c.AccessExpires, c.Refreshable = p.accessExpiry, p.refresh != ""
	}
	s.cfg.OnChange(c)
}
