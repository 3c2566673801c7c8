package reports

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/cdcbench/cdcbench/internal/result"
)

// hasMachineCost reports whether any path carries a machine cost (runs
// from before it existed do not).
func hasMachineCost(r *result.Result) bool {
	for _, p := range r.Paths {
		if p.MachineCost != nil {
			return true
		}
	}
	return false
}

// writeMachineCost puts each path's components side by side: what the
// database cost does not show, the broker's, Connect's and cdcbench's own
// CPU and memory.
func writeMachineCost(w io.Writer, r *result.Result) error {
	if !hasMachineCost(r) {
		return nil
	}
	fmt.Fprintln(w, "\nmachine cost (measured window, from /proc):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tcomponent\tCPU s\tCPU s/1k rows\tpeak RSS MiB\t")
	for _, p := range r.Paths {
		mc := p.MachineCost
		if mc == nil {
			fmt.Fprintf(tw, "%s\tnot measured\t\t\t\t\n", p.Name)
			continue
		}
		if mc.NotMeasured != "" {
			fmt.Fprintf(tw, "%s\tnot measured\t\t\t\t  %s\n", p.Name, mc.NotMeasured)
		}
		for _, c := range mc.Components {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t  %s\n", p.Name, c.Name, optionalf(c.CPUSeconds, 2), optionalf(c.CPUPer1000, 3), mib(c.PeakRSSBytes), c.Note)
		}
		if s := mc.Sampler; s != nil {
			fmt.Fprintf(tw, "%s\tmetrics sampler\t%.2f\t\t\t  %s\n", p.Name, s.CPUSeconds, samplerNote(s))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if relay, dbz, ok := relayBesideDebezium(r); ok {
		fmt.Fprintf(w, "  the relay's share ≈ cdcbench CPU on %s minus on %s at the same load (on %s cdcbench is the harness alone)\n", relay, dbz, dbz)
	}
	return nil
}

// writeMachineTable is the report's machine cost table, across paths.
func writeMachineTable(b *bytes.Buffer, res *result.Result) {
	if !hasMachineCost(res) {
		return
	}
	b.WriteString("### Machine cost\n\nPer component over the measured window, from /proc:\n\n| path | component | role | CPU s | CPU s per 1,000 transactions | peak RSS MiB | processes | note |\n|---|---|---|---:|---:|---:|---:|---|\n")
	for _, p := range res.Paths {
		mc := p.MachineCost
		if mc == nil {
			fmt.Fprintf(b, "| %s | not measured | | | | | | |\n", p.Name)
			continue
		}
		if mc.NotMeasured != "" {
			fmt.Fprintf(b, "| %s | not measured | | | | | | %s |\n", p.Name, cell(mc.NotMeasured))
		}
		for _, c := range mc.Components {
			note := "–"
			if c.Note != "" {
				note = cell(c.Note)
			}
			procs := "–"
			if c.Processes > 0 {
				procs = strconv.Itoa(c.Processes)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Name, c.Name, c.Role,
				optionalf(c.CPUSeconds, 2), optionalf(c.CPUPer1000, 3), mib(c.PeakRSSBytes), procs, note)
		}
		if s := mc.Sampler; s != nil {
			fmt.Fprintf(b, "| %s | metrics sampler | harness | %.2f | – | – | – | %s |\n", p.Name, s.CPUSeconds, cell(samplerNote(s)))
		}
	}
	read := "what each process the path uses cost this machine: user+system CPU at 10 ms resolution (the same window and transactions as the database cost, whose server CPU includes the WAL sender's and the backends'), and the largest resident set (VmRSS) sampled every 0.5 s, which for PostgreSQL includes the shared buffers a backend touched; n/a means not measured here (a server or broker on another machine, or kfake inside cdcbench's own process)."
	if relay, dbz, ok := relayBesideDebezium(res); ok {
		read += fmt.Sprintf(" On %s cdcbench's process is the harness alone (producer and agents), on %s the harness plus the relay: the relay's share ≈ cdcbench CPU on %s minus on %s at the same load.", dbz, relay, relay, dbz)
	}
	howToRead(b, read)
}

// relayBesideDebezium names a relay path and a Debezium path of the run,
// told apart by their machine cost: both publish to a broker, only
// Debezium's runs in Kafka Connect.
func relayBesideDebezium(r *result.Result) (relay, debezium string, ok bool) {
	for _, p := range r.Paths {
		if p.MachineCost == nil {
			continue
		}
		var broker, connect bool
		for _, c := range p.MachineCost.Components {
			broker = broker || c.Role == result.RoleBroker
			connect = connect || c.Role == result.RoleConnect
		}
		switch {
		case connect && debezium == "":
			debezium = p.Name
		case broker && !connect && relay == "":
			relay = p.Name
		}
	}
	return relay, debezium, relay != "" && debezium != ""
}

// optionalf formats a figure with prec decimals, n/a when it is null.
func optionalf(v *float64, prec int) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// mib formats bytes as MiB, n/a when null.
func mib(v *int64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(float64(*v)/(1<<20), 'f', 1, 64)
}

// samplerNote says what the metrics sampler's figure is.
func samplerNote(s *result.SamplerCost) string {
	return fmt.Sprintf("inside cdcbench's: the sampling thread's CPU over its %.0f s of sampling (schedule and drain, not the window alone), %.2f%% of a core", s.Seconds, 100*s.Cores())
}
