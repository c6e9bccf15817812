// Package scenarios is mxauth's library of scenario files for the mock
// homeserver: each sets up a server and scripts one of the hard paths of
// Matrix session handling. Use them with `mockserver -scenario
// scenarios/NAME.yaml`, with mock.WithScenario, or from Files. Their format
// is documented in package mock/scenario.
package scenarios

import "embed"

// Files holds every scenario of the library, by file name.
//
//go:embed *.yaml
var Files embed.FS

// Default is the scenario mockserver runs when given none.
//
//go:embed default.yaml
var Default []byte
