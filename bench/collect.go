package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// CollectorClock names the clock external agents' alerts are timed on.
const CollectorClock = "collector: the cdcbench host's receive time of the alert on fraud.alerts minus the row's intended send time; the agent host's own figure is kept beside it, not trusted"

// AlertRecord is one alert as it goes to fraud.alerts, written by the
// run's own agents (Run and Path set) and by `cdcbench agent` processes
// (Instance and Clock set). Its timestamps come from the writer's host:
// a collector on another host measures on its own clock instead.
type AlertRecord struct {
	Run         string `json:"run,omitempty"`
	Path        string `json:"path,omitempty"`
	Agent       string `json:"agent"`
	Instance    string `json:"instance,omitempty"`
	TxID        int64  `json:"tx_id"`
	UserID      int32  `json:"user_id"`
	Score       int64  `json:"score"`
	CreatedAtUs int64  `json:"created_at_us"`
	ReceivedNs  int64  `json:"received_ns"`
	VerdictNs   int64  `json:"verdict_ns"`
	Clock       string `json:"clock,omitempty"`
}

// collector reads fraud.alerts for the external agents of one path.
type collector struct {
	client *kgo.Client
	names  []string // in report order
	done   chan struct{}
	fromUs int64
	mu     sync.Mutex
	agents map[string]*collected
}

type collected struct {
	instances map[string]bool
	ids       map[int64]int
	alert     *recorder.Single
	agent     *recorder.Single
}

// startCollector starts reading alerts produced from now on (the workload
// has not started), of rows produced since since, for the named agents.
func startCollector(ctx context.Context, brokers []string, names []string, since time.Time) (*collector, error) {
	ends, err := stack.EndOffsets(ctx, brokers, stack.AlertTopic)
	if err != nil {
		return nil, fmt.Errorf("alert collector: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(ends))
	if err != nil {
		return nil, fmt.Errorf("alert collector: %w", err)
	}
	c := &collector{client: cl, names: names, done: make(chan struct{}), fromUs: since.UnixMicro(), agents: map[string]*collected{}}
	for _, n := range names {
		c.agents[n] = &collected{instances: map[string]bool{}, ids: map[int64]int{}, alert: recorder.NewSingle(), agent: recorder.NewSingle()}
	}
	go c.run(ctx)
	return c, nil
}

func (c *collector) run(ctx context.Context) {
	defer close(c.done)
	for {
		f := c.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now().UnixNano()
		f.EachRecord(func(r *kgo.Record) {
			var a AlertRecord
			if json.Unmarshal(r.Value, &a) != nil || a.Run != "" || a.CreatedAtUs < c.fromUs {
				return // the run's own agents' alerts, or an earlier run's
			}
			if a.Instance == "" {
				a.Instance = a.Agent // a user's agent need not name its instances
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			g := c.agents[a.Agent]
			if g == nil {
				return
			}
			g.instances[a.Instance] = true
			g.ids[a.TxID]++
			if g.ids[a.TxID] == 1 {
				g.alert.Record((now - a.CreatedAtUs*1000) / 1000)
				g.agent.Record((a.VerdictNs - a.CreatedAtUs*1000) / 1000)
			}
		})
	}
}

// received counts distinct alerts per agent so far.
func (c *collector) received(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.agents[name].ids)
}

// stop ends collection.
func (c *collector) stop() {
	c.client.Close()
	<-c.done
}

// results compares the alerts of the agents named in expected with the
// oracle's.
func (c *collector) results(expected map[string]*idSet) []result.ExternalAgentResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []result.ExternalAgentResult
	for _, name := range c.names {
		g := c.agents[name]
		if _, ok := expected[name]; !ok || g == nil {
			continue
		}
		var got idSet
		var dups, foreign int64
		for id, n := range g.ids {
			// A row the oracle cannot have expected (another run's, a
			// made-up id) is unexpected, and must not size the set.
			if !expected[name].covers(id) || !got.add(id) {
				foreign++
			}
			dups += int64(n - 1)
		}
		d := diffAlerts(expected[name], &got)
		d.Received += foreign
		d.Unexpected += foreign
		r := result.ExternalAgentResult{Name: name, Alerts: d.Received, ExpectedAlerts: d.Expected, MissedAlerts: d.Missed,
			UnexpectedAlerts: d.Unexpected, DuplicateAlerts: dups, AlertMs: g.alert.Summary(), AgentClockMs: g.agent.Summary(), Clock: CollectorClock}
		for in := range g.instances {
			r.Instances = append(r.Instances, in)
		}
		sort.Strings(r.Instances)
		out = append(out, r)
	}
	return out
}
