package oauth

import "github.com/mxauth/mxauth/gen/oauth2"

// SavedClient is a registered client as the mock's state file keeps it.
type SavedClient struct {
	Native       bool                     `json:"native,omitempty"`
	RedirectURIs []string                 `json:"redirect_uris"`
	GrantTypes   []string                 `json:"grant_types"`
	Info         oauth2.ClientInformation `json:"info"`
}

// SavedGrant is the client an OAuth session was granted to, as the state
// file keeps it.
type SavedGrant struct {
	User   string `json:"user"`
	Device string `json:"device"`
	Client string `json:"client"`
}

// Saved returns the registered clients and the sessions granted to them,
// what outlives a restart; codes, device grants and page sessions do not.
func (s *Server) Saved() ([]SavedClient, []SavedGrant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := make([]SavedClient, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, SavedClient{Native: c.native, RedirectURIs: c.redirectURIs, GrantTypes: c.grantTypes, Info: c.info})
	}
	grants := make([]SavedGrant, 0, len(s.grants))
	for k, g := range s.grants {
		grants = append(grants, SavedGrant{User: k.User, Device: k.Device, Client: g.client})
	}
	return clients, grants
}

// Restore registers saved clients again, under their IDs, with their
// sessions.
func (s *Server) Restore(clients []SavedClient, grants []SavedGrant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range clients {
		s.clients[sc.Info.ClientID] = &client{id: sc.Info.ClientID, native: sc.Native, redirectURIs: sc.RedirectURIs, grantTypes: sc.GrantTypes, info: sc.Info}
	}
	for _, g := range grants {
		s.grants[grantKey{g.User, g.Device}] = grantRecord{client: g.Client}
	}
}
