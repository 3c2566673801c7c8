package result

// The machine cost of a path: what package proccost measures of the
// processes the path runs on this machine, in the form result.json carries
// it. It sits beside DBCost, over the same window and the same
// transactions, so that the two can be read together: DBCost says what the
// server's statistics saw, MachineCost what each process cost the host.

// Component roles, ComponentCost.Role.
const (
	RoleDatabase = "database" // a PostgreSQL process serving the path
	RoleBroker   = "broker"   // the Kafka broker
	RoleConnect  = "connect"  // the Kafka Connect worker running Debezium
	RoleHarness  = "harness"  // the cdcbench process
	RoleCapture  = "capture"  // a capture's own process, started by its driver (Spark's JVM)
)

// MachineCost is what each component of a path cost this machine between
// the measured window's start and end.
type MachineCost struct {
	// Seconds is the wall time from the first sample to the last.
	Seconds float64 `json:"seconds"`
	// Transactions is the card transactions committed in the window, as
	// DBCost counts them; the per-1,000 figures divide by it.
	Transactions int64 `json:"transactions"`
	// Components are the processes the path uses, in a fixed order: the
	// database's, the broker, Connect, the capture's own, cdcbench.
	Components []ComponentCost `json:"components,omitempty"`
	// Sampler is what the metrics sampler cost (inside cdcbench's own
	// figure); nil when the path was not sampled.
	Sampler *SamplerCost `json:"metrics_sampler,omitempty"`
	// NotMeasured says why nothing could be measured (no /proc, the run
	// stopped before the window began); Components is then empty.
	NotMeasured string `json:"not_measured,omitempty"`
}

// ComponentCost is one component's share. Figures are null, never 0, when
// the component was not measured; Note says why.
type ComponentCost struct {
	// Name says which process: "wal sender", "poll backends", "kafka
	// broker", "kafka connect", "cdcbench"; or which share of cdcbench's
	// own: "dashboard", the live page.
	Name string `json:"name"`
	// Role is one of the Role constants.
	Role string `json:"role"`
	// CPUSeconds is user+system CPU over the window, summed over the
	// component's processes, at 10 ms resolution.
	CPUSeconds *float64 `json:"cpu_seconds"`
	// CPUPer1000 is CPUSeconds per 1,000 Transactions; null when there
	// were none.
	CPUPer1000 *float64 `json:"cpu_seconds_per_1000_transactions"`
	// PeakRSSBytes is the largest resident set (VmRSS) of the component's
	// processes together at any sample, every ~500 ms.
	PeakRSSBytes *int64 `json:"peak_rss_bytes"`
	// Processes counts the distinct processes measured (several backends,
	// or a JVM and its replacement after a restart).
	Processes int `json:"processes,omitempty"`
	// Note says what the figures include, why they are partial, or why
	// they are not measured ("not measured: ...").
	Note string `json:"note,omitempty"`
}

// SamplerCost is the CPU of the metrics sampler's own OS thread over its
// sampling, which runs from the schedule's start to the drain's end (not
// the window alone): what watching the pipeline cost.
type SamplerCost struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	Seconds    float64 `json:"seconds"`
}

// Cores is the sampler's CPU per second of sampling, in cores.
func (s SamplerCost) Cores() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return s.CPUSeconds / s.Seconds
}
