package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/yamlfile"
)

// breakdown is the stage breakdown's columns in trip order. E2E = schedule_lag
// + insert_commit + commit_receive + agent; on the CDC path commit_event and
// event_receive split commit_receive (they are measured from the WAL commit
// and the event's creation, so they need not add up to it exactly), and on a
// broker that stamps log-append time event_append and append_receive split
// event_receive.
var breakdown = []struct{ stage, head string }{
	{"schedule_lag", "schedule_lag"},
	{"insert_commit", "insert_commit"},
	{"commit_receive", "commit_receive"},
	{"commit_event", "↳ commit_event"},
	{"event_receive", "↳ event_receive"},
	{"event_append", "↳↳ event_append"},
	{"append_receive", "↳↳ append_receive"},
	{"agent", "agent"},
	{"e2e", "**e2e**"},
	{"e2e_uncorrected", "e2e uncorrected"},
}

// writeMarkdown renders the report. Every figure in a table is result.json's
// value as it is (milliseconds keep the histograms' microsecond resolution,
// bytes are shown as kB); only the CDC-versus-polling ratios are computed
// here. Sweeps come first, then the runs, a sweep's cells among them.
func writeMarkdown(b *bytes.Buffer, sweeps []*sweep, runs []*run) {
	b.WriteString("# cdcbench report\n\n")
	var invalid []string
	for _, r := range runs {
		if !r.res.Valid {
			invalid = append(invalid, fmt.Sprintf("#%d %s %s", r.n, r.name(), r.res.RunID))
		}
	}
	if len(invalid) > 0 {
		verb, its, where := "are", "Their", "each run's section"
		if len(invalid) == 1 {
			verb, its, where = "is", "Its", "the run's section"
		}
		fmt.Fprintf(b, "> [!CAUTION]\n> **%d of %d runs %s INVALID: %s.** %s numbers cannot be trusted and must not be quoted; the reasons are in %s.\n\n",
			len(invalid), len(runs), verb, strings.Join(invalid, ", "), its, where)
	}
	for _, sw := range sweeps {
		writeSweep(b, sw)
	}
	if len(runs) == 0 {
		return
	}
	if len(sweeps) > 0 {
		b.WriteString("## Runs\n\n")
	}
	b.WriteString("| # | scenario | run id | started (UTC) | verdict | directory |\n|---:|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | `%s` |\n", r.n, r.name(), r.res.RunID,
			r.res.StartedAt.UTC().Format("2006-01-02 15:04:05"), verdict(r.res.Valid), r.dir)
	}
	b.WriteString("\n")
	if len(runs) > 1 {
		writeComparison(b, runs)
	}
	for _, r := range runs {
		writeRun(b, r)
	}
}

func verdict(valid bool) string {
	if valid {
		return "✅ VALID"
	}
	return "❌ **INVALID**"
}

// writeComparison puts the runs' e2e medians and p99s side by side.
func writeComparison(b *bytes.Buffer, runs []*run) {
	b.WriteString("## Runs side by side\n\ne2e latency, ms, as p50 / p99:\n\n| path | agent |")
	for _, r := range runs {
		head := fmt.Sprintf("#%d %s %s", r.n, r.name(), r.res.RunID)
		if !r.res.Valid {
			head += " ❌ INVALID"
		}
		fmt.Fprintf(b, " %s |", head)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(runs)) + "\n")
	type key struct{ path, agent string }
	var keys []key
	cells := map[key][]string{}
	for i, r := range runs {
		for _, p := range r.res.Paths {
			for _, a := range p.Agents {
				k := key{p.Name, a.Name}
				if cells[k] == nil {
					keys = append(keys, k)
					cells[k] = make([]string, len(runs))
				}
				cells[k][i] = ms(a.E2E.P50, a.E2E.Count) + " / " + ms(a.E2E.P99, a.E2E.Count)
			}
		}
	}
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %s |", k.path, k.agent)
		for _, c := range cells[k] {
			if c == "" {
				c = "–"
			}
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	howToRead(b, "compare runs only when their scenario, stack and machine match (each run's section says what they were); an INVALID run's cell is no evidence either way.")
}

func writeRun(b *bytes.Buffer, r *run) {
	res := r.res
	fmt.Fprintf(b, "---\n\n## #%d %s, run %s: %s\n\n", r.n, r.name(), res.RunID, verdict(res.Valid))
	if res.Valid {
		b.WriteString("**Verdict: VALID.** cdcbench found no reason to distrust this run's numbers.\n\n")
	} else {
		b.WriteString("> [!CAUTION]\n> **INVALID RUN: do not quote these numbers.** cdcbench marked it invalid because:\n>\n")
		for _, why := range res.InvalidReasons {
			fmt.Fprintf(b, "> - %s\n", why)
		}
		if len(res.InvalidReasons) == 0 {
			b.WriteString("> - (result.json gives no reason)\n")
		}
		b.WriteString("\n")
	}
	writeMetadata(b, r)
	if len(res.Paths) == 0 {
		b.WriteString("This run has no path results.\n\n")
		return
	}
	writeLatency(b, res)
	writeDelivery(b, res)
	writeExternalTable(b, res)
	writeConditions(b, res)
	writeSlices(b, res)
	writeTailTable(b, res)
	writeFaultTable(b, res)
	writeBreakdown(b, res)
	writeRatios(b, res)
	writeCostTable(b, res)
	writeStatements(b, res)
	writeMachineTable(b, res)
	writeCharts(b, r)
}

func writeMetadata(b *bytes.Buffer, r *run) {
	res := r.res
	m := res.Machine
	b.WriteString("### Run\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, v) }
	row("started", res.StartedAt.UTC().Format("2006-01-02 15:04:05 MST")+
		fmt.Sprintf(" (took %v)", res.FinishedAt.Sub(res.StartedAt).Round(time.Second)))
	row("cdcbench", res.Version)
	row("run id", res.RunID)
	row("directory", "`"+r.dir+"`")
	row("PostgreSQL", fmt.Sprintf("%s, %s", res.Stack.PostgresVersion, postgresWhere(res.Stack.StackInfo)))
	row("Kafka", fmt.Sprintf("%s, brokers %s", res.Stack.Kafka, res.Stack.Brokers))
	if res.Stack.CDC != "" { // none without a cdc path
		row("CDC", res.Stack.CDC)
	}
	for _, p := range res.Paths {
		if p.Capture != "" {
			row("path "+p.Name, p.Capture+settingsText(p.Settings))
		}
	}
	if res.Clock != "" {
		row("clock", res.Clock)
	}
	row("machine", fmt.Sprintf("%s, %d cores, %d MB memory; %s, %s; host %s", m.CPU, m.Cores, m.MemoryMB, m.OS, m.Go, m.Hostname))
	row("scenario", res.ScenarioName+scenarioDescription(res.Scenario))
	b.WriteString("\n<details><summary>Resolved scenario</summary>\n\n```yaml\n")
	b.Write(scenarioYAML(res.Scenario))
	b.WriteString("```\n\n</details>\n\n")
}

func scenarioDescription(s any) string {
	if m, ok := s.(map[string]any); ok {
		if d, ok := m["description"].(string); ok && d != "" {
			return ": " + d
		}
	}
	return ""
}

// scenarioYAML renders the resolved scenario as result.json holds it, keys
// sorted, so the block reads like a scenario file.
func scenarioYAML(s any) []byte {
	out, err := yamlfile.Dump(s)
	if err != nil {
		return []byte(fmt.Sprintf("# cannot render the scenario: %v\n", err))
	}
	return out
}

func writeLatency(b *bytes.Buffer, res *result.Result) {
	b.WriteString("### Latency and load\n\n| path | agent | target rows/s | achieved rows/s | samples | e2e p50 ms | p90 | p99 | p99.9 | max |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range res.Paths {
		for _, a := range p.Agents {
			e := a.E2E
			fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", p.Name, a.Name,
				rate(p.TargetRowsPerS), rate(p.AchievedRowsPerS), e.Count,
				ms(e.P50, e.Count), ms(e.P90, e.Count), ms(e.P99, e.Count), ms(e.P999, e.Count), ms(e.Max, e.Count))
		}
	}
	howToRead(b, "e2e runs from a row's intended send time to the agent's verdict, so a stall anywhere counts (coordinated omission corrected); samples are the rows of the measured window, and a figure means little if achieved falls short of target.")
}

func writeDelivery(b *bytes.Buffer, res *result.Result) {
	b.WriteString("### Delivery and detection\n\n| path | agent | events | expected | duplicates | before commit ack | alerts | expected alerts | missed | unexpected | negative / overflow e2e samples | skipped | poll queries |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, p := range res.Paths {
		for _, a := range p.Agents {
			polls := "–"
			if p.Baseline {
				polls = strconv.FormatInt(a.PollStatements, 10)
			}
			fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d | %s | %s |\n", p.Name, a.Name,
				a.Events, a.ExpectedEvents, a.DuplicateEvents, a.BeforeCommitAck, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts,
				a.E2E.Negative, a.E2E.Overflow, skipped(a.Skipped), polls)
		}
	}
	howToRead(b, "events must equal expected (every produced row, warm-up included, reached the agent once) and alerts must equal expected alerts with none missed or unexpected, or the latency figures describe an incomplete delivery (on a naive polling path the lost rows are the finding); before commit ack counts rows that beat the producer's commit acknowledgement to the agent, whose commit_receive is 0 or missing.")
}

// driverFigures shows the scalar fields of a path kind's own (relay_events
// 5650, poll_mode safe), in key order; a larger one (a connector's
// configuration) stays in result.json.
func driverFigures(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case string, bool, float64, int64:
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			parts = append(parts, cell(k+" "+strings.Trim(string(b), `"`)))
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func skipped(m map[string]int64) string {
	if len(m) == 0 {
		return "–"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", cell(k), m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeConditions(b *bytes.Buffer, res *result.Result) {
	b.WriteString("### Run conditions per path\n\n| path | kind | rows produced | batches | frauds injected (outlier / velocity) | max schedule lag ms | measured s | drain s | probe round trip ms | the kind's own | path verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, p := range res.Paths {
		pv := "valid"
		if len(p.InvalidReasons) > 0 {
			pv = "**INVALID**: " + cell(strings.Join(p.InvalidReasons, "; "))
		}
		fmt.Fprintf(b, "| %s | %s | %d | %d | %d / %d | %s | %s | %s | %s | %s | %s |\n", p.Name, p.Kind,
			p.RowsProduced, p.Batches, p.FraudsInjected.Outlier, p.FraudsInjected.Velocity,
			num(p.MaxScheduleLagMs), plain(p.MeasuredSeconds), num(p.DrainSeconds), num(p.ProbeRoundTripMs), driverFigures(p.Driver), pv)
	}
	howToRead(b, "max schedule lag is how far the producer fell behind its schedule (a large one invalidates the run), drain is how long the last events took to arrive after the producer stopped, the probe is one row's round trip before measuring began, and the kind's own are the fields the path's kind reports of itself (result.json's driver: the relay's events, the polling cursor).")
}

// writeSlices shows a step or ramp schedule span by span, and the knee.
func writeSlices(b *bytes.Buffer, res *result.Result) {
	var agents, commands []string
	for _, p := range res.Paths {
		for _, sl := range p.Slices {
			for a := range sl.E2E {
				if !slices.Contains(agents, a) {
					agents = append(agents, a)
				}
			}
			for a := range sl.CommandAlerts {
				if !slices.Contains(commands, a) {
					commands = append(commands, a)
				}
			}
		}
	}
	if len(agents) == 0 {
		return
	}
	slices.Sort(agents)
	slices.Sort(commands)
	b.WriteString("### Load slices\n\n| path | seconds of the schedule | target rows/s | achieved rows/s |")
	for _, a := range agents {
		fmt.Fprintf(b, " %s e2e p50 / p99 ms |", a)
	}
	for _, a := range commands {
		fmt.Fprintf(b, " %s alert p50 / p99 ms |", a)
	}
	b.WriteString(" CPU cores by component |\n|---|---|---:|---:|" + strings.Repeat("---:|", len(agents)+len(commands)) + "---|\n")
	cell := func(e recorder.Summary, ok bool) {
		if !ok {
			b.WriteString(" – |")
			return
		}
		fmt.Fprintf(b, " %s / %s |", ms(e.P50, e.Count), ms(e.P99, e.Count))
	}
	for _, p := range res.Paths {
		for _, sl := range p.Slices {
			fmt.Fprintf(b, "| %s | %s–%s | %s | %s |", p.Name, plain(sl.FromS), plain(sl.ToS), rate(sl.TargetRowsPerS), rate(sl.AchievedRowsPerS))
			for _, a := range agents {
				e, ok := sl.E2E[a]
				cell(e, ok)
			}
			for _, a := range commands {
				e, ok := sl.CommandAlerts[a]
				cell(e, ok)
			}
			fmt.Fprintf(b, " %s |\n", coresText(sl.CPUCores, "–"))
		}
	}
	b.WriteString("\n")
	for _, p := range res.Paths {
		if len(p.Slices) == 0 {
			continue
		}
		k := p.Knee
		if k == nil {
			fmt.Fprintf(b, "- **%s:** no knee: the lowest offered rate already missed the p99 objective, or nothing was measured.\n", p.Name)
			continue
		}
		fmt.Fprintf(b, "- **%s:** knee at %s target rows/s (achieved %s), the highest offered rate that met p99 ≤ %s ms, as every lower rate did (worst agent p99 %s ms)",
			p.Name, rate(k.TargetRowsPerS), rate(k.AchievedRowsPerS), ms(k.ObjectiveP99Ms, 1), ms(k.P99Ms, 1))
		if m := k.FirstMiss; m != nil {
			fmt.Fprintf(b, "; the first slice above it that missed offered %s rows/s (seconds %s–%s)", rate(m.TargetRowsPerS), plain(m.FromS), plain(m.ToS))
		}
		if len(k.MetAgain) > 0 {
			fmt.Fprintf(b, "; met again at %s rows/s: the miss may have been a transient, so run again before trusting either figure", rateList(k.MetAgain, rate))
		}
		b.WriteString(".\n")
	}
	howToRead(b, "slices cut a step or ramp schedule into spans (seconds from the schedule's start, warm-up included) with their own latency; the knee is where raising the rate stopped meeting the objective. CPU cores are what each measured process of the path used in the slice (CPU seconds per second, highest first; 2.0 is both cores of a 2-core machine): the component that nears a core, or the sum that nears the machine's cores, is what ran out first.")
}

// writeTailTable says, per path with metrics, which internal signal moved
// with its tail (tailLine).
func writeTailTable(b *bytes.Buffer, res *result.Result) {
	lines := tailLines(res)
	if len(lines) == 0 {
		return
	}
	b.WriteString("### What moved with the tail\n\n")
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
	howToRead(b, fmt.Sprintf("each line takes the path's slice with the worst p99 (or its measured window) and names the internal signals whose peak there passed a threshold tied to the p99 objective: Debezium's queue with at most %.0f%% free, a thread of a JVM at 0.9 of a core or more, a delay (Debezium behind the source, a record's wait in Connect's producer, produce requests, the broker's produce p99, GC pause per second) of at least %.0f%% of the objective, an agent's consumer lag that stayed above the rows the slice's rate brings in one second plus one objective (its lowest value: the lag is of committed offsets, which the agents commit every 5 s). The charts under *Charts* show the series second by second; reports/README.md lists them.", 100*fullQueue, 100*delayShare))
}

// rateList joins rates, each written by format: "10000.0, 15000.0" in the
// report's tables' style, "10000, 15000" in the summary's.
func rateList(rates []float64, format func(float64) string) string {
	out := make([]string, len(rates))
	for i, r := range rates {
		out[i] = format(r)
	}
	return strings.Join(out, ", ")
}

// clusterNote says what a cluster fault hit and, for kill-connect-worker,
// when and where the Debezium task ran again; "" for other faults.
func clusterNote(f result.FaultResult) string {
	if f.Node == "" {
		return ""
	}
	note := "hit " + f.Node
	switch {
	case f.TaskRanAgainAfterS != nil:
		note += fmt.Sprintf("; the task ran again %s s after the kill on %s", num(*f.TaskRanAgainAfterS), cmp.Or(f.TaskWorker, "an unknown worker"))
	case strings.HasPrefix(f.Node, result.RoleConnect+"-"): // kill-connect-worker
		note += "; the task did not run again within the fault's bound"
	}
	return note
}

// writeFaultTable shows what each injected fault did.
func writeFaultTable(b *bytes.Buffer, res *result.Result) {
	header := false
	for _, p := range res.Paths {
		for _, f := range p.Faults {
			if !header {
				b.WriteString("### Faults\n\n| path | fault | agent | at s | lasted s | peak interval e2e p99 ms | duplicates | recovered after s | longest without alerts s | note |\n|---|---|---|---:|---:|---:|---:|---:|---:|---|\n")
				header = true
			}
			agent := f.Agent
			if agent == "" {
				agent = "–"
			}
			recovered := "**never**"
			if f.RecoveredAfterS != nil {
				recovered = num(*f.RecoveredAfterS)
			}
			note := cmp.Or(clusterNote(f), "–")
			switch {
			case f.Error != "":
				note, recovered = "failed: "+cell(f.Error), "–"
			case f.Skipped != "":
				note, recovered = "skipped: "+cell(f.Skipped), "–"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", p.Name, f.Kind, agent,
				plain(f.AtS), plain(f.DurationS), plain(f.PeakP99Ms), f.Duplicates, recovered, plain(f.NoAlertsS), note)
		}
	}
	if header {
		howToRead(b, "at is seconds from the schedule's start (warm-up included); recovered after runs from the fault's end to the end of the first one-second interval in which every agent's e2e p99 was back under the objective, the peak is the worst interval p99 until then, and duplicates are the events the agents received again from the fault's start until the next fault or the path's end.")
	}
}

func writeBreakdown(b *bytes.Buffer, res *result.Result) {
	b.WriteString("### Where the time goes\n")
	for _, pct := range []struct {
		name string
		get  func(recorder.Summary) float64
	}{
		{"Median (p50)", func(s recorder.Summary) float64 { return s.P50 }},
		{"p99", func(s recorder.Summary) float64 { return s.P99 }},
	} {
		fmt.Fprintf(b, "\n%s per stage, ms:\n\n| path | agent |", pct.name)
		for _, c := range breakdown {
			fmt.Fprintf(b, " %s |", c.head)
		}
		b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(breakdown)) + "\n")
		for _, p := range res.Paths {
			for _, a := range p.Agents {
				fmt.Fprintf(b, "| %s | %s |", p.Name, a.Name)
				for _, c := range breakdown {
					s, ok := a.Stages[c.stage]
					if !ok {
						b.WriteString(" – |")
						continue
					}
					fmt.Fprintf(b, " %s |", ms(pct.get(s), s.Count))
				}
				b.WriteString("\n")
			}
		}
	}
	howToRead(b, "medians of schedule_lag + insert_commit + commit_receive + agent roughly add up to the e2e median (percentiles of a sum are not sums of percentiles, so p99s do not add up); commit_receive is where CDC and polling differ, ↳ stages split it on the CDC path, and e2e uncorrected (from the actual send) beside e2e shows what a closed-loop tool would have reported.")
}

// writeRatios compares every polling path with the CDC path, agent by agent.
func writeRatios(b *bytes.Buffer, res *result.Result) {
	b.WriteString("### CDC versus polling\n\n")
	var cdc *result.Path
	var polls []*result.Path
	for i := range res.Paths {
		switch p := &res.Paths[i]; {
		case p.Baseline:
			polls = append(polls, p)
		case cdc == nil:
			cdc = p
		}
	}
	if cdc == nil || len(polls) == 0 {
		b.WriteString("No comparison: the run needs a cdc path and at least one polling path.\n\n")
		return
	}
	b.WriteString("| polling path | agent | p50 | p90 | p99 | p99.9 | max |\n|---|---|---:|---:|---:|---:|---:|\n")
	example := ""
	for _, ca := range cdc.Agents {
		for _, pp := range polls {
			for _, pa := range pp.Agents {
				if pa.Name != ca.Name {
					continue
				}
				c, q := ca.E2E, pa.E2E
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", pp.Name, pa.Name,
					ratio(q.P50, c.P50), ratio(q.P90, c.P90), ratio(q.P99, c.P99), ratio(q.P999, c.P999), ratio(q.Max, c.Max))
				if example == "" && c.P50 > 0 {
					example = fmt.Sprintf("%s p50 is %s %s p50 for %s", pp.Name, ratio(q.P50, c.P50), cdc.Name, pa.Name)
				}
			}
		}
	}
	if example == "" {
		example = "2.0x means polling took twice as long as CDC"
	}
	howToRead(b, fmt.Sprintf("each cell is the polling path's e2e percentile divided by the %s path's, e.g. %s; above 1x polling is slower.", cdc.Name, example))
}

// writeCostTable shows what each path cost the database, per 1,000 transactions.
func writeCostTable(b *bytes.Buffer, res *result.Result) {
	measured := false
	for _, p := range res.Paths {
		measured = measured || p.DBCost != nil
	}
	if !measured {
		return
	}
	b.WriteString("### Database cost\n\nPer 1,000 transactions over the measured window:\n\n| path | agent queries | rows they returned | their exec ms | rows read from the table | commits | 8 kB blocks | WAL kB | server CPU s | max slot lag kB | problems |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range res.Paths {
		c := p.DBCost
		if c == nil || c.Per1000 == nil {
			why := ""
			if c != nil {
				why = cell(c.NotMeasured)
			}
			fmt.Fprintf(b, "| %s | not measured | | | | | | | | | %s |\n", p.Name, why)
			continue
		}
		k := c.Per1000
		lag := "–"
		if c.SlotLagBytesMax != nil {
			lag = cost(float64(*c.SlotLagBytesMax) / 1000)
		}
		problems := "–"
		if len(c.Problems) > 0 {
			problems = cell(strings.Join(c.Problems, "; "))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Name,
			optional(k.AgentStatements), optional(k.AgentRows), optional(k.AgentExecMs), cost(k.RowsRead),
			cost(k.XactCommit), cost(k.Blocks), cost(k.WALBytes/1000), optional(k.ServerCPUSeconds), lag, problems)
	}
	howToRead(b, "the price each path puts on PostgreSQL for the same workload: polling pays in queries, rows read and CPU, CDC in WAL kept for its slot; n/a means the server could not tell (no pg_stat_statements, or the server on another host).")
}

// maxReportQuery bounds a statement's text in the report; result.json
// keeps more of it.
const maxReportQuery = 300

// writeStatements lists, per path, the statements on the table that ran in
// the measured window and each WAL sender's command: what the path
// actually asks of the server, so that a cost can be traced to its query.
func writeStatements(b *bytes.Buffer, res *result.Result) {
	shown := false
	for _, p := range res.Paths {
		shown = shown || p.DBCost != nil && (len(p.DBCost.Statements) > 0 || hasSender(p.DBCost.Slots))
	}
	if !shown {
		return
	}
	b.WriteString("### Statements\n\nWhat each path sent the server over the measured window: the statements that mention the table (`pg_stat_statements`, text as the server normalised it) and each replication slot's WAL sender command:\n\n| path | kind | calls | rows | exec ms | statement |\n|---|---|---:|---:|---:|---|\n")
	for _, p := range res.Paths {
		c := p.DBCost
		if c == nil {
			continue
		}
		for _, s := range c.Statements {
			fmt.Fprintf(b, "| %s | %s | %d | %d | %s | %s |\n", p.Name, s.Class, s.Calls, s.Rows, cost(s.ExecMs), code(s.Query))
		}
		if c.StatementsLeftOut > 0 {
			fmt.Fprintf(b, "| %s | | | | | %d more, less called (result.json keeps %d) |\n", p.Name, c.StatementsLeftOut, result.MaxStatements)
		}
		for _, sl := range c.Slots {
			if sl.SenderCommand != "" {
				fmt.Fprintf(b, "| %s | WAL sender | – | – | – | %s |\n", p.Name, code(sl.SenderCommand))
			}
		}
	}
	howToRead(b, "read is the SELECTs a path polls with (a Spark job's schema query `WHERE $1=$2`, its max(id) and its partitioned reads; a poller's one SELECT), write the producer's INSERT/COPY (the same on every path), other the rest; constants appear as $1, $2. A CDC path sends no statements: its WAL sender streams the slot.")
}

func hasSender(slots []result.SlotCost) bool {
	for _, s := range slots {
		if s.SenderCommand != "" {
			return true
		}
	}
	return false
}

// code shows a statement in a table cell: on one line, cut at
// maxReportQuery characters, as code.
func code(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > maxReportQuery {
		q = string(r[:maxReportQuery]) + "…"
	}
	return "`" + strings.ReplaceAll(cell(q), "`", "'") + "`"
}

// cost formats a per-1,000-transactions figure, computed by dbcost at
// float precision: three significant decimals are all it carries.
func cost(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func optional(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return cost(*v)
}

func writeCharts(b *bytes.Buffer, r *run) {
	b.WriteString("### Charts\n\n")
	if !r.hasLog {
		fmt.Fprintf(b, "This directory has no %s, so the latency charts are left out.\n\n", result.HlogFile)
	}
	for _, c := range r.charts {
		fmt.Fprintf(b, "**%s**\n\n![%s](%s)\n", c.title, c.title, c.file)
		howToRead(b, c.read)
	}
}

// cell escapes free text (an error message, a reason) for a table cell,
// where a '|' would end the cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func howToRead(b *bytes.Buffer, s string) {
	fmt.Fprintf(b, "\n*How to read this:* %s\n\n", s)
}

// ms formats a latency from result.json: its value as it is (microsecond
// resolution), or a dash when there were no samples.
func ms(v float64, count int64) string {
	if count == 0 {
		return "–"
	}
	return plain(v)
}

// num formats a figure that result.json holds at finer than microsecond
// resolution (durations measured in ns): three decimals.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// plain formats a figure as result.json holds it, e.g. seconds of a schedule.
func plain(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// rate formats rows per second.
func rate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func ratio(poll, cdc float64) string {
	if cdc <= 0 {
		return "–"
	}
	return strconv.FormatFloat(poll/cdc, 'f', 1, 64) + "x"
}
