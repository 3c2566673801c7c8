// Package reports turns results into what people read: the summary table a
// run prints, and the markdown report for reviews.
package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cdcbench/cdcbench/bench"
)

// summaryStages are the stages whose medians add up to e2e, in trip order.
var summaryStages = []string{"schedule_lag", "insert_commit", "commit_receive", "agent"}

// WriteSummary writes the per path x agent table a run prints at its end.
func WriteSummary(w io.Writer, r *bench.Result) error {
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(w, "\ncdcbench %s  run %s  %s\n", r.ScenarioName, r.RunID, verdict)
	fmt.Fprintf(w, "stack: PostgreSQL %s (%s), Kafka %s at %s, CDC %s\n",
		r.Stack.PostgresVersion, r.Stack.Postgres, r.Stack.Kafka, r.Stack.Brokers, r.Stack.CDC)
	for _, why := range r.InvalidReasons {
		fmt.Fprintf(w, "  invalid: %s\n", why)
	}
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
	fmt.Fprintln(w, "\nwhere the time goes (median ms; e2e = schedule_lag + insert_commit + commit_receive + agent):")
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
	return tw.Flush()
}
