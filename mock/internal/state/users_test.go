package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/clock"
)

func TestRegister(t *testing.T) {
	tests := []struct {
		localpart string
		want      string
		err       error
	}{
		{"bob", "@bob:localhost", nil},
		{"b.o_b=x-y/z+1", "@b.o_b=x-y/z+1:localhost", nil},
		{"@carol:localhost", "@carol:localhost", nil},
		{"alice", "", ErrUserInUse},
		{"@alice:localhost", "", ErrUserInUse},
		{"Bob", "@bob:localhost", nil}, // lowercased, as homeservers do
		{"user-UPPER", "@user-upper:localhost", nil},
		{"@CAROL:localhost", "@carol:localhost", nil},
		{"ALICE", "", ErrUserInUse},
		{"@Dave:Example.org", "", ErrInvalidUsername}, // the server name is not lowercased
		{"bob smith", "", ErrInvalidUsername},
		{"bób", "", ErrInvalidUsername},
		{"bob:x", "", ErrInvalidUsername},
		{"", "", ErrInvalidUsername},
		{"@dave:example.org", "", ErrInvalidUsername},
		{"@dave", "", ErrInvalidUsername},
		{"12345", "", ErrInvalidUsername}, // reserved for guests
		{strings.Repeat("a", 255-len("@:localhost")), "@" + strings.Repeat("a", 255-len("@:localhost")) + ":localhost", nil},
		{strings.Repeat("b", 256-len("@:localhost")), "", ErrInvalidUsername},
	}
	for _, tt := range tests {
		t.Run(tt.localpart, func(t *testing.T) {
			s, _ := newStore(t, Config{})
			avail := s.UsernameAvailable(tt.localpart)
			got, err := s.Register(tt.localpart, "pw", false)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("Register(%q) = %q, %v; want %q, %v", tt.localpart, got, err, tt.want, tt.err)
			}
			if !errors.Is(avail, tt.err) {
				t.Fatalf("UsernameAvailable(%q) = %v, want %v", tt.localpart, avail, tt.err)
			}
			if err == nil {
				if err := s.UsernameAvailable(tt.localpart); !errors.Is(err, ErrUserInUse) {
					t.Fatalf("UsernameAvailable after Register = %v, want ErrUserInUse", err)
				}
			}
		})
	}
}

func TestGuests(t *testing.T) {
	s, _ := newStore(t, Config{})
	if _, err := s.Register("", "", true); !errors.Is(err, ErrGuestAccessForbidden) {
		t.Fatalf("guest without GuestAccess: %v", err)
	}
	s, _ = newStore(t, Config{GuestAccess: true, ServerName: "example.org"})
	if _, err := s.AddUser("2", "pw"); err != nil { // fixtures may use numeric localparts
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		id, err := s.Register("ignored", "", true)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if want := "[@1:example.org @3:example.org @4:example.org]"; fmt.Sprint(got) != want {
		t.Fatalf("guest IDs = %v, want %s", got, want)
	}
	if err := s.CheckPassword(got[0], ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("CheckPassword for a guest without password: %v", err)
	}
}

func TestAddUser(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"bob", "@bob:example.org", nil},
		{"@carol:example.org", "@carol:example.org", nil},
		{"42", "@42:example.org", nil},
		{"@dave:localhost", "", ErrInvalidUsername},
		{"Eve", "", ErrInvalidUsername},
		{"alice", "", ErrUserInUse},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s := New(Config{ServerName: "example.org"}, clock.Real())
			if _, err := s.AddUser("alice", "pw"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.AddUser(tt.in, "pw"); got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("AddUser(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	s, _ := newStore(t, Config{})
	if _, err := s.AddUser("nopass", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, password string
		err            error
	}{
		{"alice", "wonderland", nil},
		{"@alice:localhost", "wonderland", nil},
		{"alice", "Wonderland", ErrForbidden},
		{"alice", "wonderland ", ErrForbidden},
		{"alice", "", ErrForbidden},
		{"bob", "wonderland", ErrForbidden},
		{"@alice:example.org", "wonderland", ErrForbidden},
		{"nopass", "", ErrForbidden},
	}
	for _, tt := range tests {
		if err := s.CheckPassword(tt.user, tt.password); !errors.Is(err, tt.err) {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.user, tt.password, err, tt.err)
		}
	}
}

func TestUserID(t *testing.T) {
	s := New(Config{ServerName: "example.org"}, clock.Real())
	for in, want := range map[string]string{
		"alice":              "@alice:example.org",
		"@alice:example.org": "@alice:example.org",
		"@bob:elsewhere":     "@bob:elsewhere",
	} {
		if got := s.UserID(in); got != want {
			t.Errorf("UserID(%q) = %q, want %q", in, got, want)
		}
	}
	if got := New(Config{}, clock.Real()).UserID("alice"); got != "@alice:localhost" {
		t.Errorf("default server name: UserID = %q", got)
	}
}

func TestUsers(t *testing.T) {
	s, _ := newStore(t, Config{})
	for _, u := range []string{"zed", "bob"} {
		if _, err := s.Register(u, "pw", false); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := fmt.Sprint(s.Users()), "[@alice:localhost @bob:localhost @zed:localhost]"; got != want {
		t.Fatalf("Users = %s, want %s", got, want)
	}
}
