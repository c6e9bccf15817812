//go:build race

package mock_test

// raceEnabled is true under the race detector, whose instrumentation
// changes heap figures and makes heap tests slow: they run without it
// (test.sh runs them separately).
const raceEnabled = true
