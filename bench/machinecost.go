package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// machineSampleEvery is how often the machine cost reads /proc during the
// window: often enough to catch a resident set's peak within half a
// second, rarely enough to cost the harness nothing measurable (a few file
// reads per component).
const machineSampleEvery = 500 * time.Millisecond

// part is one component of a path's machine cost: measured through pids,
// or inside cdcbench's process through cpu (its CPU so far), or, when
// both are nil, not, with cost.Note saying why. once marks pids found
// before the window and not looked for again.
type part struct {
	cost result.ComponentCost
	pids func() []int
	once bool
	cpu  func() time.Duration
}

// notFollowed completes the note of a part found once whose process
// exited.
const notFollowed = "replacements are not followed (server processes are found once, before the window, so that no harness query counts in db_cost)"

// machineResult is the figures of the measured parts over the window, and
// the meter that took them, for spans of it.
type machineResult struct {
	figures []proccost.Figures
	// inProcess is the CPU seconds of each part measured through cpu, in
	// the order of the parts.
	inProcess []float64
	seconds   float64
	meter     *proccost.Meter
	err       error
}

// machineParts lists the processes the path uses, in the order reports
// show them: the database's, the broker, Connect, the driver's own,
// cdcbench. It runs once
// the path is probed (its slot is streamed, its pollers are connected) and
// before the measured window: the database's processes are found by a
// query, which during the window would count as load in the database cost,
// so a backend that the server replaces mid-window (drop-connections,
// kill-relay) is not followed, and its figure says it is partial.
func (p *pathRun) machineParts(ctx context.Context) []part {
	parts := p.databaseParts(ctx)
	var procs []stack.Process
	if ps, ok := p.r.cfg.Stack.(stack.Processes); ok {
		procs = ps.Processes()
	}
	for _, pr := range p.traits.Processes {
		parts = append(parts, stackParts(procs, pr.Role, pr.Name)...)
	}
	if o, ok := p.drv.(driver.ProcessOwner); ok {
		for _, op := range o.OwnProcesses() {
			parts = append(parts, part{cost: result.ComponentCost{Name: op.Name, Role: result.RoleCapture}, pids: op.PIDs})
		}
	}
	self := part{cost: result.ComponentCost{Name: "cdcbench", Role: result.RoleHarness, Note: harnessNote(p.traits, procs)},
		pids: func() []int { return []int{os.Getpid()} }}
	parts = append(parts, self)
	if p.r.cfg.Live != nil {
		parts = append(parts, liveCost(p.r.cfg.Live.CPU))
	}
	return parts
}

// databaseParts finds the server processes the path uses: the WAL sender
// streaming its slot, when it has one, and the backends of the connections
// its agents opened themselves (pollers), by their application_name.
func (p *pathRun) databaseParts(ctx context.Context) []part {
	var parts []part
	var sender []*int32
	if err := queryColumn(ctx, p, &sender, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, p.slot); err != nil {
		return []part{notMeasured("wal sender", result.RoleDatabase, err.Error())}
	}
	if len(sender) > 0 {
		if sender[0] == nil {
			parts = append(parts, notMeasured("wal sender", result.RoleDatabase, "no WAL sender streamed slot "+p.slot+" when the window began"))
		} else {
			parts = append(parts, p.serverPart("wal sender", []int{int(*sender[0])}))
		}
	}
	var pollers []int32
	if err := queryColumn(ctx, p, &pollers, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, p.app); err != nil {
		return append(parts, notMeasured("poll backends", result.RoleDatabase, err.Error()))
	}
	if len(pollers) > 0 {
		pids := make([]int, len(pollers))
		for i, pid := range pollers {
			pids[i] = int(pid)
		}
		parts = append(parts, p.serverPart("poll backends", pids))
	}
	return parts
}

// queryColumn reads one column of every row of sql into dst, on the
// path's admin connection.
func queryColumn[T any](ctx context.Context, p *pathRun, dst *[]T, sql string, args ...any) error {
	rows, err := p.admin.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("find the path's server processes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("find the path's server processes: %w", err)
		}
		*dst = append(*dst, v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find the path's server processes: %w", err)
	}
	return nil
}

// serverPart measures server backends pids when the server is cdcbench's
// own on this machine and /proc shows them as its postmaster's children; a
// pid of a server elsewhere (another host, a container's PID namespace)
// names another process here, or none.
func (p *pathRun) serverPart(name string, pids []int) part {
	pm := p.r.cfg.Stack.ServerPID()
	if pm == 0 {
		return notMeasured(name, result.RoleDatabase, "server not on this machine (or not cdcbench's: an external DSN)")
	}
	for _, pid := range pids {
		if st, err := proccost.ReadStat(pid); err != nil || st.PPID != pm {
			return notMeasured(name, result.RoleDatabase, fmt.Sprintf("backend %d is not a child of postmaster %d in /proc", pid, pm))
		}
	}
	return part{cost: result.ComponentCost{Name: name, Role: result.RoleDatabase}, pids: proccost.Same(pids), once: true}
}

// stackParts are the stack's processes in role, each measured on its own
// (a cluster's broker-1..N), named name when the role has one: measured,
// in cdcbench's own process, or not this machine's.
func stackParts(procs []stack.Process, role, name string) []part {
	var parts []part
	for _, pr := range procs {
		n := cmp.Or(pr.Name, name)
		switch {
		case pr.Role != role:
		case pr.InProcess:
			parts = append(parts, part{cost: result.ComponentCost{Name: n, Role: role, Note: "in-process kfake: its cost is inside cdcbench's"}})
		default:
			parts = append(parts, part{cost: result.ComponentCost{Name: n, Role: role}, pids: pr.PIDs})
		}
	}
	if len(parts) == 0 {
		return []part{notMeasured(name, role, "not a process of this stack (external)")}
	}
	return parts
}

// inProcess reports whether the stack runs role inside cdcbench.
func inProcess(procs []stack.Process, role string) bool {
	for _, pr := range procs {
		if pr.Role == role {
			return pr.InProcess
		}
	}
	return false
}

// harnessNote says what cdcbench's own CPU holds on a path: what the
// path's kind says it does there (on a Debezium path the harness alone, so
// the relay's share is about cdcbench's CPU on the relay path minus on the
// Debezium path at the same load), and the broker the path uses when it
// runs inside cdcbench.
func harnessNote(t driver.Traits, procs []stack.Process) string {
	s := t.Harness
	for _, pr := range t.Processes {
		if pr.Role == result.RoleBroker && inProcess(procs, result.RoleBroker) {
			s += ", with the in-process kfake broker"
		}
	}
	return s
}

func notMeasured(name, role, why string) part {
	return part{cost: result.ComponentCost{Name: name, Role: role, Note: "not measured: " + why}}
}

// measureMachine samples the measured parts from the measured window's
// start to its end, or to when the run stopped early: the window of the
// database cost, so that the two sit side by side.
func measureMachine(ctx context.Context, parts []part, from, to time.Time, stopped <-chan struct{}) machineResult {
	select {
	case <-time.After(time.Until(from)):
	case <-stopped:
		return machineResult{err: errors.New("the run stopped before its measured window began")}
	case <-ctx.Done():
		return machineResult{err: ctx.Err()}
	}
	var comps []proccost.Component
	for _, pt := range parts {
		if pt.pids != nil {
			comps = append(comps, proccost.Component{Name: pt.cost.Name, PIDs: pt.pids})
		}
	}
	m, err := proccost.Start(comps)
	if err != nil {
		return machineResult{err: err}
	}
	var cpuBefore []time.Duration
	for _, pt := range parts {
		if pt.cpu != nil {
			cpuBefore = append(cpuBefore, pt.cpu())
		}
	}
	began := time.Now()
	tick := time.NewTicker(machineSampleEvery)
	defer tick.Stop()
	end := time.NewTimer(time.Until(to))
	defer end.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			m.Sample()
		case <-end.C:
			done = true
		case <-stopped:
			done = true
		case <-ctx.Done():
			return machineResult{err: ctx.Err()}
		}
	}
	m.Sample()
	var inProcess []float64
	for _, pt := range parts {
		if pt.cpu != nil {
			inProcess = append(inProcess, (pt.cpu() - cpuBefore[len(inProcess)]).Seconds())
		}
	}
	return machineResult{figures: m.Figures(), inProcess: inProcess, seconds: time.Since(began).Seconds(), meter: m}
}

// collectMachine adds what the path's processes cost the machine over the
// measured window, per 1,000 transactions, the window's as the database
// cost counts them.
func (p *pathRun) collectMachine(transactions int64) {
	c := <-p.machineDone
	p.machine = c
	if c.err != nil {
		p.res.MachineCost = &result.MachineCost{NotMeasured: c.err.Error()}
		return
	}
	mc := &result.MachineCost{Seconds: c.seconds, Transactions: transactions}
	figs, inProcess := c.figures, c.inProcess
	for _, pt := range p.parts {
		cc := pt.cost
		if pt.cpu != nil {
			cc = withCPU(cc, inProcess[0], mc.Transactions)
			inProcess = inProcess[1:]
		}
		if pt.pids != nil {
			cc = withFigures(cc, figs[0], mc.Transactions)
			if pt.once && figs[0].Partial != "" {
				cc.Note = joinNotes(cc.Note, notFollowed)
			}
			figs = figs[1:]
		}
		mc.Components = append(mc.Components, cc)
	}
	p.res.MachineCost = mc
}

// sliceCPU adds to each slice of the schedule the CPU its measured parts
// used, in cores: in a step climb it shows which component ran out of CPU
// first, which the window's totals average away. A slice needs two
// samples inside the measured window (the warm-up is not sampled).
func (p *pathRun) sliceCPU() {
	m := p.machine.meter
	if m == nil {
		return
	}
	var names []string
	for _, pt := range p.parts {
		if pt.pids != nil {
			names = append(names, pt.cost.Name)
		}
	}
	for i := range p.res.Slices {
		sl := &p.res.Slices[i]
		from := p.start.Add(time.Duration(sl.FromS * float64(time.Second)))
		to := p.start.Add(time.Duration(sl.ToS * float64(time.Second)))
		cpu, secs := m.Between(from, to)
		if secs <= 0 {
			continue
		}
		sl.CPUCores = map[string]float64{}
		for k, name := range names {
			sl.CPUCores[name] = cpu[k] / secs
		}
	}
}

// withFigures puts a measured part's figures into its cost.
func withFigures(cc result.ComponentCost, f proccost.Figures, transactions int64) result.ComponentCost {
	if f.Processes == 0 {
		cc.Note = joinNotes(cc.Note, "not measured: no process of it was running during the window")
		return cc
	}
	rss := f.PeakRSSBytes
	cc = withCPU(cc, f.CPUSeconds, transactions)
	cc.PeakRSSBytes, cc.Processes = &rss, f.Processes
	cc.Note = joinNotes(cc.Note, f.Partial)
	return cc
}

// withCPU puts a part's CPU seconds, and their share per 1,000
// transactions, into its cost.
func withCPU(cc result.ComponentCost, cpu float64, transactions int64) result.ComponentCost {
	cc.CPUSeconds = &cpu
	if transactions > 0 {
		per := cpu / (float64(transactions) / 1000)
		cc.CPUPer1000 = &per
	}
	return cc
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
