package producer

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestRaiseMaxConcurrent has writers report interleaved lags at once: the
// maximum must be the largest of them in every trial. A read-then-store
// loses it as soon as one writer stores a smaller value it compared
// against a stale read, which on two cores happens within a few trials.
func TestRaiseMaxConcurrent(t *testing.T) {
	const writers, perWriter, trials = 4, 2000, 200
	for trial := 0; trial < trials; trial++ {
		var m atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := int64(0); w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for k := int64(0); k < perWriter; k++ {
					raiseMax(&m, k*writers+w)
				}
			}()
		}
		close(start)
		wg.Wait()
		if want := int64(perWriter*writers - 1); m.Load() != want {
			t.Fatalf("trial %d: max %d, want %d: a smaller lag overwrote a larger one", trial, m.Load(), want)
		}
	}
}

