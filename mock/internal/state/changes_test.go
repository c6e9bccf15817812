package state

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestOnChange: every change of a device's tokens reaches OnChange in
// order, with the clock's time, the device, whether it came through OAuth
// 2.0 and, for a new pair, its expiry and refresh token.
func TestOnChange(t *testing.T) {
	var got []string
	cfg := Config{AccessTokenLifetime: time.Minute}
	cfg.OnChange = func(c Change) {
		line := fmt.Sprintf("%d %s %s/%s oauth=%v", c.Kind, c.Time.Sub(epoch), c.UserID, c.DeviceID, c.ViaOAuth)
		if c.Kind == Issued || c.Kind == Refreshed {
			expires := "never"
			if !c.AccessExpires.IsZero() {
				expires = c.AccessExpires.Sub(epoch).String()
			}
			line += fmt.Sprintf(" expires=%s refreshable=%v", expires, c.Refreshable)
		}
		got = append(got, line)
	}
	s, clk := newStore(t, cfg)
	phone := login(t, s, LoginRequest{DeviceID: "PHONE", WithRefresh: true})
	clk.Advance(time.Second)
	if _, err := s.Refresh(phone.RefreshToken); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(string, string) error{s.ExpireAccessToken, s.RevokeRefreshToken, s.SoftLogout} {
		if err := step("alice", "PHONE"); err != nil {
			t.Fatal(err)
		}
	}
	tv := login(t, s, LoginRequest{DeviceID: "TV", ViaOAuth: true, WithRefresh: true})
	s.RevokeToken(tv.AccessToken)
	again := login(t, s, LoginRequest{DeviceID: "PHONE"})
	if _, err := s.Logout(again.AccessToken); err != nil {
		t.Fatal(err)
	}
	login(t, s, LoginRequest{DeviceID: "LAPTOP"})
	if err := s.HardLogout("alice", "LAPTOP"); err != nil {
		t.Fatal(err)
	}
	if err := s.HardLogout("alice", "GONE"); err == nil {
		t.Fatal("HardLogout of an unknown device succeeded")
	}
	const a = "@alice:localhost"
	want := []string{
		fmt.Sprintf("%d 0s %s/PHONE oauth=false expires=1m0s refreshable=true", Issued, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false expires=1m1s refreshable=true", Refreshed, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false", Expired, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false", RefreshRevoked, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false", SoftLoggedOut, a),
		fmt.Sprintf("%d 1s %s/TV oauth=true expires=1m1s refreshable=true", Issued, a),
		fmt.Sprintf("%d 1s %s/TV oauth=true", Revoked, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false expires=never refreshable=false", Issued, a),
		fmt.Sprintf("%d 1s %s/PHONE oauth=false", LoggedOut, a),
		fmt.Sprintf("%d 1s %s/LAPTOP oauth=false expires=never refreshable=false", Issued, a),
		fmt.Sprintf("%d 1s %s/LAPTOP oauth=false", Deleted, a),
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("changes:\n%s\nwant:\n%s", g, w)
	}
}
