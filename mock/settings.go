package mock

// OAuth reports whether the server offers the OAuth 2.0 API, and the user
// it approves every authorization as without a page ("" when it shows the
// page), as the scenario and the options set it up.
func (s *Server) OAuth() (on bool, autoApprove string) {
	set := s.world.Load().Settings
	return set.OAuth, set.OAuthSettings.AutoApprove
}
