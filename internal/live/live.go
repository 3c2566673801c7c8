// Package live is what a run shows while it lasts: named series of
// points, about one a second, handed to whoever watches (the dashboard
// page). It holds only the types, so that what produces points (the
// runner, a metrics sampler) and what shows them depend on this package
// and not on each other.
package live

import "time"

// Point is one value of one line of a series at one time.
type Point struct {
	// Series is what is measured, the chart it goes in: "e2e p99",
	// "rows/s", "backlog", or a metric's name.
	Series string
	// Path is the path the point belongs to ("cdc", "poll-100ms"), empty
	// for what belongs to no path (a broker's metric).
	Path string
	// Label tells the lines of a series on one path apart: an agent, a
	// slot, "target" and "committed"; empty when there is one line.
	Label string
	// Unit is the value's unit as a chart's axis names it: "ms", "rows/s",
	// "rows", "bytes".
	Unit string
	T    time.Time
	V    float64
}

// Sink takes points as they are measured. Add must return quickly and be
// safe for concurrent use: it is called on the runner's goroutines.
type Sink interface {
	Add(points ...Point)
}
