// Package result holds result.json's schema and the run's interval
// histogram log: what a run writes and what reports, the gate and compare
// read. It is its own package so that readers of results link no database
// driver or Kafka client; reports/README.md documents every field.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/recorder"
)

// SchemaVersion is result.json's schema version; reports/README.md documents
// it. Bump it on any change a reader of the file would notice. Version 2
// moved a path kind's own fields into Path.Driver; Path.UnmarshalJSON
// reads version 1's. Version 3 added Path.Metrics (absent from older
// files, which read as runs without metrics).
const SchemaVersion = 3

// Result is result.json.
type Result struct {
	SchemaVersion int         `json:"schema_version"`
	Version       string      `json:"cdcbench_version"`
	RunID         string      `json:"run_id"`
	StartedAt     time.Time   `json:"started_at"`
	FinishedAt    time.Time   `json:"finished_at"`
	ScenarioName  string      `json:"scenario_name"`
	Scenario      any         `json:"scenario"`
	Stack         StackResult `json:"stack"`
	// Clock says whose clock the timestamps come from.
	Clock          string   `json:"clock"`
	Machine        Machine  `json:"machine"`
	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons,omitempty"`
	Paths          []Path   `json:"paths"`
}

// StackResult says what ran.
type StackResult struct {
	StackInfo
	CDC string `json:"cdc"` // "relay cdcbench-relay/1" or "debezium <version>"
}

// StackInfo says where a run's PostgreSQL and Kafka were.
type StackInfo struct {
	Postgres        string `json:"postgres"`         // "embedded" or "external"
	PostgresVersion string `json:"postgres_version"` // server_version
	Kafka           string `json:"kafka"`            // "kfake (in-process)", "Apache Kafka (local JVM, KRaft)" or "external"
	Brokers         string `json:"brokers"`
	// On the local stack (--stack local): its Kafka Connect worker's REST
	// API and the versions it runs, the broker's as pinned, Connect's and
	// Debezium's as the worker reports them.
	ConnectURL      string `json:"connect_url,omitempty"`
	KafkaVersion    string `json:"kafka_version,omitempty"`
	ConnectVersion  string `json:"connect_version,omitempty"`
	DebeziumVersion string `json:"debezium_version,omitempty"`
}

// FraudCounts counts injected fraud patterns.
type FraudCounts struct {
	Outlier  int64 `json:"outlier"`
	Velocity int64 `json:"velocity"`
}

// Path is one path's figures.
type Path struct {
	Name string `json:"name"` // the path's name, such as "poll-100ms"
	Kind string `json:"kind"` // its kind, as internal/driver registers it
	// Baseline marks the path the others are compared with (polling), and
	// LosesRows one whose lost rows are the finding, not a failure (naive
	// polling): properties of the path's kind and driver, which readers
	// take from here instead of knowing kinds.
	Baseline  bool `json:"baseline,omitempty"`
	LosesRows bool `json:"loses_rows,omitempty"`
	// Capture says how rows reached the agents on this path: "relay
	// cdcbench-relay/1", "debezium 3.6.1.Final on Kafka Connect 4.3.1" or
	// "SELECT every 100ms (safe cursor)".
	Capture string `json:"capture,omitempty"`
	// Driver holds the fields of the path's own kind, under the names its
	// driver gives them (reports/README.md lists each kind's): the relay's
	// event count, a Debezium connector's configuration as Connect ran it,
	// the polling cursor. Read moves an older file's, which stood beside
	// the other fields, into it.
	Driver map[string]any `json:"driver,omitempty"`
	// Settings are what the scenario set for this path over cdcbench's own
	// configuration of it (a Debezium connector's).
	Settings         map[string]string `json:"settings,omitempty"`
	TargetRowsPerS   float64           `json:"target_rows_per_s"`
	AchievedRowsPerS float64           `json:"achieved_rows_per_s"`
	RowsProduced     int64             `json:"rows_produced"`
	Batches          int64             `json:"batches"`
	FraudsInjected   FraudCounts       `json:"frauds_injected"`
	MaxScheduleLagMs float64           `json:"max_schedule_lag_ms"`
	// ProducerReconnects counts the producer's connections replaced after
	// the server dropped them.
	ProducerReconnects int64   `json:"producer_reconnects,omitempty"`
	MeasuredSeconds    float64 `json:"measured_seconds"`
	DrainSeconds       float64 `json:"drain_seconds"`
	ProbeRoundTripMs   float64 `json:"probe_round_trip_ms"`
	// Timeline is the offered and achieved load per second of the schedule,
	// warm-up included (second 0 is the schedule's start).
	Timeline []RatePoint   `json:"timeline"`
	Agents   []AgentResult `json:"agents"`
	// Slices report a step shape's stages or a ramp's tenths on their own,
	// and Knee the highest offered rate whose slice met the objective.
	Slices []SliceResult `json:"slices,omitempty"`
	Knee   *Knee         `json:"knee,omitempty"`
	// Faults are the faults injected into this path and what they did.
	Faults []FaultResult `json:"faults,omitempty"`
	// DBCost is what the path cost the database over the measured window.
	DBCost *DBCost `json:"db_cost,omitempty"`
	// MachineCost is what the path's processes cost this machine over the
	// same window.
	MachineCost *MachineCost `json:"machine_cost,omitempty"`
	// Metrics are the pipeline's own signals (Debezium's queue, Connect's
	// producer, the broker, GC, the slot's WAL, consumer lag), sampled
	// once a second from the probe to the end of the drain.
	Metrics []MetricSeries `json:"metrics,omitempty"`
	// ExternalAgents are agents in other processes, seen through their alerts.
	ExternalAgents []ExternalAgentResult `json:"external_agents,omitempty"`
	InvalidReasons []string              `json:"invalid_reasons,omitempty"`
}

// legacyDriverFields are the fields the path kinds wrote beside the
// others before each kind's went into Path.Driver, under the same names.
var legacyDriverFields = []string{"connector_config", "poll_mode", "relay_events", "relay_restarts"}

// UnmarshalJSON reads a path, moving the fields of an older file's path
// kind into Driver and deriving the properties it did not record yet:
// its polling path was the one with a cursor mode, and a naive cursor's
// lost rows were the finding.
func (p *Path) UnmarshalJSON(b []byte) error {
	type plain Path // without this method
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	if p.Driver != nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	for _, name := range legacyDriverFields {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("result: path %s: %s: %w", p.Name, name, err)
		}
		if p.Driver == nil {
			p.Driver = map[string]any{}
		}
		p.Driver[name] = v
	}
	if mode, ok := p.Driver["poll_mode"].(string); ok {
		p.Baseline = true
		p.LosesRows = mode == "naive"
	}
	return nil
}

// SliceResult is one span of the schedule.
type SliceResult struct {
	FromS            float64                     `json:"from_s"`
	ToS              float64                     `json:"to_s"`
	TargetRowsPerS   float64                     `json:"target_rows_per_s"`
	AchievedRowsPerS float64                     `json:"achieved_rows_per_s"`
	E2E              map[string]recorder.Summary `json:"e2e_ms"` // by agent
	// CommandAlerts is the alert latency of each agent command (your own
	// agents, by name) in the slice: all cdcbench sees of them, and no
	// part of the knee, which is the pipeline's.
	CommandAlerts map[string]recorder.Summary `json:"agent_command_alert_ms,omitempty"`
	// CPUCores is the CPU each measured component of the path used in the
	// slice, in cores (CPU seconds per second), from the machine cost's
	// samples; omitted for a slice outside the measured window.
	CPUCores map[string]float64 `json:"cpu_cores,omitempty"`
}

// Knee is where latency broke: the highest offered rate at which, as at
// every lower rate, every agent's e2e p99 met the objective; the first
// slice above it that did not (nil when none failed); and the rates above
// that miss whose slices met the objective again, a sign the miss may have
// been a transient.
type Knee struct {
	ObjectiveP99Ms   float64      `json:"objective_p99_ms"`
	TargetRowsPerS   float64      `json:"target_rows_per_s"`
	AchievedRowsPerS float64      `json:"achieved_rows_per_s"`
	P99Ms            float64      `json:"p99_ms"`
	FirstMiss        *SliceResult `json:"first_miss,omitempty"`
	MetAgain         []float64    `json:"met_again_rows_per_s,omitempty"`
}

// RatePoint is one second of a path's load, in rows.
type RatePoint struct {
	Second    int   `json:"second"`
	Target    int64 `json:"target_rows"`    // rows whose intended send time falls in this second
	Committed int64 `json:"committed_rows"` // rows whose commit was acknowledged in this second
}

// AgentResult is one agent's figures on one path. Latencies are in ms.
type AgentResult struct {
	Name            string `json:"name"`
	Events          int64  `json:"events"`
	ExpectedEvents  int64  `json:"expected_events"`
	DuplicateEvents int64  `json:"duplicate_events"`
	// ForeignRows are rows of the table this run did not write (another
	// writer, a stray message on a shared topic): counted, not judged.
	ForeignRows      int64                       `json:"foreign_rows,omitempty"`
	BeforeCommitAck  int64                       `json:"received_before_commit_ack"`
	Alerts           int64                       `json:"alerts"`
	ExpectedAlerts   int64                       `json:"expected_alerts"`
	MissedAlerts     int64                       `json:"missed_alerts"`
	UnexpectedAlerts int64                       `json:"unexpected_alerts"`
	Skipped          map[string]int64            `json:"skipped,omitempty"`
	PollStatements   int64                       `json:"poll_statements,omitempty"`
	E2E              recorder.Summary            `json:"e2e_ms"`
	Stages           map[string]recorder.Summary `json:"stages_ms"`

	// PollReconnects counts the connections the agent's pollers replaced
	// after the server dropped them (pgretry's policy).
	PollReconnects int64 `json:"poll_reconnects,omitempty"`
}

// Machine identifies the host, so figures from different machines are not
// compared unknowingly.
type Machine struct {
	Hostname string `json:"hostname"`
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryMB int64  `json:"memory_mb"`
	OS       string `json:"os"`
	Go       string `json:"go"`
}

// Write saves r as dir/result.json.
func (r *Result) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "result.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	return nil
}

// MaxResultBytes bounds a result.json: a run's is tens of kilobytes (the
// smoke run's 25 kB), a long stepped run's a few hundred.
const MaxResultBytes = 16 << 20

// Read loads dir/result.json (or a result.json path), a regular file of at
// most MaxResultBytes.
func Read(path string) (*Result, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "result.json")
	}
	b, err := inputfile.Read(path, MaxResultBytes)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("result: %s is not a cdcbench result: %w", path, err)
	}
	if r.SchemaVersion == 0 || r.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("result: %s has schema_version %d; this cdcbench reads 1..%d", path, r.SchemaVersion, SchemaVersion)
	}
	// Every run writes these: without them a file is no run's result
	// ({"schema_version":1} was reported and gated as an empty run).
	var missing []string
	for _, f := range []struct {
		name  string
		unset bool
	}{{"run_id", r.RunID == ""}, {"scenario_name", r.ScenarioName == ""}, {"started_at", r.StartedAt.IsZero()}} {
		if f.unset {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("result: %s is not a cdcbench result: it has no %s", path, strings.Join(missing, ", "))
	}
	return &r, nil
}

// FaultResult is what one injected fault did to a path.
type FaultResult struct {
	Kind      string  `json:"kind"`
	Agent     string  `json:"agent,omitempty"`
	AtS       float64 `json:"at_s"` // from the start of the schedule
	DurationS float64 `json:"duration_s"`
	// Skipped says why the fault did not apply to this path (a relay fault
	// on a polling path), Error why it failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	// RecoveredAfterS runs from the fault's end to the end of the first 1 s
	// interval in which every agent's e2e p99 was back under the objective;
	// absent when that never happened before the path ended.
	RecoveredAfterS *float64 `json:"recovered_after_s,omitempty"`
	// PeakP99Ms is the highest interval e2e p99 from the fault's start to
	// recovery.
	PeakP99Ms float64 `json:"peak_p99_ms"`
	// Duplicates are the events agents received again (summed over the
	// path's agents) from the fault's start until the next fault started
	// or the path ended: a replay after kill-relay, a rebalance after
	// kill-agent.
	Duplicates int64 `json:"duplicates"`
	// NoAlertsS is the longest run of 1 s intervals in which no agent
	// raised an alert, from the fault's start to recovery (or the path's
	// end): how long fraud went unflagged.
	NoAlertsS float64 `json:"no_alerts_s"`
	// Node is the process a cluster fault hit: "broker-2" (kill-broker,
	// pause-broker: the change topic's partition 0 leader), "connect-1"
	// (kill-connect-worker: the worker running the Debezium task).
	Node string `json:"node,omitempty"`
	// TaskRanAgainAfterS (kill-connect-worker) runs from the kill to the
	// Debezium task streaming again (its slot taken by a new WAL sender);
	// absent when it did not before the fault gave up. TaskWorker is the
	// worker it then ran on.
	TaskRanAgainAfterS *float64 `json:"task_ran_again_after_s,omitempty"`
	TaskWorker         string   `json:"task_worker,omitempty"`
}

// ExternalAgentResult is what agents running as their own processes raised
// during a path that publishes to Kafka: `cdcbench agent` processes on any
// host, read back from fraud.alerts, and the user's own agents that cdcbench
// started as commands (Command set), seen through their output lines or
// their fraud.alerts records. Their events are not observable from here,
// only alerts.
type ExternalAgentResult struct {
	Name             string   `json:"name"`
	Instances        []string `json:"instances"`
	Alerts           int64    `json:"alerts"`
	ExpectedAlerts   int64    `json:"expected_alerts"`
	MissedAlerts     int64    `json:"missed_alerts"`
	UnexpectedAlerts int64    `json:"unexpected_alerts"`
	DuplicateAlerts  int64    `json:"duplicate_alerts"`
	// AlertMs is timed on the collector's clock, AgentClockMs on the agent
	// host's; their difference is transport plus clock skew.
	AlertMs      recorder.Summary `json:"alert_ms"`
	AgentClockMs recorder.Summary `json:"agent_clock_ms"`
	Clock        string           `json:"clock"`
	*AgentCommand
	// Reference is the built-in agent of the same rule on the same path.
	Reference *Reference `json:"reference,omitempty"`
}

// AgentCommand is what an agent that cdcbench started as a command did.
type AgentCommand struct {
	Command string `json:"command"`
	// Rule is the built-in agent whose oracle judged its alerts.
	Rule     string `json:"rule"`
	Observed string `json:"observed"` // "lines" or "fraud.alerts"
	Pattern  string `json:"pattern,omitempty"`
	Group    string `json:"group"`
	// Output is its stdout and stderr, timestamped, in the result directory.
	Output      string  `json:"output"`
	OutputLines int64   `json:"output_lines"`
	JoinMs      float64 `json:"join_ms"` // from start to a member of its group holding a partition
	// CPUSeconds is the processor time it used (user and system), from
	// its exit status: what the agent costs beside the built-in one.
	CPUSeconds float64 `json:"cpu_s"`
	// AlertLines matched the pattern; of them, Unmatched denote no produced
	// row, Ambiguous several, Malformed have groups that do not parse
	// (DuplicateAlerts counts lines for a row already denoted).
	AlertLines     int64 `json:"alert_lines,omitempty"`
	UnmatchedLines int64 `json:"unmatched_lines,omitempty"`
	AmbiguousLines int64 `json:"ambiguous_lines,omitempty"`
	MalformedLines int64 `json:"malformed_lines,omitempty"`
	// Exit says how it ended: "stopped" (SIGTERM), or why not.
	Exit string `json:"exit"`
}

// Reference compares an external agent with the built-in agent of its rule
// on the same run and path: both alert latencies are from the row's intended
// send time on cdcbench's clock, over the measured window.
type Reference struct {
	Agent     string           `json:"agent"`
	AlertMs   recorder.Summary `json:"alert_ms"` // the built-in agent's alert stage
	AddsP50Ms float64          `json:"adds_p50_ms"`
	AddsP99Ms float64          `json:"adds_p99_ms"`
}
