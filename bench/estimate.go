package bench

import (
	"fmt"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// What a run costs beyond its schedule, for the estimate a sweep prints
// before it starts: rounded up from runs on a 2-core machine. An estimate,
// not a promise: a run that loses events waits its drain_timeout.
// A path's set-up is its kind's (driver.Traits.Setup).
const (
	estDrain         = 2 * time.Second  // after the producer stops, when nothing is missing
	estStackStart    = 2 * time.Second  // private PostgreSQL and in-process Kafka
	estJVMStackStart = 15 * time.Second // the local stack's Kafka and Connect
)

// EstimateHow says what the estimate counts, beside it.
var EstimateHow = fmt.Sprintf("an estimate: per path warm-up + duration + ~%v drain + its set-up (its kind's: ~2s for the relay or a poller, ~15s for a connector in Kafka Connect, ~30s where the path starts a JVM of its own), and ~%v per stack start (~%v for --stack local)",
	estDrain, estStackStart, estJVMStackStart)

// EstimateRun is how long one run of p takes: its paths run one after
// another, each through the whole schedule.
func EstimateRun(p Plan, ch stack.Choice) time.Duration {
	var d time.Duration
	for _, ps := range p.Paths {
		d += p.Warmup + p.Duration + estDrain + driver.TraitsOf(ps, ch.CDC).Setup
	}
	return d
}

// EstimateRuns is how long plans take in turn, stack starts included: one,
// and another whenever the change topic's partitions change (the stack
// creates the topic; see Sweep.Run).
func EstimateRuns(plans []Plan, ch stack.Choice) time.Duration {
	start := estStackStart
	if ch.Options.JVM {
		start = estJVMStackStart
	}
	var d time.Duration
	for i, p := range plans {
		if i == 0 || p.Partitions != plans[i-1].Partitions {
			d += start
		}
		d += EstimateRun(p, ch)
	}
	return d
}
