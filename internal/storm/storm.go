// Package storm releases many goroutines at once on shared state, for
// concurrency tests under the race detector.
package storm

import "sync"

// Run calls f(i) for i in [0, n) in n goroutines, released together, and
// returns when every call has.
func Run(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}
