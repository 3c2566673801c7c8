package result

// MetricSeries is one of the pipeline's own signals over a path's run,
// sampled once a second by package metrics: from a JVM's JMX exporter
// ("connect.debezium_queue_remaining"), from the database
// ("database.slot_retained_bytes") or from the broker's consumer groups
// ("kafka.lag.<agent>"). reports/README.md lists the names.
type MetricSeries struct {
	// Name is source.signal: the source is the process's role ("broker",
	// "connect"), "database", "kafka", or a --metrics-url's "external-N".
	Name string `json:"name"`
	// Unit is the values' unit: "ms", "bytes", "records", "records/s",
	// "ms/s" (milliseconds of GC pause per second).
	Unit string `json:"unit"`
	// Seconds run from the schedule's start, as Path.Timeline's do (the
	// warm-up is before Scenario.warmup); Values are the samples taken then.
	Seconds []float64 `json:"s"`
	Values  []float64 `json:"v"`
}

// Metric is the series of p named name, nil when it has none.
func (p *Path) Metric(name string) *MetricSeries {
	for i := range p.Metrics {
		if p.Metrics[i].Name == name {
			return &p.Metrics[i]
		}
	}
	return nil
}
