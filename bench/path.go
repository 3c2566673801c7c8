package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/dbcost"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
	"github.com/cdcbench/cdcbench/scenarios"
)

// probeTimeout bounds the wait for the probe row: a consumer group's first
// join on a fresh broker takes a few seconds.
const probeTimeout = 60 * time.Second

// runPath runs the workload through one path and returns its figures. The
// path's table, publication, slot, relay and agents are gone when it
// returns, whatever happened.
func (r *run) runPath(ctx context.Context, ps scenarios.Path) (res result.Path, sets pathSets, err error) {
	plan := &r.cfg.Plan
	res = result.Path{Name: ps.String(), Kind: ps.Kind}
	if ps.Kind == scenarios.PathPoll {
		res.PollMode = plan.PollMode
	}
	sets.path = ps.String()
	st := r.cfg.Stack

	pathStart := time.Now()
	admin, err := connectHarness(ctx, st.DSN())
	if err != nil {
		return res, sets, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	pub := "cdcbench_" + r.id
	if err := resetTable(ctx, admin, pub, r.cfg.DropExisting || r.createdTable); err != nil {
		return res, sets, err
	}
	r.createdTable = true

	pctx, stopPath := context.WithCancel(ctx)
	defer stopPath()
	errCh := make(chan error, 8)
	fail := func(err error) {
		select {
		case errCh <- err:
		default:
		}
	}

	var cdc capture
	if ps.Kind == scenarios.PathCDC {
		slot := "cdcbench_" + r.id + "_cdc"
		if r.cfg.CDC.Kind == CDCDebezium {
			cdc, err = startDebezium(ctx, st, admin, r.cfg.CDC, "cdcbench-"+r.id, pub, slot, plan.KeyByUser)
		} else {
			cdc, err = startCDC(ctx, st, admin, pub, slot, plan.KeyByUser, fail)
		}
		if err != nil {
			return res, sets, err
		}
		defer func() {
			cctx := context.WithoutCancel(ctx)
			// A cleanup failure is reported even when the path already
			// failed: a slot left behind retains WAL until someone drops it.
			if serr := errors.Join(cdc.stop(cctx), stack.DeleteGroups(cctx, st.Brokers(), "cdcbench-"+r.id+"-")); serr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup (run `cdcbench clean --pg-dsn ...` if a cdcbench_ slot remains): %w", serr))
			}
			res.RelayEvents = cdc.relayEvents()
			res.RelayRestarts = cdc.relayRestarts()
		}()
	}

	// Agents.
	var runs []*agentRun
	var srcs []*agentSource
	var lastID atomic.Int64 // highest id generated so far
	for _, name := range agents.Names {
		name := name
		ar := newAgentRun(ps.String(), name, nil, plan.BatchSize, plan.AgentDelay, r.publishAlert)
		ar.plan = plan
		ar.lastID = &lastID
		for range plan.Slices {
			ar.slices = append(ar.slices, recorder.NewSingle())
		}
		src := &agentSource{fail: fail, open: func(ctx context.Context) (source.Source, error) {
			if ps.Kind == scenarios.PathCDC {
				return source.NewKafka(source.KafkaConfig{Brokers: st.Brokers(), Topic: stack.ChangeTopic,
					Group: "cdcbench-" + r.id + "-" + ps.String() + "-" + name, Since: pathStart})
			}
			return source.NewPoll(ctx, source.PollConfig{DSN: st.DSN(), Interval: ps.Interval, Mode: plan.PollMode,
				Limit: plan.PollLimit, FirstID: producer.ProbeID})
		}}
		for range plan.AgentInstances {
			det, err := agents.New(name, plan.Agents)
			if err != nil {
				return res, sets, err
			}
			src.handlers = append(src.handlers, ar.handler(det))
		}
		runs = append(runs, ar)
		srcs = append(srcs, src)
		sets.agents = append(sets.agents, name)
		sets.sets = append(sets.sets, ar.set)
	}
	prod, err := producer.New(ctx, producer.Config{
		DSN: st.DSN(), Insert: plan.Insert, Schedule: plan.Schedule, Poisson: plan.Poisson,
		Workload: producer.WorkloadConfig{BatchSize: plan.BatchSize, Users: plan.Users, Conns: plan.Connections,
			FraudRate: plan.FraudRate, Seed: plan.Seed},
	})
	if err != nil {
		return res, sets, err
	}
	defer prod.Close(context.WithoutCancel(ctx))
	stopAgents := func() {
		stopPath()
		for _, src := range srcs {
			src.stop()
		}
		for _, ar := range runs {
			ar.close()
		}
	}
	defer stopAgents()
	for i, ar := range runs {
		ar.log = prod.Log()
		if err := srcs[i].start(pctx); err != nil {
			return res, sets, err
		}
	}

	// A group whose members are still joining would move partitions, and
	// the state that goes with them, once rows flow.
	for _, src := range srcs {
		src.assigned(ctx, plan.Partitions)
	}

	// Probe: one row must make the whole trip before anything is measured.
	probeStart := time.Now()
	if err := insertProbe(ctx, admin); err != nil {
		return res, sets, err
	}
	for _, ar := range runs {
		select {
		case <-ar.probe:
		case err := <-errCh:
			return res, sets, err
		case <-ctx.Done():
			return res, sets, ctx.Err()
		case <-time.After(probeTimeout - time.Since(probeStart)):
			return res, sets, fmt.Errorf("the probe row did not reach agent %s within %v: the path is not connected", ar.name, probeTimeout)
		}
	}
	res.ProbeRoundTripMs = ms(time.Since(probeStart))
	stopIntervals := make(chan struct{})
	intervalsDone := make(chan error, 1)
	var tl latencyTimeline
	go func() {
		intervalsDone <- logIntervals(r.intervals, ps.String(), sets.agents, sets.sets, &tl, stopIntervals)
	}()
	var start time.Time // of the schedule, set below
	defer func() {
		close(stopIntervals)
		if ierr := <-intervalsDone; ierr != nil && err == nil {
			err = ierr
		}
		tl.recovery(res.Faults, start, plan.ObjectiveP99)
	}()
	r.logf("path %s: probe made the round trip in %.1f ms; producing for %v (+%v warm-up)", ps.String(), res.ProbeRoundTripMs, plan.Duration, plan.Warmup)

	var coll *collector
	if ps.Kind == scenarios.PathCDC && len(plan.ExternalAgents) > 0 {
		if coll, err = startCollector(pctx, st.Brokers(), plan.ExternalAgents, pathStart); err != nil {
			return res, sets, err
		}
		defer coll.stop()
	}

	// Workload.
	orc, err := newOracle(plan.Agents)
	if err != nil {
		return res, sets, err
	}
	start = time.Now().Add(50 * time.Millisecond)
	measureFrom := start.Add(plan.Warmup)
	measureTo := measureFrom.Add(plan.Duration)
	for _, ar := range runs {
		ar.startUs.Store(start.UnixMicro())
		ar.measureFromUs.Store(measureFrom.UnixMicro())
	}
	var intendedInWindow int64
	var timeline []result.RatePoint
	prodDone := make(chan struct{})
	var pst producer.Stats
	var perr error
	go func() {
		defer close(prodDone)
		pst, perr = prod.Run(pctx, start, func(_ int64, rows []txn.Row) {
			orc.observe(rows)
			lastID.Store(rows[len(rows)-1].ID)
			sec := int((rows[0].CreatedAt - start.UnixMicro()) / 1e6)
			for len(timeline) <= sec {
				timeline = append(timeline, result.RatePoint{Second: len(timeline)})
			}
			timeline[sec].Target += int64(len(rows))
			if at := rows[0].CreatedAt; at >= measureFrom.UnixMicro() && at < measureTo.UnixMicro() {
				intendedInWindow += int64(len(rows))
			}
		})
	}()
	costDone := make(chan costResult, 1)
	go func() { costDone <- measureCost(pctx, st, measureFrom, measureTo) }()
	faultsDone := make(chan []result.FaultResult, 1)
	go func() {
		kafka, _ := st.(stack.KafkaRestarter)
		faultsDone <- injectFaults(pctx, plan.Faults, start, faultTargets{dsn: st.DSN(), cdc: cdc, srcs: srcs, agents: sets.agents, kafka: kafka})
	}()
	every := 10 * time.Second
	if r.cfg.Terminal {
		every = time.Second
	}
	progress := time.NewTicker(every)
	defer progress.Stop()
wait:
	for {
		select {
		case <-prodDone:
			break wait
		case err := <-errCh:
			stopPath()
			<-prodDone
			return res, sets, err
		case <-progress.C:
			r.progress(progressLine(ps.String(), start, plan, prod.Log(), lastID.Load(), runs))
		}
	}
	if perr != nil {
		return res, sets, perr
	}
	res.RowsProduced, res.Batches, res.FraudsInjected = pst.Rows, pst.Batches, pst.Frauds
	res.MaxScheduleLagMs = ms(pst.MaxLag)
	res.ProducerReconnects = pst.Reconnects
	res.MeasuredSeconds = plan.Duration.Seconds()
	res.TargetRowsPerS = float64(intendedInWindow) / plan.Duration.Seconds()
	res.AchievedRowsPerS = float64(committedIn(prod.Log(), pst.Batches, plan.BatchSize, measureFrom, measureTo)) / plan.Duration.Seconds()
	res.Timeline = addCommits(timeline, prod.Log(), pst.Batches, plan.BatchSize, start)
	if pst.MaxLag > plan.ScheduleTolerance {
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf("the producer fell %v behind its schedule (tolerance %v)", pst.MaxLag.Round(time.Millisecond), plan.ScheduleTolerance))
	}

	// Drain: every row must reach every agent, or the timeout says what is missing.
	drainStart := time.Now()
	r.logf("path %s: produced %d rows; draining", ps.String(), pst.Rows)
	deadline := time.After(plan.DrainTimeout)
drain:
	for {
		done := true
		for _, ar := range runs {
			if ar.events.Load() < pst.Rows {
				done = false
			}
		}
		if done {
			break
		}
		select {
		case err := <-errCh:
			return res, sets, err
		case <-ctx.Done():
			return res, sets, ctx.Err()
		case <-deadline:
			break drain
		case <-time.After(20 * time.Millisecond):
		}
	}
	if coll != nil {
		// External agents: wait, within the same deadline, until each has
		// raised the alerts the oracle expects.
	external:
		for {
			done := true
			for _, n := range plan.ExternalAgents {
				if coll.received(n) < len(orc.expected[agentIndex(n)]) {
					done = false
				}
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return res, sets, ctx.Err()
			case <-deadline:
				break external
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	if c := <-costDone; c.err != nil {
		res.InvalidReasons = append(res.InvalidReasons, "db cost: "+c.err.Error())
	} else {
		cost := dbcost.Diff(c.before, c.after, committedIn(prod.Log(), pst.Batches, plan.BatchSize, measureFrom, measureTo))
		res.DBCost = &cost
		for _, p := range cost.Problems {
			res.InvalidReasons = append(res.InvalidReasons, "db cost: "+p)
		}
	}
	stopAgents()
	res.Faults = <-faultsDone

	for i, ar := range runs {
		a := result.AgentResult{
			Name: ar.name, Events: ar.events.Load(), ExpectedEvents: pst.Rows,
			DuplicateEvents: ar.duplicates.Load(), BeforeCommitAck: ar.beforeCommit.Load(),
			Skipped: srcs[i].skipped(), E2E: ar.set.Summary(recorder.E2E), Stages: map[string]recorder.Summary{},
			PollStatements: srcs[i].statements(),
		}
		if n := ar.foreign.Load(); n > 0 {
			// Rows this run did not write: another writer, a stray message
			// on a shared topic. Counted, not judged.
			a.Skipped["foreign_row"] = n
		}
		d := diffAlerts(orc.expected[i], ar.alertIDs())
		a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts = d.Received, d.Expected, d.Missed, d.Unexpected
		for st := recorder.Stage(0); st < recorder.NumStages; st++ {
			if s := ar.set.Summary(st); s.Count > 0 || s.Negative > 0 || s.Overflow > 0 {
				a.Stages[st.String()] = s
			}
		}
		res.Agents = append(res.Agents, a)
		res.InvalidReasons = append(res.InvalidReasons, agentProblems(a, ps, plan.PollMode)...)
	}
	if coll != nil {
		expected := map[string][]int64{}
		for k, n := range agents.Names {
			expected[n] = orc.expected[k]
		}
		res.ExternalAgents = coll.results(expected)
		for _, e := range res.ExternalAgents {
			if e.MissedAlerts > 0 || e.UnexpectedAlerts > 0 {
				res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf("external %s: %d of %d expected alerts missing, %d unexpected (instances: %v)",
					e.Name, e.MissedAlerts, e.ExpectedAlerts, e.UnexpectedAlerts, e.Instances))
			}
		}
	}
	res.Slices, res.Knee = slices(plan, start, prod.Log(), pst.Batches, runs)
	return res, sets, nil
}

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

// knee returns the highest offered rate among the slices whose every agent
// met the p99 objective, and the lowest-rate slice that missed it above.
func knee(sl []result.SliceResult, objective time.Duration) *result.Knee {
	obj := ms(objective)
	var k *result.Knee
	for i := range sl {
		worst, measured := 0.0, false
		for _, s := range sl[i].E2E {
			if s.Count > 0 {
				measured = true
				worst = max(worst, s.P99)
			}
		}
		if !measured || worst > obj {
			continue
		}
		if k == nil || sl[i].TargetRowsPerS > k.TargetRowsPerS {
			k = &result.Knee{ObjectiveP99Ms: obj, TargetRowsPerS: sl[i].TargetRowsPerS, AchievedRowsPerS: sl[i].AchievedRowsPerS, P99Ms: worst}
		}
	}
	if k == nil {
		return nil
	}
	for i := range sl {
		for _, s := range sl[i].E2E {
			if s.Count > 0 && s.P99 > obj && sl[i].TargetRowsPerS > k.TargetRowsPerS &&
				(k.FirstMiss == nil || sl[i].TargetRowsPerS < k.FirstMiss.TargetRowsPerS) {
				k.FirstMiss = &sl[i]
			}
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

// agentProblems lists what makes an agent's figures untrustworthy.
func agentProblems(a result.AgentResult, ps scenarios.Path, pollMode string) []string {
	var why []string
	if missing := a.ExpectedEvents - a.Events; missing > 0 {
		if ps.Kind == scenarios.PathPoll && pollMode == source.PollNaive {
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
	batches := produced / int64(plan.BatchSize)
	// Commits of the last second, scanning back over batches sent in the
	// last few seconds (those not sent yet have no times).
	var lastSecond int64
	since := time.Now().Add(-time.Second).UnixNano()
	for b := batches - 1; b >= 0; b-- {
		if sent := log.Send(b); sent != 0 && sent < since-int64(5*time.Second) {
			break
		}
		if log.Commit(b) >= since {
			lastSecond += int64(plan.BatchSize)
		}
	}
	slowest := produced
	p99s := ""
	for _, ar := range runs {
		slowest = min(slowest, ar.events.Load())
		p99s += fmt.Sprintf(" %s %.1f", ar.name, ar.set.Summary(recorder.E2E).P99)
	}
	return fmt.Sprintf("%s %s %v/%v | rows/s target %.0f achieved %d | backlog %d | p99 ms%s",
		path, phase, el.Round(time.Second), plan.Warmup+plan.Duration,
		plan.Schedule.Rate(el)*float64(plan.BatchSize), lastSecond, produced-slowest, p99s)
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
func measureCost(ctx context.Context, st stack.Stack, from, to time.Time) costResult {
	conn, err := connectHarness(ctx, st.DSN())
	if err != nil {
		return costResult{err: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := dbcost.NewSampler(ctx, conn, st.ServerPID())
	if err != nil {
		return costResult{err: err}
	}
	var r costResult
	for i, at := range []time.Time{from, to} {
		select {
		case <-time.After(time.Until(at)):
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
