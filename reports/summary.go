// Package reports turns results into what people read: the summary table a
// run prints, and the markdown report for reviews.
package reports

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cdcbench/cdcbench/internal/result"
)

// summaryStages are the stages whose medians add up to e2e, in trip order.
var summaryStages = []string{"schedule_lag", "insert_commit", "commit_receive", "agent"}

// WriteSummary writes the per path x agent table a run prints at its end.
func WriteSummary(w io.Writer, r *result.Result) error {
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(w, "\ncdcbench %s  run %s  %s\n", r.ScenarioName, r.RunID, verdict)
	cdc := ""
	if r.Stack.CDC != "" { // none without a cdc path
		cdc = ", CDC " + r.Stack.CDC
	}
	fmt.Fprintf(w, "stack: PostgreSQL %s (%s), Kafka %s at %s%s\n",
		r.Stack.PostgresVersion, postgresWhere(r.Stack.StackInfo), r.Stack.Kafka, r.Stack.Brokers, cdc)
	for _, p := range r.Paths {
		if p.Capture != "" {
			fmt.Fprintf(w, "path %s: %s%s\n", p.Name, p.Capture, settingsText(p.Settings))
		}
	}
	for _, why := range r.InvalidReasons {
		fmt.Fprintf(w, "  invalid: %s\n", why)
	}
	if !measuredAny(r) {
		// A run stopped before any agent measured a row: empty tables
		// would read as a measurement of nothing.
		fmt.Fprintln(w, "no path measured a row: nothing to tabulate")
		writeExternal(w, r)
		return nil
	}
	fmt.Fprintln(w, "\nrows/s: the mean over the measured window, offered by the schedule (target) and committed (achieved); progress lines show the schedule's rate at that moment and the last second's commits")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tagent\trows/s target\tachieved\tevents\tof rows\talerts\texpected\tmissed\te2e p50 ms\tp90\tp99\tp99.9\tmax\t")
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
				p.Name, a.Name, p.TargetRowsPerS, p.AchievedRowsPerS, a.Events, a.ExpectedEvents,
				a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.E2E.P50, a.E2E.P90, a.E2E.P99, a.E2E.P999, a.E2E.Max)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nwhere the time goes (median ms of each stage, e2e = schedule_lag + insert_commit + commit_receive + agent; last column p99 ms from the actual send):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tagent\t"+strings.Join(summaryStages, "\t")+"\te2e uncorrected p99\t")
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			fmt.Fprintf(tw, "%s\t%s\t", p.Name, a.Name)
			for _, st := range summaryStages {
				fmt.Fprintf(tw, "%.2f\t", a.Stages[st].P50)
			}
			fmt.Fprintf(tw, "%.2f\t\n", a.Stages["e2e_uncorrected"].P99)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := writeCost(w, r); err != nil {
		return err
	}
	if err := writeMachineCost(w, r); err != nil {
		return err
	}
	writeLosses(w, r)
	writeExternal(w, r)
	writeKnees(w, r)
	writeTails(w, r)
	return writeFaults(w, r)
}

// writeTails prints, per path with metrics, what moved with its tail
// (tailLine).
func writeTails(w io.Writer, r *result.Result) {
	lines := tailLines(r)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nwhat moved with the tail (the pipeline's own signals, sampled once a second):")
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// postgresWhere says where a run's PostgreSQL was: result.json's
// "embedded" is the private cluster cdcbench started, on the embedded and
// the local stack alike.
func postgresWhere(s result.StackInfo) string {
	if s.Postgres == "embedded" {
		return "private cluster"
	}
	return s.Postgres
}

// measuredAny reports whether an agent of r measured a row.
func measuredAny(r *result.Result) bool {
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			if a.E2E.Count > 0 {
				return true
			}
		}
	}
	return false
}

// writeCost puts each path's database cost side by side, per 1,000
// transactions: the price of polling the CDC architecture claims to avoid.
func writeCost(w io.Writer, r *result.Result) error {
	fmt.Fprintln(w, "\ndatabase cost per 1,000 transactions (measured window):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tagent statements\trows read\tserver CPU s\tWAL kB\tmax slot lag kB\t")
	na := func(f *float64, format string) string {
		if f == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *f)
	}
	for _, p := range r.Paths {
		c := p.DBCost
		if c == nil || c.Per1000 == nil {
			fmt.Fprintf(tw, "%s\tnot measured\t\t\t\t\t\n", p.Name)
			continue
		}
		lag := "-"
		if c.SlotLagBytesMax != nil {
			lag = fmt.Sprintf("%.1f", float64(*c.SlotLagBytesMax)/1000)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%.1f\t%s\t\n", p.Name, na(c.Per1000.AgentStatements, "%.1f"), c.Per1000.RowsRead,
			na(c.Per1000.ServerCPUSeconds, "%.3f"), c.Per1000.WALBytes/1000, lag)
	}
	return tw.Flush()
}

// writeLosses names the rows a path that loses rows by design (a naive
// poller) never saw: the finding, shown.
func writeLosses(w io.Writer, r *result.Result) {
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			if lost := a.ExpectedEvents - a.Events; lost > 0 && p.LosesRows {
				fmt.Fprintf(w, "\n%s/%s: %s lost %d of %d rows by design\n", p.Name, a.Name, p.Capture, lost, a.ExpectedEvents)
			}
		}
	}
}

// writeKnees prints ramp and step runs slice by slice, and their knee.
func writeKnees(w io.Writer, r *result.Result) {
	for _, p := range r.Paths {
		if len(p.Slices) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s by slice of the schedule (e2e p99 ms per agent):\n", p.Name)
		for _, sl := range p.Slices {
			fmt.Fprintf(w, "  %5.1f-%5.1f s  target %7.0f rows/s  achieved %7.0f", sl.FromS, sl.ToS, sl.TargetRowsPerS, sl.AchievedRowsPerS)
			for _, a := range p.Agents {
				fmt.Fprintf(w, "  %s %.1f", a.Name, sl.E2E[a.Name].P99)
			}
			for _, name := range slices.Sorted(maps.Keys(sl.CommandAlerts)) {
				fmt.Fprintf(w, "  %s (alerts) %.1f", name, sl.CommandAlerts[name].P99)
			}
			if len(sl.CPUCores) > 0 {
				fmt.Fprintf(w, "  cpu cores: %s", coresText(sl.CPUCores, ""))
			}
			fmt.Fprintln(w)
		}
		switch k := p.Knee; {
		case k == nil:
			fmt.Fprintf(w, "  knee: none; the lowest rate of %s already missed the objective\n", p.Name)
		case k.FirstMiss == nil:
			fmt.Fprintf(w, "  knee: not reached; p99 stayed under %.0f ms up to %.0f rows/s\n", k.ObjectiveP99Ms, k.TargetRowsPerS)
		default:
			fmt.Fprintf(w, "  knee: %.0f rows/s met p99 < %.0f ms (%.1f ms), as every lower rate did; %.0f rows/s did not (%.1f ms)\n",
				k.TargetRowsPerS, k.ObjectiveP99Ms, k.P99Ms, k.FirstMiss.TargetRowsPerS, worstP99(k.FirstMiss))
			if len(k.MetAgain) > 0 {
				fmt.Fprintf(w, "  met again at %s rows/s: the miss may have been a transient; run again before trusting either figure\n", rateList(k.MetAgain, func(r float64) string { return fmt.Sprintf("%.0f", r) }))
			}
		}
	}
}

// writeFaults prints what each injected fault did.
func writeFaults(w io.Writer, r *result.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := false
	for _, p := range r.Paths {
		for _, f := range p.Faults {
			if !header {
				fmt.Fprintln(w, "\nfaults:")
				fmt.Fprintln(tw, "path\tfault\tat s\tfor s\tpeak p99 ms\tduplicates\tno alerts s\trecovered after s\t")
				header = true
			}
			rec := "not within the run"
			switch {
			case f.Skipped != "":
				rec = "skipped: " + f.Skipped
			case f.Error != "":
				rec = "failed: " + f.Error
			case f.RecoveredAfterS != nil:
				rec = fmt.Sprintf("%.1f", *f.RecoveredAfterS)
			}
			if n := clusterNote(f); n != "" && f.Skipped == "" && f.Error == "" {
				rec += " (" + n + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%d\t%.1f\t%s\t\n", p.Name, f.Kind, f.AtS, f.DurationS, f.PeakP99Ms, f.Duplicates, f.NoAlertsS, rec)
		}
	}
	return tw.Flush()
}

// Plural is one for n == 1, else many[0], else one+"s": "1 instance", "2
// instances", "its"/"their".
func Plural(n int, one string, many ...string) string {
	switch {
	case n == 1:
		return one
	case len(many) > 0:
		return many[0]
	default:
		return one + "s"
	}
}

// settingsText is "; settings k=v, k=v" for a path's scenario settings,
// sorted, or "" when it has none: what was tuned shows next to what ran.
func settingsText(settings map[string]string) string {
	if len(settings) == 0 {
		return ""
	}
	kv := make([]string, 0, len(settings))
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		kv = append(kv, k+"="+settings[k])
	}
	return "; settings " + strings.Join(kv, ", ")
}

// worstP99 is the highest e2e p99 of a slice's agents.
func worstP99(sl *result.SliceResult) float64 {
	w := 0.0
	for _, s := range sl.E2E {
		w = max(w, s.P99)
	}
	return w
}

// coresText is "kafka connect 0.95, kafka broker 0.51": a slice's CPU per
// component, highest first, so that what ran out first leads; none when
// the slice has no figures.
func coresText(cores map[string]float64, none string) string {
	if len(cores) == 0 {
		return none
	}
	names := slices.Sorted(maps.Keys(cores))
	sort.SliceStable(names, func(i, j int) bool { return cores[names[i]] > cores[names[j]] })
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%s %.2f", n, cores[n])
	}
	return strings.Join(out, ", ")
}
