// Package templates holds the Go templates that mxauth's generator adds to
// what oapi-codegen writes.
package templates

import "embed"

// FS holds the templates, named by file.
//
//go:embed *.tmpl
var FS embed.FS
