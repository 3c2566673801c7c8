package bench

import (
	"context"
	"strconv"
	"time"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/metrics"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// sources are what a path is sampled from: the exporters of the stack's
// processes the path runs on (the broker, Connect), then the user's own
// (--metrics-url, named external-1, external-2, ...); and the processes
// whose threads' CPU is read: the stack's JVMs the path runs on and the
// driver's own (Spark's JVM).
func (p *pathRun) sources() ([]metrics.Target, []metrics.Process) {
	var targets []metrics.Target
	var procs []metrics.Process
	if ps, ok := p.r.cfg.Stack.(stack.Processes); ok {
		all := ps.Processes()
		for _, used := range p.traits.Processes {
			for _, pr := range all {
				if pr.Role != used.Role || pr.InProcess {
					continue
				}
				// On a cluster each node is a source of its own
				// ("broker-2.", "connect-1."): the report's signals match
				// any source.
				name := pr.Role
				if pr.Name != "" {
					name = pr.Name
				}
				if pr.MetricsURL != "" {
					targets = append(targets, metrics.Target{Name: name, URL: pr.MetricsURL})
				}
				if pr.PIDs != nil {
					procs = append(procs, metrics.Process{Name: name, PIDs: pr.PIDs})
				}
			}
		}
	}
	for i, u := range p.r.cfg.MetricsURLs {
		targets = append(targets, metrics.Target{Name: "external-" + strconv.Itoa(i+1), URL: u})
	}
	if o, ok := p.drv.(driver.ProcessOwner); ok {
		for _, op := range o.OwnProcesses() {
			procs = append(procs, metrics.Process{Name: op.Name, PIDs: op.PIDs})
		}
	}
	return targets, procs
}

// startSampler samples the path's own signals once a second from the
// schedule's start (the series' second 0, as the timeline's) until the
// path ends; its series and its CPU go into the result then. A sampler
// that cannot start leaves the path without metrics and says why in the
// log: the latency is measured all the same.
func (p *pathRun) startSampler(ctx context.Context) {
	targets, procs := p.sources()
	cfg := metrics.Config{Targets: targets, Processes: procs, Origin: p.start}
	if db, err := stack.ConnectHarness(ctx, p.r.cfg.Stack.DSN()); err != nil {
		p.r.logf("path %s: metrics: no slot WAL series: %v", p.spec, err)
	} else {
		cfg.DB, cfg.Slot = db, p.slot
		p.onCleanup(func(ctx context.Context) error { return db.Close(ctx) })
	}
	if p.traits.Publishes {
		cfg.Brokers = p.r.cfg.Stack.Brokers()
		for _, a := range agents.Names {
			cfg.Groups = append(cfg.Groups, metrics.Group{Name: p.app + "-" + a, Label: a})
		}
	}
	if on := p.r.cfg.OnMetrics; on != nil {
		path := p.spec.String()
		cfg.OnSample = func(t time.Time, s []metrics.Sample) { on(path, t, s) }
	}
	s, err := metrics.New(cfg)
	if err != nil {
		p.r.logf("path %s: %v", p.spec, err)
		return
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	began := time.Now()
	go func() { defer close(done); s.Run(sctx) }()
	p.onCleanup(func(context.Context) error {
		stop()
		<-done
		p.res.Metrics = s.Series()
		for _, e := range s.Errors() {
			p.r.logf("path %s: metrics: %s", p.spec, e)
		}
		p.addSamplerCost(s.CPU(), time.Since(began))
		return nil
	})
}

// addSamplerCost adds the sampler's own CPU to the machine cost, beside
// cdcbench's (which includes it): what watching the pipeline cost.
func (p *pathRun) addSamplerCost(cpu, over time.Duration) {
	if mc := p.res.MachineCost; mc != nil && mc.NotMeasured == "" && over > 0 {
		mc.Sampler = &result.SamplerCost{CPUSeconds: cpu.Seconds(), Seconds: over.Seconds()}
	}
}
