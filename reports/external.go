package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// writeExternal prints agents that ran as their own processes, seen through
// their alerts: `cdcbench agent` processes timed on the collector's clock,
// and the user's agents started as commands, each beside the built-in agent
// of its rule.
func writeExternal(w io.Writer, r *result.Result) {
	for _, p := range r.Paths {
		for _, e := range p.ExternalAgents {
			if e.AgentCommand == nil {
				clocks := alertLatency(e.AlertMs)
				if e.AlertMs.Count > 0 {
					clocks += fmt.Sprintf(" on the collector's clock (agent clock %.2f/%.2f ms)", e.AgentClockMs.P50, e.AgentClockMs.P99)
				}
				fmt.Fprintf(w, "\n%s external %s (%d %s): alerts %d of %d expected, %d missed, %d unexpected, %d duplicated; %s%s\n",
					p.Name, e.Name, len(e.Instances), Plural(len(e.Instances), "instance"), e.Alerts, e.ExpectedAlerts, e.MissedAlerts, e.UnexpectedAlerts, e.DuplicateAlerts,
					clocks, adds(e))
				continue
			}
			fmt.Fprintf(w, "\n%s agent %s (%s rule, alerts from %s): alerts %d of %d expected, %d missed, %d unexpected, %d duplicated%s; %s%s; %.1f s CPU; output %s\n",
				p.Name, e.Name, e.Rule, e.Observed, e.Alerts, e.ExpectedAlerts, e.MissedAlerts, e.UnexpectedAlerts, e.DuplicateAlerts,
				lineCounts(e), alertLatency(e.AlertMs), adds(e), e.CPUSeconds, e.Output)
		}
	}
}

// alertLatency is an alert latency's p50/p99, or that no alert was timed:
// 0.00/0.00 ms would read as instant alerts.
func alertLatency(s recorder.Summary) string {
	if s.Count == 0 {
		return "no alert timed"
	}
	return fmt.Sprintf("alert p50/p99 %.2f/%.2f ms", s.P50, s.P99)
}

// adds says what an external agent adds over the built-in agent of its rule.
func adds(e result.ExternalAgentResult) string {
	r := e.Reference
	if r == nil || r.AlertMs.Count == 0 || e.AlertMs.Count == 0 {
		return ""
	}
	return fmt.Sprintf("; beside built-in %s (%.2f/%.2f ms) it adds %.2f ms at p50, %.2f ms at p99", r.Agent, r.AlertMs.P50, r.AlertMs.P99, r.AddsP50Ms, r.AddsP99Ms)
}

// lineCounts lists the alert lines that denote no single row, if any.
func lineCounts(e result.ExternalAgentResult) string {
	var parts []string
	for _, c := range []struct {
		n    int64
		what string
	}{{e.UnmatchedLines, "unmatched"}, {e.AmbiguousLines, "ambiguous"}, {e.MalformedLines, "malformed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; lines: " + strings.Join(parts, ", ")
}

// writeExternalTable is the report's section on external agents.
func writeExternalTable(b *bytes.Buffer, res *result.Result) {
	var rows []string
	for _, p := range res.Paths {
		for _, e := range p.ExternalAgents {
			rule, observed, lines, ref, addP50, addP99 := e.Name, "fraud.alerts", "–", "–", "–", "–"
			if e.AgentCommand != nil {
				rule, observed = e.Rule, e.Observed
				if e.Observed == "lines" {
					lines = fmt.Sprintf("%d / %d / %d / %d", e.AlertLines, e.UnmatchedLines, e.AmbiguousLines, e.MalformedLines)
				}
			}
			if r := e.Reference; r != nil && r.AlertMs.Count > 0 {
				ref = fmt.Sprintf("%s / %s", ms(r.AlertMs.P50, r.AlertMs.Count), ms(r.AlertMs.P99, r.AlertMs.Count))
				if e.AlertMs.Count > 0 {
					addP50, addP99 = num(r.AddsP50Ms), num(r.AddsP99Ms)
				}
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s |\n",
				p.Name, e.Name, rule, observed, e.ExpectedAlerts, e.Alerts, e.MissedAlerts, e.UnexpectedAlerts, e.DuplicateAlerts, lines,
				ms(e.AlertMs.P50, e.AlertMs.Count), ms(e.AlertMs.P99, e.AlertMs.Count), ref, addP50, addP99))
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("### External agents\n\n| path | agent | rule | alerts from | expected | received | missed | unexpected | duplicated | alert lines / unmatched / ambiguous / malformed | alert p50 ms | p99 | built-in p50 / p99 | adds at p50 ms | adds at p99 ms |\n|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|\n")
	for _, r := range rows {
		b.WriteString(r)
	}
	howToRead(b, "each external agent's alerts are judged against the oracle of the built-in rule it names and timed from the row's intended send time to the alert's arrival at cdcbench (an output line on the agent's pipe, or a record on fraud.alerts), over the measured window; built-in is the alert stage of the Go agent of the same rule on the same path, and adds is the difference. An alert line that denotes no produced row, or several, is counted and never credited.")
}
