package operation

import (
	"net/http/httptest"
	"testing"
)

var table = NewTable(
	Info{ID: "getDevice", Method: "GET", Path: "/_matrix/client/v3/devices/{deviceId}", Auth: AuthRequired, QueryToken: true},
	Info{ID: "getDevices", Method: "GET", Path: "/_matrix/client/v3/devices", Auth: AuthRequired},
	Info{ID: "generateLoginToken", Method: "POST", Path: "/_matrix/client/v1/login/get_token", Auth: AuthRequired},
	Info{ID: "loginVia", Method: "POST", Path: "/_matrix/client/v1/login/{how}", Auth: AuthNone},
	Info{ID: "getVersions", Method: "GET", Path: "/_matrix/client/versions", Auth: AuthOptional},
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
	}{
		{"GET", "/_matrix/client/v3/devices/ABC", "getDevice"},
		{"GET", "/_matrix/client/v3/devices", "getDevices"},
		{"GET", "/_matrix/client/v3/devices/", ""},
		{"GET", "/_matrix/client/v3/devices/ABC/extra", ""},
		{"POST", "/_matrix/client/v1/login/get_token", "generateLoginToken"},
		{"POST", "/_matrix/client/v1/login/sso", "loginVia"},
		{"PUT", "/_matrix/client/v3/devices/ABC", ""},
		{"GET", "/_matrix/client/versions", "getVersions"},
	} {
		info, ok := table.Match(tc.method, tc.path)
		got := ""
		if ok {
			got = info.ID
		}
		if got != tc.want {
			t.Errorf("Match(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestByIDAndRoute(t *testing.T) {
	if info, ok := table.ByID("getDevice"); !ok || info.Path != "/_matrix/client/v3/devices/{deviceId}" {
		t.Errorf("ByID(getDevice) = %+v, %v", info, ok)
	}
	if info, ok := table.ByRoute("GET", "/_matrix/client/v3/devices/{deviceId}"); !ok || info.ID != "getDevice" {
		t.Errorf("ByRoute = %+v, %v", info, ok)
	}
	if _, ok := table.ByRoute("DELETE", "/_matrix/client/v3/devices/{deviceId}"); ok {
		t.Error("ByRoute found an operation for a method it does not have")
	}
	all := table.All()
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Fatalf("All() not sorted by ID: %s before %s", all[i-1].ID, all[i].ID)
		}
	}
}

func TestNewTablePanicsOnDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a duplicate ID")
		}
	}()
	NewTable(Info{ID: "a", Method: "GET", Path: "/a"}, Info{ID: "a", Method: "GET", Path: "/b"})
}

func TestAccessToken(t *testing.T) {
	for _, tc := range []struct {
		name, header, query string
		allowQuery          bool
		want                string
		ok                  bool
	}{
		{"bearer", "Bearer abc", "", false, "abc", true},
		{"bearer any case", "bearer abc", "", false, "abc", true},
		{"other scheme", "Basic abc", "", true, "", false},
		{"empty bearer", "Bearer ", "", false, "", false},
		{"query allowed", "", "access_token=q1", true, "q1", true},
		{"query refused", "", "access_token=q1", false, "", false},
		{"header wins", "Bearer h", "access_token=q", true, "h", true},
		{"none", "", "", true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x?"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, ok := AccessToken(r, tc.allowQuery)
			if got != tc.want || ok != tc.ok {
				t.Errorf("AccessToken = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAuthString(t *testing.T) {
	if AuthNone.String() != "none" || AuthOptional.String() != "optional" || AuthRequired.String() != "required" {
		t.Error("Auth.String does not name the values")
	}
}
