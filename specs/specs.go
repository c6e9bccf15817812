// Package specs embeds mxauth's own OpenAPI definitions, in the layout of the
// Matrix spec's data/api folder: client-server/ for the whole Matrix
// client-server API (v1.18, in our own words; README.md lists where it
// differs from upstream) and oauth2/ for the OAuth 2.0 endpoints that the
// Matrix spec leaves to the RFCs.
package specs

import "embed"

// FS holds client-server/ and oauth2/ with their definitions.
//
//go:embed client-server oauth2
var FS embed.FS

// Folders are the top-level folders of FS, each one API.
var Folders = []string{"client-server", "oauth2"}
