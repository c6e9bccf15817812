package rooms

import "testing"

// TestPowerLevelsFollowTheirEvent: the levels the store enforces are those
// of the room's current m.room.power_levels event, after a change and after
// a redaction (which drops "invite", so the default level applies again).
func TestPowerLevelsFollowTheirEvent(t *testing.T) {
	w := newTestStore(t)
	room := w.sharedRoom(t, "public_chat")
	wantErr(t, w.Invite(bob, room, carol, ""), nil)
	wantErr(t, w.Kick(alice, room, carol, ""), nil)

	levels := must(w.SetState(alice, room, StateEvent{Type: "m.room.power_levels",
		Content: mustJSON(map[string]any{"users": map[string]int{alice: 100}, "invite": 100})}))
	wantErr(t, w.Invite(bob, room, carol, ""), ErrForbidden)

	must(w.Redact(alice, room, levels, "", Send{}))
	wantErr(t, w.Invite(bob, room, carol, ""), nil)
}
