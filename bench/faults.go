package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/wait"
	"github.com/cdcbench/cdcbench/scenarios"
)

// faultTargets are the parts of a path a fault can hit.
type faultTargets struct {
	dsn    string
	driver driver.Driver
	srcs   []*agentSource
	agents []string
	kafka  stack.KafkaRestarter // nil when Kafka cannot be restarted
	stack  stack.Stack
	slot   string // the path's replication slot
	// duplicates counts the events the path's agents received again so far.
	duplicates func() int64
}

// faultRun is what injectFaults did: each fault's result and the path's
// duplicate count when it began (-1 for a fault that did not apply), from
// which attributeDuplicates works out each fault's duplicates.
type faultRun struct {
	results     []result.FaultResult
	dupsAtStart []int64
}

// injectFaults runs the plan's faults against the path, each at its time
// from start, and returns when all are over or ctx ends.
func injectFaults(ctx context.Context, faults []scenarios.FaultSpec, start time.Time, t faultTargets) faultRun {
	out := make([]result.FaultResult, len(faults))
	dups := make([]int64, len(faults))
	var wg sync.WaitGroup
	for i, f := range faults {
		out[i] = result.FaultResult{Kind: f.Kind, Agent: f.Agent, AtS: time.Duration(f.At).Seconds(), DurationS: time.Duration(f.Duration).Seconds()}
		dups[i] = -1
		wg.Add(1)
		go func() {
			defer wg.Done()
			if wait.Sleep(ctx, time.Until(start.Add(time.Duration(f.At)))) != nil {
				out[i].Skipped = "the path ended first"
				return
			}
			if t.duplicates != nil {
				dups[i] = t.duplicates()
			}
			skipped, err := inject(ctx, f, t, &out[i])
			out[i].Skipped = skipped
			if skipped != "" {
				dups[i] = -1
			}
			if err != nil && ctx.Err() == nil {
				out[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	return faultRun{results: out, dupsAtStart: dups}
}

// attributeDuplicates gives each fault that applied the duplicates
// delivered from its start until the next such fault's start, or until the
// path ended, when the path's count was total, and returns the results:
// duplicates arrive after the fault that caused them (a relay replays once
// it is back), so the window runs on past the fault's own end.
func (fr faultRun) attributeDuplicates(total int64) []result.FaultResult {
	var applied []int
	for i, d := range fr.dupsAtStart {
		if d >= 0 {
			applied = append(applied, i)
		}
	}
	sort.SliceStable(applied, func(a, b int) bool { return fr.results[applied[a]].AtS < fr.results[applied[b]].AtS })
	for k, i := range applied {
		next := total
		if k+1 < len(applied) {
			next = fr.dupsAtStart[applied[k+1]]
		}
		fr.results[i].Duplicates = next - fr.dupsAtStart[i]
	}
	return fr.results
}

// inject injects f into t's path; a cluster fault records in res what it
// hit.
func inject(ctx context.Context, f scenarios.FaultSpec, t faultTargets, res *result.FaultResult) (skipped string, err error) {
	d := time.Duration(f.Duration)
	switch f.Kind {
	case scenarios.FaultKillBroker, scenarios.FaultPauseBroker, scenarios.FaultKillConnectWorker:
		c, ok := t.stack.(stack.Cluster)
		if !ok {
			// Refused before the run on other stacks; a stack that is not
			// cdcbench's own is never hit.
			return "cdcbench does not kill processes it did not start: only the local stack's cluster takes " + f.Kind, nil
		}
		return clusterFault(ctx, f.Kind, d, c, t, res)
	case scenarios.FaultLockTable:
		return "", lockTable(ctx, t.dsn, d)
	case scenarios.FaultDropConnections:
		return "", dropConnections(ctx, t.dsn, d)
	case scenarios.FaultRestartKafka:
		if t.kafka == nil {
			return "only a Kafka cdcbench started can be restarted", nil
		}
		return "", t.kafka.RestartKafka(ctx, d)
	case scenarios.FaultKillConnect:
		w, ok := t.stack.(stack.ConnectWorker)
		if !ok {
			return "only the local stack's Kafka Connect worker can be killed", nil
		}
		if _, dbz := t.driver.(driver.Connector); !dbz {
			return "the path does not run through Kafka Connect", nil
		}
		return "", w.KillConnect(ctx, d)
	case scenarios.FaultPauseRelay:
		p, ok := t.driver.(driver.Pauser)
		if !ok {
			return "no relay on this path", nil
		}
		return "", p.Pause(d)
	case scenarios.FaultKillRelay:
		c, ok := t.driver.(driver.Crasher)
		if !ok {
			return "no relay on this path", nil
		}
		return "", c.Crash(ctx, d)
	case scenarios.FaultKillCapture:
		if c, ok := t.driver.(driver.Crasher); ok {
			return "", c.Crash(ctx, d)
		}
		w, ok := t.stack.(stack.ConnectWorker)
		if _, dbz := t.driver.(driver.Connector); dbz && ok {
			return "", w.KillConnect(ctx, d)
		}
		return "no capture process cdcbench started on this path", nil
	case scenarios.FaultKillAgent:
		var wg sync.WaitGroup
		errs := make([]error, len(t.srcs))
		for i, src := range t.srcs {
			if f.Agent == "" || f.Agent == t.agents[i] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = src.restart(ctx, d)
				}()
			}
		}
		wg.Wait()
		return "", errors.Join(errs...)
	}
	return "", fmt.Errorf("unknown fault %q", f.Kind)
}

// clusterFault kills or pauses a process of the local stack's cluster.
func clusterFault(ctx context.Context, kind string, d time.Duration, c stack.Cluster, t faultTargets, res *result.FaultResult) (skipped string, err error) {
	switch kind {
	case scenarios.FaultKillBroker:
		res.Node, err = c.KillLeader(ctx, stack.ChangeTopic, d)
	case scenarios.FaultPauseBroker:
		res.Node, err = c.PauseLeader(ctx, stack.ChangeTopic, d)
	case scenarios.FaultKillConnectWorker:
		conn, ok := t.driver.(driver.Connector)
		if !ok {
			return "the path does not run through Kafka Connect", nil
		}
		mv, err := c.KillTaskWorker(ctx, conn.ConnectorName(), t.slot, d)
		res.Node, res.TaskWorker = mv.Killed, mv.On
		if mv.RanAgainAfter > 0 {
			s := mv.RanAgainAfter.Seconds()
			res.TaskRanAgainAfterS = &s
		}
		return "", err
	}
	return "", err
}

// lockTable holds an ACCESS EXCLUSIVE lock on the table for d.
func lockTable(ctx context.Context, dsn string, d time.Duration) error {
	conn, err := stack.ConnectHarness(ctx, dsn)
	if err != nil {
		return fmt.Errorf("lock-table: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("lock-table: %w", err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE"); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("lock-table: %w", err)
	}
	_ = wait.Sleep(ctx, d) // ended early or not, the lock is released
	return tx.Commit(context.WithoutCancel(ctx))
}

// latencyTimeline keeps each interval's e2e p99 per agent, for recovery
// times: the interval log on disk has the full histograms.
type latencyTimeline struct {
	mu     sync.Mutex
	points []latencyPoint
}

type latencyPoint struct {
	end    time.Time
	p99    []float64 // ms by agent; -1 when the agent timed nothing
	alerts int64     // raised by all agents together
}

func (l *latencyTimeline) add(end time.Time, p99 []float64, alerts int64) {
	l.mu.Lock()
	l.points = append(l.points, latencyPoint{end: end, p99: p99, alerts: alerts})
	l.mu.Unlock()
}

// recovery fills in each fault's recovery time, peak and longest time
// without alerts from the timeline.
func (l *latencyTimeline) recovery(faults []result.FaultResult, start time.Time, objective time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	obj := ms(objective)
	for i := range faults {
		f := &faults[i]
		if f.Skipped != "" || f.Error != "" {
			continue
		}
		from := start.Add(time.Duration(f.AtS * float64(time.Second)))
		end := from.Add(time.Duration(f.DurationS * float64(time.Second)))
		var quiet, prev time.Time // quiet: the start of the run of intervals without alerts
		for _, p := range l.points {
			if p.end.Before(from) {
				prev = p.end
				continue
			}
			if p.alerts > 0 {
				quiet = time.Time{}
			} else {
				if quiet.IsZero() {
					quiet = from
					if prev.After(from) {
						quiet = prev
					}
				}
				f.NoAlertsS = max(f.NoAlertsS, p.end.Sub(quiet).Seconds())
			}
			prev = p.end
			worst := -1.0
			for _, v := range p.p99 {
				worst = max(worst, v)
			}
			f.PeakP99Ms = max(f.PeakP99Ms, worst)
			if !p.end.Before(end) && worst >= 0 && worst <= obj {
				after := p.end.Sub(end).Seconds()
				f.RecoveredAfterS = &after
				break
			}
		}
	}
}

// dropConnections terminates every other client backend and WAL sender of
// the database, again every 200 ms for d, so that reconnects made during
// the window are dropped too. It reports how many it ended.
func dropConnections(ctx context.Context, dsn string, d time.Duration) error {
	conn, err := stack.ConnectHarness(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop-connections: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	end := time.Now().Add(d)
	for {
		_, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND backend_type IN ('client backend', 'walsender')
			AND (datname = current_database() OR backend_type = 'walsender') AND application_name <> $1`, stack.HarnessApp)
		if err != nil {
			return fmt.Errorf("drop-connections: %w", err)
		}
		if time.Now().After(end) {
			return nil
		}
		if wait.Sleep(ctx, 200*time.Millisecond) != nil {
			return nil
		}
	}
}
