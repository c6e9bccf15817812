package mock

// OAuth reports whether the world offers the OAuth 2.0 API, and the user
// it approves every authorization as without a page ("" when it shows the
// page), as the scenario and the options set it up.
func (w *World) OAuth() (on bool, autoApprove string) {
	set := w.current.Load().Settings
	return set.OAuth, set.OAuthSettings.AutoApprove
}
