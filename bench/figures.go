package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/dbcost"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
)

// slices reports each slice of the schedule, its offered rate from the
// schedule itself and its achieved rate from the commit log, and finds the
// knee.
func slices(plan *Plan, start time.Time, log *producer.BatchLog, batches int64, runs []*agentRun) ([]result.SliceResult, *result.Knee) {
	if len(plan.Slices) == 0 {
		return nil, nil
	}
	var out []result.SliceResult
	for i, sl := range plan.Slices {
		secs := (sl.To - sl.From).Seconds()
		r := result.SliceResult{
			FromS: sl.From.Seconds(), ToS: sl.To.Seconds(), E2E: map[string]recorder.Summary{},
			TargetRowsPerS:   (plan.Schedule.Cumulative(sl.To) - plan.Schedule.Cumulative(sl.From)) * float64(plan.BatchSize) / secs,
			AchievedRowsPerS: float64(committedIn(log, batches, plan.BatchSize, start.Add(sl.From), start.Add(sl.To))) / secs,
		}
		for _, ar := range runs {
			r.E2E[ar.name] = ar.slices[i].Summary()
		}
		out = append(out, r)
	}
	return out, knee(out, plan.ObjectiveP99)
}

// knee finds the highest offered rate the path sustained: every slice at
// that rate and at every lower one met the objective (each agent's e2e
// p99). FirstMiss is the lowest rate above it that missed. MetAgain lists
// the rates above that first miss whose slices met the objective again: a
// miss later rates do not repeat may be a transient (a pause, a neighbour
// on a shared machine), which a reader should know before trusting the
// knee, and which taking the highest rate that met would hide.
func knee(sl []result.SliceResult, objective time.Duration) *result.Knee {
	obj := ms(objective)
	worst := map[float64]int{} // rate -> its slice with the worst p99
	p99 := make([]float64, len(sl))
	for i := range sl {
		measured := false
		for _, s := range sl[i].E2E {
			if s.Count > 0 {
				measured = true
				p99[i] = max(p99[i], s.P99)
			}
		}
		if j, seen := worst[sl[i].TargetRowsPerS]; measured && (!seen || p99[i] > p99[j]) {
			worst[sl[i].TargetRowsPerS] = i
		}
	}
	rates := make([]float64, 0, len(worst))
	for r := range worst {
		rates = append(rates, r)
	}
	sort.Float64s(rates)
	var k *result.Knee
	for _, rate := range rates {
		i := worst[rate]
		switch missed := p99[i] > obj; {
		case missed && k == nil:
			return nil // the lowest rate already missed
		case missed && k.FirstMiss == nil:
			k.FirstMiss = &sl[i]
		case missed:
		case k != nil && k.FirstMiss != nil:
			k.MetAgain = append(k.MetAgain, rate)
		default:
			k = &result.Knee{ObjectiveP99Ms: obj, TargetRowsPerS: rate, AchievedRowsPerS: sl[i].AchievedRowsPerS, P99Ms: p99[i]}
		}
	}
	return k
}

// agentIndex returns name's position in agents.Names.
func agentIndex(name string) int {
	for i, n := range agents.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// agentProblems lists what makes an agent's figures untrustworthy; lossy
// says the path loses rows by design (naive polling).
func agentProblems(a result.AgentResult, lossy bool) []string {
	var why []string
	if missing := a.ExpectedEvents - a.Events; missing > 0 {
		if lossy {
			// Losing rows is what naive polling does; it is the finding, not
			// a harness failure, and the report shows it as lost rows.
			return why
		}
		why = append(why, fmt.Sprintf("%s: %d of %d rows never arrived", a.Name, missing, a.ExpectedEvents))
	}
	if a.MissedAlerts > 0 {
		why = append(why, fmt.Sprintf("%s: %d of %d expected alerts missing", a.Name, a.MissedAlerts, a.ExpectedAlerts))
	}
	if a.UnexpectedAlerts > 0 {
		why = append(why, fmt.Sprintf("%s: %d alerts the oracle did not expect", a.Name, a.UnexpectedAlerts))
	}
	if a.E2E.Overflow > 0 || a.E2E.Negative > 0 {
		why = append(why, fmt.Sprintf("%s: %d e2e samples overflowed the histogram and %d were negative", a.Name, a.E2E.Overflow, a.E2E.Negative))
	}
	return why
}

// committedIn counts rows whose commit was acknowledged within [from, to).
func committedIn(log *producer.BatchLog, batches int64, batchSize int, from, to time.Time) int64 {
	var n int64
	f, t := from.UnixNano(), to.UnixNano()
	for b := int64(0); b < batches; b++ {
		if c := log.Commit(b); c >= f && c < t {
			n += int64(batchSize)
		}
	}
	return n
}

// addTarget counts a batch into the second of the schedule its intended
// send time falls in.
func addTarget(tl []result.RatePoint, rows []txn.Row, start time.Time) []result.RatePoint {
	sec := int((rows[0].CreatedAt - start.UnixMicro()) / 1e6)
	for len(tl) <= sec {
		tl = append(tl, result.RatePoint{Second: len(tl)})
	}
	tl[sec].Target += int64(len(rows))
	return tl
}

// addCommits counts each second's acknowledged commits into the timeline.
func addCommits(tl []result.RatePoint, log *producer.BatchLog, batches int64, batchSize int, start time.Time) []result.RatePoint {
	for b := int64(0); b < batches; b++ {
		c := log.Commit(b)
		if c == 0 {
			continue
		}
		sec := int((c - start.UnixNano()) / int64(time.Second))
		if sec < 0 {
			sec = 0
		}
		for len(tl) <= sec {
			tl = append(tl, result.RatePoint{Second: len(tl)})
		}
		tl[sec].Committed += int64(batchSize)
	}
	return tl
}

// progressLine says where a path is: phase, elapsed of total, target and
// achieved rate over the last second, the rows produced but not yet seen by
// the slowest agent, and each agent's e2e p99 so far.
func progressLine(path string, start time.Time, plan *Plan, log *producer.BatchLog, lastID int64, runs []*agentRun) string {
	el := time.Since(start)
	phase := "measuring"
	if el < plan.Warmup {
		phase = "warm-up"
	}
	produced := max(lastID-producer.FirstID+1, 0)
	lastSecond := committedLastSecond(log, lastID, plan.BatchSize, time.Now())
	slowest := produced
	p99s := ""
	for _, ar := range runs {
		slowest = min(slowest, ar.events.Load())
		p99s += fmt.Sprintf(" %s %.1f", ar.name, ar.set.Summary(recorder.E2E).P99)
	}
	return fmt.Sprintf("%s %s %v/%v | rows/s now: target %.0f, committed in the last second %d | backlog %d | p99 ms%s",
		path, phase, el.Round(time.Second), plan.Warmup+plan.Duration,
		plan.Schedule.Rate(el)*float64(plan.BatchSize), lastSecond, produced-slowest, p99s)
}

// committedLastSecond counts the rows whose commit was acknowledged in
// the second before now, scanning back over the batches up to lastID sent
// in the last few seconds (those not sent yet have no times).
func committedLastSecond(log *producer.BatchLog, lastID int64, batchSize int, now time.Time) int64 {
	batches := max(lastID-producer.FirstID+1, 0) / int64(batchSize)
	var n int64
	since := now.Add(-time.Second).UnixNano()
	for b := batches - 1; b >= 0; b-- {
		if sent := log.Send(b); sent != 0 && sent < since-int64(5*time.Second) {
			break
		}
		if c := log.Commit(b); c >= since && c < now.UnixNano() {
			n += int64(batchSize)
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// costResult is the database's counters around the measured window.
type costResult struct {
	before, after dbcost.Sample
	err           error
}

// measureCost samples the database at the start and the end of the
// measured window, on a connection of its own, so each path's database cost
// covers the same span as its latency figures.
func measureCost(ctx context.Context, st stack.Stack, from, to time.Time, stopped <-chan struct{}) costResult {
	s, err := dbcost.Dial(ctx, func(ctx context.Context) (*pgx.Conn, error) { return stack.ConnectHarness(ctx, st.DSN()) }, st.ServerPID())
	if err != nil {
		return costResult{err: err}
	}
	defer s.Close(context.WithoutCancel(ctx))
	var r costResult
	for i, at := range []time.Time{from, to} {
		select {
		case <-time.After(time.Until(at)):
		case <-stopped: // the run stopped early: the window ends now
			if i == 0 {
				return costResult{err: errors.New("the run stopped before its measured window began")}
			}
		case <-ctx.Done():
			return costResult{err: ctx.Err()}
		}
		smp, err := s.Take(ctx)
		if err != nil {
			return costResult{err: err}
		}
		if i == 0 {
			r.before = smp
		} else {
			r.after = smp
		}
	}
	return r
}
