package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/dbcost"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/extagent"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/internal/wait"
	"github.com/cdcbench/cdcbench/producer"
)

// probeTimeout bounds the wait for the probe row: a consumer group's first
// join on a fresh broker takes a few seconds.
const probeTimeout = 60 * time.Second

// pathRun is one path of a run, from an empty table to its figures. Its
// phases are methods called in order by runPath — setup, attach, probe,
// produce, drain, collect — and what one phase starts is stopped, in
// reverse order, by the cleanups it registers.
type pathRun struct {
	r    *run
	plan *Plan
	spec driver.Path
	// traits are the path kind's, on this run's stack.
	traits driver.Traits
	drv    driver.Driver
	res    result.Path
	sets   pathSets

	admin    *pgx.Conn
	ctx      context.Context // the path's; cancelled when it ends
	cancel   context.CancelFunc
	errCh    chan error // components that stop on their own
	cleanups []func(context.Context) error

	runs   []*agentRun
	srcs   []*agentSource
	lastID atomic.Int64 // highest id generated so far
	prod   *producer.Producer
	orc    *oracle
	coll   *collector // external agents, when the plan has them
	cmds   *commands  // agent commands, when the plan has them
	tl     latencyTimeline

	since                         time.Time // the path's start: its Kafka records are newer
	start, measureFrom, measureTo time.Time // of the schedule and its measured window
	intendedInWindow              int64     // rows the schedule offered in the window
	committed                     *idSet    // rows whose commit was seen, once the producer stopped mid-schedule
	stats                         producer.Stats
	costDone                      chan costResult
	faultsDone                    chan faultRun

	// The machine cost: the path's slot and its pollers' application_name,
	// by which its server processes are found, the parts measured, their
	// figures.
	slot, app   string
	parts       []part
	machineDone chan machineResult
	machine     machineResult // once collected
}

// stoppedCleanup bounds a path's cleanup after Ctrl-C or the death of a
// process of the stack: the user is waiting (deleting a Debezium connector
// took 6 s under load). What is not removed by then is reported, and
// `cdcbench clean` removes it; on a private stack it goes with the stack.
const stoppedCleanup = 2 * time.Second

// runPath runs the workload through one path and returns its figures. The
// path's table, publication, slot, capture and agents are gone when it
// returns, whatever happened.
func (r *run) runPath(ctx context.Context, ps driver.Path) (res result.Path, sets pathSets, err error) {
	p := &pathRun{r: r, plan: &r.cfg.Plan, spec: ps, traits: driver.TraitsOf(ps, r.cfg.CDC.Kind), errCh: make(chan error, 8),
		sets: pathSets{path: ps.String()}}
	p.res = result.Path{Name: ps.String(), Kind: ps.Kind, Baseline: p.traits.Baseline}
	// A process of the stack that dies ends the path at once, whatever
	// phase it is in: its phases' waits end with the context.
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.onDeath(func(err error) { p.fail(err); cancel(err) })
	defer r.onDeath(nil)
	defer func() {
		if af := (agentFailure{}); errors.As(err, &af) && ctx.Err() == nil {
			// The user's agent ended the path: the path is invalid, and
			// the run goes on.
			p.res.InvalidReasons = append(p.res.InvalidReasons, af.Error())
			err = nil
		}
		// A cleanup failure is reported even when the path already failed:
		// a slot left behind retains WAL until someone drops it.
		cctx := context.WithoutCancel(ctx)
		if ctx.Err() != nil || r.died() != nil {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(cctx, stoppedCleanup)
			defer cancel()
		}
		err = errors.Join(err, p.cleanup(cctx))
		res, sets = p.res, p.sets
	}()
	for _, phase := range []func(context.Context) error{p.setup, p.attach, p.probe, p.produce, p.drain} {
		if err := phase(pctx); err != nil {
			if death := r.died(); death != nil {
				// The first reason: what followed (a lost connection, a
				// connector Connect cannot delete) is its consequence.
				err = death
			}
			p.keepMeasured()
			return p.res, p.sets, err
		}
	}
	p.collect()
	return p.res, p.sets, nil
}

// keepMeasured is collect for a path cut short after its producer started
// (a process of the stack died, Ctrl-C): the agents stop where they are,
// and their counts, histograms and alerts so far (judged on the rows whose
// commit was seen) go into the result with whatever cost figures could be
// taken. An interrupted run's result.json had its rows and no agents.
func (p *pathRun) keepMeasured() {
	if p.faultsDone == nil {
		return // nothing was produced
	}
	p.cancel()
	p.stopCommands()
	p.collectCost()
	p.collectMachine(p.committedIn(p.measureFrom, p.measureTo))
	p.stopAgents()
	p.res.Faults = (<-p.faultsDone).attributeDuplicates(duplicatesOf(p.runs))
	p.collect()
}

// onCleanup registers fn to run when the path ends, before those
// registered earlier.
func (p *pathRun) onCleanup(fn func(context.Context) error) {
	p.cleanups = append(p.cleanups, fn)
}

func (p *pathRun) cleanup(ctx context.Context) error {
	var errs []error
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, p.cleanups[i](ctx))
	}
	return errors.Join(errs...)
}

// fail reports a component that stopped on its own; the first one ends
// the path.
func (p *pathRun) fail(err error) {
	select {
	case p.errCh <- err:
	default:
	}
}

// failed returns a component's failure, if one was reported.
func (p *pathRun) failed() error {
	select {
	case err := <-p.errCh:
		return err
	default:
		return nil
	}
}

// setup gives the path a fresh table and starts its driver.
func (p *pathRun) setup(ctx context.Context) error {
	r := p.r
	p.since = time.Now()
	admin, err := stack.ConnectHarness(ctx, r.cfg.Stack.DSN())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	p.admin = admin
	p.onCleanup(func(ctx context.Context) error { return admin.Close(ctx) })
	pub := "cdcbench_" + r.id
	if err := table.Reset(ctx, admin, pub, r.cfg.DropExisting || r.createdTable); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	r.createdTable = true
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.onCleanup(func(context.Context) error { p.cancel(); return nil })

	if p.drv, err = driver.New(p.spec, r.driverConfig(p.spec)); err != nil {
		return err
	}
	p.res.LosesRows = losesRows(p.drv)
	p.slot, p.app = "cdcbench_"+r.id+"_"+p.spec.Ident(), "cdcbench-"+r.id+"-"+p.spec.String()
	env := driver.Env{Stack: r.cfg.Stack, Admin: admin, Publication: pub, Slot: p.slot, Application: p.app,
		Groups: p.app + "-", Since: p.since, KeyByUser: p.plan.KeyByUser, Fail: p.fail}
	if err := p.drv.Start(ctx, env); err != nil {
		return err
	}
	p.onCleanup(func(ctx context.Context) error {
		defer p.drv.Report(&p.res)
		if err := p.drv.Stop(ctx); err != nil {
			if errors.Is(err, stack.ErrGroupsLeft) {
				return fmt.Errorf("cleanup: %w", err)
			}
			return fmt.Errorf("cleanup (run `cdcbench clean --pg-dsn ...` if a cdcbench_ slot remains): %w", err)
		}
		return nil
	})
	return nil
}

// attach starts every agent's instances on the driver's sources and the
// producer they will be timed against.
func (p *pathRun) attach(ctx context.Context) error {
	plan := p.plan
	prod, err := producer.New(ctx, producer.Config{
		DSN: p.r.cfg.Stack.DSN(), Insert: plan.Insert, Schedule: plan.Schedule, Poisson: plan.Poisson,
		Workload: producer.WorkloadConfig{BatchSize: plan.BatchSize, Users: plan.Users, Conns: plan.Connections,
			FraudRate: plan.FraudRate, Seed: plan.Seed},
	})
	if err != nil {
		return err
	}
	p.prod = prod
	p.onCleanup(func(ctx context.Context) error { prod.Close(ctx); return nil })
	p.onCleanup(func(context.Context) error { p.stopAgents(); return nil })
	for _, name := range agents.Names {
		ar := newAgentRun(p.spec.String(), name, prod.Log(), plan, &p.lastID, p.r.publishAlert)
		src := &agentSource{fail: p.fail, open: func(ctx context.Context) (source.Source, error) { return p.drv.Open(ctx, name) }}
		for range plan.AgentInstances {
			det, err := agents.New(name, plan.Agents)
			if err != nil {
				return err
			}
			src.handlers = append(src.handlers, ar.handler(det))
		}
		p.runs = append(p.runs, ar)
		p.srcs = append(p.srcs, src)
		p.sets.agents = append(p.sets.agents, name)
		p.sets.sets = append(p.sets.sets, ar.set)
		if err := src.start(p.ctx); err != nil {
			return err
		}
	}
	// A group whose members are still joining would move partitions, and
	// the state that goes with them, once rows flow.
	for _, src := range p.srcs {
		src.assigned(ctx, plan.Partitions)
	}
	return p.startCommands(ctx)
}

// stopAgents ends the sources and waits for every verdict in flight.
func (p *pathRun) stopAgents() {
	p.cancel()
	for _, src := range p.srcs {
		src.stop()
	}
	for _, ar := range p.runs {
		ar.close()
	}
}

// probe sends one row that must make the whole trip before anything is
// measured, then starts the interval log and, for agents in other
// processes, the alert collector.
func (p *pathRun) probe(ctx context.Context) error {
	probeStart := time.Now()
	if err := table.InsertProbe(ctx, p.admin); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, ar := range p.runs {
		err := wait.Until(ctx, probeStart.Add(probeTimeout), 5*time.Millisecond, func() (bool, error) {
			return ar.probed(), p.failed()
		})
		if errors.Is(err, wait.ErrDeadline) {
			return fmt.Errorf("the probe row did not reach agent %s within %v: the path is not connected", ar.name, probeTimeout)
		}
		if err != nil {
			return err
		}
	}
	p.res.ProbeRoundTripMs = ms(time.Since(probeStart))
	p.startIntervals()
	p.r.logf("path %s: probe made the round trip in %.1f ms; producing for %v (+%v warm-up)", p.spec, p.res.ProbeRoundTripMs, p.plan.Duration, p.plan.Warmup)
	if names := p.collected(); len(names) > 0 {
		coll, err := startCollector(p.ctx, p.r.cfg.Stack.Brokers(), names, p.since)
		if err != nil {
			return err
		}
		p.coll = coll
		p.onCleanup(func(context.Context) error { coll.stop(); return nil })
	}
	return nil
}

// startIntervals writes the path's interval histograms every second until
// the path ends, then fills in the faults' recovery from them.
func (p *pathRun) startIntervals() {
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- logIntervals(p.r.intervals, p.spec.String(), p.sets.agents, p.sets.sets, &p.tl, p.r.cfg.Live, stop)
	}()
	p.onCleanup(func(context.Context) error {
		close(stop)
		err := <-done
		p.tl.recovery(p.res.Faults, p.start, p.plan.ObjectiveP99)
		return errors.Join(err, p.logCommandAlerts())
	})
}

// produce runs the schedule, with the database and machine cost samples and
// the faults beside it, until the producer is done, a component fails, or
// the producer is hopelessly behind its schedule.
func (p *pathRun) produce(ctx context.Context) error {
	plan := p.plan
	p.parts = p.machineParts(ctx)
	p.start = time.Now().Add(50 * time.Millisecond)
	p.measureFrom = p.start.Add(plan.Warmup)
	p.measureTo = p.measureFrom.Add(plan.Duration)
	p.startSampler(ctx)
	for _, ar := range p.runs {
		ar.startUs.Store(p.start.UnixMicro())
		ar.measureFromUs.Store(p.measureFrom.UnixMicro())
	}
	orc, err := newOracle(plan.Agents)
	if err != nil {
		return err
	}
	if p.cmds != nil {
		orc.truth = extagent.NewTruth()
	}
	p.orc = orc
	prodCtx, stopProd := context.WithCancel(p.ctx)
	defer stopProd()
	stopped := make(chan struct{}) // closed when the run is stopped early
	prodDone := p.startProducer(prodCtx)
	p.costDone = make(chan costResult, 1)
	go func() { p.costDone <- measureCost(p.ctx, p.r.cfg.Stack, p.measureFrom, p.measureTo, stopped) }()
	p.machineDone = make(chan machineResult, 1)
	go func() { p.machineDone <- measureMachine(p.ctx, p.parts, p.measureFrom, p.measureTo, stopped) }()
	p.faultsDone = make(chan faultRun, 1)
	go func() {
		kafka, _ := p.r.cfg.Stack.(stack.KafkaRestarter)
		p.faultsDone <- injectFaults(p.ctx, plan.Faults, p.start, faultTargets{dsn: p.r.cfg.Stack.DSN(), stack: p.r.cfg.Stack, slot: p.slot, driver: p.drv, srcs: p.srcs, agents: p.sets.agents, kafka: kafka,
			duplicates: func() int64 { return duplicatesOf(p.runs) }})
	}()
	early, err := p.waitProducer(prodDone, func() { stopProd(); close(stopped) })
	// What was produced is reported also when the producer stopped early.
	p.res.RowsProduced, p.res.Batches, p.res.FraudsInjected = p.stats.Rows, p.stats.Batches, p.stats.Frauds
	p.res.MaxScheduleLagMs = ms(p.stats.MaxLag)
	p.res.ProducerReconnects = p.stats.Reconnects
	if now := time.Now(); early != "" && now.Before(p.measureTo) {
		p.measureTo = now
	} else if early == "" && err != nil {
		return err
	}
	p.recordRates()
	if early != "" {
		p.res.InvalidReasons = append(p.res.InvalidReasons, fmt.Sprintf("%s; it achieved %.0f of %.0f rows/s", early, p.res.AchievedRowsPerS, p.res.TargetRowsPerS))
	} else if p.stats.MaxLag > plan.ScheduleTolerance {
		p.res.InvalidReasons = append(p.res.InvalidReasons, fmt.Sprintf("the producer fell %v behind its schedule (tolerance %v)", p.stats.MaxLag.Round(time.Millisecond), plan.ScheduleTolerance))
	}
	return nil
}

// startProducer runs the producer until its schedule ends or ctx does;
// the returned channel says how it ended.
func (p *pathRun) startProducer(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		p.stats, err = p.prod.Run(ctx, p.start, func(_ int64, rows []txn.Row) {
			p.orc.observe(rows)
			p.lastID.Store(rows[len(rows)-1].ID)
			p.res.Timeline = addTarget(p.res.Timeline, rows, p.start)
			if at := rows[0].CreatedAt; at >= p.measureFrom.UnixMicro() && at < p.measureTo.UnixMicro() {
				p.intendedInWindow += int64(len(rows))
			}
		})
		done <- err
	}()
	return done
}

// recordRates puts the measured window's offered and achieved rates and
// the per-second timeline into the result.
func (p *pathRun) recordRates() {
	secs := max(p.measureTo.Sub(p.measureFrom).Seconds(), 0)
	p.res.MeasuredSeconds = secs
	if secs > 0 {
		// Rows intended for after an early stop were never offered.
		p.res.TargetRowsPerS = float64(p.intendedInWindow) / p.plan.Duration.Seconds()
		p.res.AchievedRowsPerS = float64(p.committedIn(p.measureFrom, p.measureTo)) / secs
	}
	p.res.Timeline = addCommits(p.res.Timeline, p.prod.Log(), p.stats.Batches, p.plan.BatchSize, p.start)
}

// hopelessAfter is how long the producer may stay further behind its
// schedule than the tolerance before the run is stopped: by then it is
// invalid whatever follows, and a run that cannot catch up would otherwise
// go on for its whole duration (or forever, at --rate 1e12).
const hopelessAfter = 10 * time.Second

// waitProducer shows progress until the producer returns. It stops the
// path when a component fails, and calls stop and says why (early) when
// the producer stayed hopelessly behind.
func (p *pathRun) waitProducer(prodDone <-chan error, stop func()) (early string, err error) {
	every := 10 * time.Second
	if p.r.cfg.Terminal {
		every = time.Second
	}
	progress := time.NewTicker(every)
	defer progress.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	var behindSince time.Time
	for {
		select {
		case err := <-prodDone:
			return early, err
		case err := <-p.errCh:
			p.cancel()
			<-prodDone
			return "", err
		case <-progress.C:
			p.r.progress(progressLine(p.spec.String(), p.start, p.plan, p.prod.Log(), p.lastID.Load(), p.runs))
		case now := <-check.C:
			p.showRates(now)
			if p.prod.Behind() <= p.plan.ScheduleTolerance {
				behindSince = time.Time{}
				continue
			}
			if behindSince.IsZero() {
				behindSince = now
			}
			if early == "" && now.Sub(behindSince) >= hopelessAfter {
				early = fmt.Sprintf("stopped early, %v into the schedule: the producer stayed more than %v behind it for %v (now %v)",
					now.Sub(p.start).Round(time.Second), p.plan.ScheduleTolerance, hopelessAfter, p.prod.Behind().Round(time.Millisecond))
				p.r.logf("path %s: %s", p.spec, early)
				stop()
			}
		}
	}
}

// committedIn counts the path's rows whose commit was acknowledged within
// [from, to).
func (p *pathRun) committedIn(from, to time.Time) int64 {
	return committedIn(p.prod.Log(), p.stats.Batches, p.plan.BatchSize, from, to)
}

// drain waits until every row reached every agent and every external
// agent raised the alerts the oracle expects, or the drain timeout says
// what is missing; then it ends the agents.
func (p *pathRun) drain(ctx context.Context) error {
	drainStart := time.Now()
	p.r.logf("path %s: produced %d rows; draining", p.spec, p.stats.Rows)
	deadline := drainStart.Add(p.plan.DrainTimeout)
	err := wait.Until(ctx, deadline, 20*time.Millisecond, func() (bool, error) {
		for _, ar := range p.runs {
			if ar.events.Load() < p.stats.Rows {
				return false, p.failed()
			}
		}
		return true, nil
	})
	if err == nil && p.coll != nil {
		err = wait.Until(ctx, deadline, 50*time.Millisecond, func() (bool, error) {
			for _, n := range p.plan.ExternalAgents {
				if int64(p.coll.received(n)) < p.orc.expected[agentIndex(n)].len() {
					return false, nil
				}
			}
			return true, nil
		})
	}
	if err == nil {
		err = p.waitCommands(ctx, deadline)
	}
	if err != nil && !errors.Is(err, wait.ErrDeadline) {
		return err
	}
	p.res.DrainSeconds = time.Since(drainStart).Seconds()
	p.stopCommands()
	p.collectCost()
	p.collectMachine(p.committedIn(p.measureFrom, p.measureTo))
	p.stopAgents()
	p.res.Faults = (<-p.faultsDone).attributeDuplicates(duplicatesOf(p.runs))
	return nil
}

// collectCost adds what the path cost the database over the measured window.
func (p *pathRun) collectCost() {
	c := <-p.costDone
	if c.err != nil {
		p.res.DBCost = &dbcost.Cost{NotMeasured: c.err.Error()}
		return
	}
	cost := dbcost.Diff(c.before, c.after, p.committedIn(p.measureFrom, p.measureTo))
	p.res.DBCost = &cost
	for _, pr := range cost.Problems {
		p.res.InvalidReasons = append(p.res.InvalidReasons, "db cost: "+pr)
	}
}

// collect turns every agent's counts and histograms into the path's
// result and judges them.
func (p *pathRun) collect() {
	lossy := losesRows(p.drv)
	for i, ar := range p.runs {
		a := result.AgentResult{
			Name: ar.name, Events: ar.events.Load(), ExpectedEvents: p.stats.Rows,
			DuplicateEvents: ar.duplicates.Load(), BeforeCommitAck: ar.beforeCommit.Load(),
			Skipped: p.srcs[i].skipped(), E2E: ar.set.Summary(recorder.E2E), Stages: map[string]recorder.Summary{},
			PollStatements: p.srcs[i].statements(), PollReconnects: p.srcs[i].reconnects(),
		}
		if n := ar.foreign.Load(); n > 0 {
			// Rows this run did not write: another writer, a stray message
			// on a shared topic. Counted, not judged.
			a.Skipped["foreign_row"] = n
		}
		d := ar.alertDiff(p.expected(i), p.sent())
		a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts = d.Received, d.Expected, d.Missed, d.Unexpected
		for st := recorder.Stage(0); st < recorder.NumStages; st++ {
			if s := ar.set.Summary(st); s.Count > 0 || s.Negative > 0 || s.Overflow > 0 {
				a.Stages[st.String()] = s
			}
		}
		p.res.Agents = append(p.res.Agents, a)
		p.res.InvalidReasons = append(p.res.InvalidReasons, agentProblems(a, lossy)...)
	}
	if p.coll != nil {
		p.collectExternal()
	}
	p.collectCommands()
	p.res.Slices, p.res.Knee = slices(p.plan, p.start, p.prod.Log(), p.stats.Batches, p.runs)
	p.commandSlices()
	p.sliceCPU()
}

// sent returns, when the producer was stopped mid-schedule, the rows whose
// commit it saw, and nil otherwise. Alerts are compared on those rows only:
// the oracle also saw batches that were generated but never sent, and an
// agent may see a batch whose commit landed but was never acknowledged.
// Each user's rows go through one connection in order, so the rows sent
// come before every row that was not, and their alerts do not depend on
// them.
func (p *pathRun) sent() *idSet {
	if !p.stats.Interrupted {
		return nil
	}
	if p.committed == nil {
		p.committed = &idSet{}
		for b := range p.stats.Batches {
			if p.prod.Log().Commit(b) == 0 {
				continue
			}
			for id := producer.BatchIDs(b, p.plan.BatchSize); id < producer.BatchIDs(b+1, p.plan.BatchSize); id++ {
				p.committed.add(id)
			}
		}
	}
	return p.committed
}

// expected returns the alerts the oracle expects of agent k on the rows
// sent.
func (p *pathRun) expected(k int) *idSet {
	if sent := p.sent(); sent != nil {
		return p.orc.expected[k].and(sent)
	}
	return p.orc.expected[k]
}

// losesRows reports a driver that loses rows by design.
func losesRows(d driver.Driver) bool {
	lt, ok := d.(driver.LossTolerant)
	return ok && lt.LosesRows()
}

// collectExternal judges the alerts of agents in other processes.
func (p *pathRun) collectExternal() {
	expected := map[string]*idSet{}
	for _, n := range p.plan.ExternalAgents {
		expected[n] = p.expected(agentIndex(n))
	}
	p.res.ExternalAgents = p.coll.results(expected)
	for _, e := range p.res.ExternalAgents {
		if e.MissedAlerts > 0 || e.UnexpectedAlerts > 0 {
			p.res.InvalidReasons = append(p.res.InvalidReasons, fmt.Sprintf("external %s: %d of %d expected alerts missing, %d unexpected (instances: %v)",
				e.Name, e.MissedAlerts, e.ExpectedAlerts, e.UnexpectedAlerts, e.Instances))
		}
	}
}
