// Package templates holds every Go template that mxauth's generator adds to
// what oapi-codegen writes: the typed API (api.tmpl), the operation table
// (operations.tmpl), the JSON sum types (sumtype.tmpl) and the canned
// server (canned.tmpl). Each file says which generator type feeds it.
//
// It is a package only because go:embed reads files from the embedding
// package's folder: the templates live at the top of the repository, beside
// the runtime packages they call into, and this package exports nothing but
// the files themselves. Only internal/specgen imports it.
package templates

import "embed"

// FS holds the templates, named by file.
//
//go:embed *.tmpl
var FS embed.FS
