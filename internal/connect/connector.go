package connect

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// ErrFailed reports a connector or task in state FAILED; the *FailedError
// that wraps it carries the worker's stack trace.
var ErrFailed = errors.New("connector failed")

// ErrNotRunning reports a connector that did not reach RUNNING, with all its
// tasks, within the wait timeout.
var ErrNotRunning = errors.New("connector not running")

// The states WaitRunning acts on; the status endpoint also reports
// UNASSIGNED, PAUSED and STOPPED, which it waits out.
const (
	StateRunning = "RUNNING"
	StateFailed  = "FAILED"
)

// State is the state of the connector or of one task, with the worker that
// runs it and, when FAILED, the Java stack trace of the cause.
type State struct {
	ID       int    `json:"id"` // the task id; zero for the connector itself
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	// Version is the plugin's version, e.g. "3.6.1.Final"; Kafka Connect
	// 4.x reports it (the documentation's examples predate it).
	Version string `json:"version,omitempty"`
}

// Status is GET /connectors/{name}/status.
type Status struct {
	Name      string  `json:"name"`
	Connector State   `json:"connector"`
	Tasks     []State `json:"tasks"`
	Type      string  `json:"type"`
}

// Running reports whether the connector and at least one task run and no
// task is in another state. A connector with no task yet is still starting.
func (s Status) Running() bool {
	if s.Connector.State != StateRunning || len(s.Tasks) == 0 {
		return false
	}
	for _, t := range s.Tasks {
		if t.State != StateRunning {
			return false
		}
	}
	return true
}

// String summarises the states, e.g. "connector RUNNING, task 0 UNASSIGNED".
func (s Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connector %s", s.Connector.State)
	if len(s.Tasks) == 0 {
		b.WriteString(", no tasks")
	}
	for _, t := range s.Tasks {
		fmt.Fprintf(&b, ", task %d %s", t.ID, t.State)
	}
	return b.String()
}

// failure returns the first FAILED part, connector before tasks.
func (s Status) failure() *FailedError {
	if s.Connector.State == StateFailed {
		return &FailedError{Connector: s.Name, Task: -1, WorkerID: s.Connector.WorkerID, Trace: s.Connector.Trace}
	}
	for _, t := range s.Tasks {
		if t.State == StateFailed {
			return &FailedError{Connector: s.Name, Task: t.ID, WorkerID: t.WorkerID, Trace: t.Trace}
		}
	}
	return nil
}

// FailedError is a FAILED connector (Task -1) or task. Error shows the first
// lines of the trace, which name Debezium's exception and its message; Trace
// holds all of it for a log file.
type FailedError struct {
	Connector string
	Task      int
	WorkerID  string
	Trace     string
}

// traceLines is how much of a trace an error message shows.
const traceLines = 6

func (e *FailedError) Error() string {
	what := fmt.Sprintf("connector %q", e.Connector)
	if e.Task >= 0 {
		what = fmt.Sprintf("connector %q task %d", e.Connector, e.Task)
	}
	msg := fmt.Sprintf("connect: %s FAILED on worker %s", what, e.WorkerID)
	if e.Trace == "" {
		return msg + " (no trace)"
	}
	lines := strings.Split(strings.TrimRight(e.Trace, "\n"), "\n")
	if len(lines) > traceLines {
		lines = append(lines[:traceLines:traceLines], "\t...")
	}
	return msg + ":\n" + strings.Join(lines, "\n")
}

// Unwrap lets errors.Is(err, ErrFailed) match.
func (e *FailedError) Unwrap() error { return ErrFailed }

// ErrRejected reports a connector configuration the worker refused to
// store because the plugin's validation found errors (a wrong password, an
// unreachable database: Debezium connects while validating). The
// *RejectedError that wraps it lists the errors per setting.
var ErrRejected = errors.New("connector config rejected")

// RejectedError is a configuration the worker's validation refused.
type RejectedError struct {
	Connector string
	// Errors maps a setting to what validation said about it.
	Errors map[string][]string
}

func (e *RejectedError) Error() string {
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(e.Errors[k], "; "))
	}
	return fmt.Sprintf("connect: connector %q refused by validation: %s", e.Connector, strings.Join(parts, "; "))
}

// Unwrap lets errors.Is(err, ErrRejected) match.
func (e *RejectedError) Unwrap() error { return ErrRejected }

// Apply registers the connector or replaces its configuration: PUT
// /connectors/{name}/config creates or updates, so applying the same config
// twice is harmless. A 409 (rebalance in progress) is retried. Errors show
// the configuration with its passwords replaced by "xxxxx".
//
// A configuration that fails the plugin's validation is refused by the PUT
// itself, before any task runs, so a wrong database password never becomes
// a FAILED task: Debezium's validate() connects to the database. Kafka
// Connect 4.3.1 then answers 500 with a NullPointerException of its own
// (AbstractHerder.maybeAddConfigErrors trips over a Debezium 3.6.1 setting
// without a value) instead of the validation errors, so on a 400 or 500
// Apply asks the validate endpoint and returns a *RejectedError with what
// it says.
func (c *Client) Apply(ctx context.Context, name string, cfg Config) error {
	if name == "" {
		return errors.New("connect: apply: empty connector name")
	}
	err := c.call(ctx, http.MethodPut, connectorPath(name)+"/config", cfg, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusInternalServerError) {
		if rej, _ := c.validate(ctx, name, cfg); rej != nil {
			err = rej
		}
	}
	if err != nil {
		return fmt.Errorf("connect: apply connector %q with %v: %w", name, cfg, cfg.scrub(err))
	}
	return nil
}

// Connectors lists the names of the connectors the worker holds.
func (c *Client) Connectors(ctx context.Context) ([]string, error) {
	var names []string
	if err := c.call(ctx, http.MethodGet, "/connectors", nil, &names); err != nil {
		return nil, fmt.Errorf("connect: list connectors: %w", err)
	}
	return names, nil
}

// ConnectorConfig returns the connector's configuration as the worker
// holds it: what a run actually used, defaults the worker added included.
func (c *Client) ConnectorConfig(ctx context.Context, name string) (Config, error) {
	var cfg Config
	if err := c.call(ctx, http.MethodGet, connectorPath(name)+"/config", nil, &cfg); err != nil {
		return nil, fmt.Errorf("connect: config of connector %q: %w", name, err)
	}
	return cfg, nil
}

// Validate asks the plugin, without registering anything, whether it
// would take cfg: PUT /connector-plugins/{class}/config/validate. It
// returns a *RejectedError with the plugin's messages per setting, or, for
// a value Connect refuses before the plugin sees it (a producer.override.
// of the wrong type: Connect 4.3.1 answers 500 with its ConfigException),
// that answer. Debezium's validation connects to the database, so a wrong
// password shows up here too.
func (c *Client) Validate(ctx context.Context, name string, cfg Config) error {
	rej, err := c.validate(ctx, name, cfg)
	if err == nil && rej != nil {
		err = rej
	}
	if err != nil {
		return fmt.Errorf("connect: validate connector %q: %w", name, cfg.scrub(err))
	}
	return nil
}

// validate asks the validate endpoint about cfg and returns its errors:
// a nil *RejectedError when it reports none.
func (c *Client) validate(ctx context.Context, name string, cfg Config) (*RejectedError, error) {
	class := cfg["connector.class"]
	if class == "" {
		return nil, errors.New("no connector.class to validate against")
	}
	body := maps.Clone(cfg)
	body["name"] = name
	var infos struct {
		ErrorCount int `json:"error_count"`
		Configs    []struct {
			Value *struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	path := "/connector-plugins/" + url.PathEscape(class) + "/config/validate"
	if err := c.call(ctx, http.MethodPut, path, body, &infos); err != nil {
		return nil, err
	}
	if infos.ErrorCount == 0 {
		return nil, nil
	}
	rej := &RejectedError{Connector: name, Errors: map[string][]string{}}
	for _, ci := range infos.Configs {
		if ci.Value != nil && len(ci.Value.Errors) > 0 {
			rej.Errors[ci.Value.Name] = ci.Value.Errors
		}
	}
	return rej, nil
}

// Restart restarts the connector and all its tasks (POST
// /connectors/{name}/restart?includeTasks=true), e.g. after a FAILED task
// whose cause was fixed. Connect answers 202 Accepted and restarts
// asynchronously; follow with WaitRunning.
func (c *Client) Restart(ctx context.Context, name string) error {
	if err := c.call(ctx, http.MethodPost, connectorPath(name)+"/restart?includeTasks=true", nil, nil); err != nil {
		return fmt.Errorf("connect: restart connector %q: %w", name, err)
	}
	return nil
}

// Status returns the connector's status. A connector the worker does not know
// gives an *APIError with StatusCode 404.
func (c *Client) Status(ctx context.Context, name string) (Status, error) {
	var s Status
	err := c.call(ctx, http.MethodGet, connectorPath(name)+"/status", nil, &s)
	return s, err
}

// WaitRunning polls the status until the connector and all its tasks are
// RUNNING and returns that status. A FAILED connector or task returns a
// *FailedError at once; the wait timeout (WithWaitTimeout) returns an error
// wrapping ErrNotRunning with the last status seen. A 404 right after Apply
// means the worker has not recorded a status yet and is waited out.
func (c *Client) WaitRunning(ctx context.Context, name string) (Status, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.waitTimeout, ErrNotRunning)
	defer cancel()
	last := "no status yet"
	tick := time.NewTicker(c.pollInterval)
	defer tick.Stop()
	for {
		s, err := c.Status(ctx, name)
		var apiErr *APIError
		switch {
		case err == nil:
			if f := s.failure(); f != nil {
				return s, f
			}
			if s.Running() {
				return s, nil
			}
			last = s.String()
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
			last = "no status yet (404)"
		case ctx.Err() == nil:
			return s, fmt.Errorf("connect: wait for connector %q: %w", name, err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), ErrNotRunning) {
				return s, fmt.Errorf("connect: connector %q not running after %s (last: %s): %w",
					name, c.waitTimeout, last, ErrNotRunning)
			}
			return s, fmt.Errorf("connect: wait for connector %q (last: %s): %w", name, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// WatchFailed polls the status every watch interval until ctx ends
// (nil) or Connect reports the connector or a task FAILED (the
// *FailedError, with its trace). A task that fails mid-run stops the
// capture for good: Connect does not restart it, and without this the run
// would go on measuring nothing until its timeout. Errors reaching the
// worker are waited out, as is any other state: a worker killed and
// started again (kill-connect) or rebalancing is not a failure.
func (c *Client) WatchFailed(ctx context.Context, name string, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := c.Status(ctx, name)
		if err != nil {
			continue
		}
		if f := s.failure(); f != nil {
			return f
		}
	}
}

// Delete removes the connector and waits until it is gone. A connector
// that does not exist is not an error, so cleanup can always call it.
//
// A real worker answers DELETE with 204 once the config is removed, but its
// task still runs (and holds its replication slot) for about a second:
// GET .../status keeps answering 200 until the task has stopped. So Delete
// waits, within the wait timeout, for the status to answer 404. The
// replication slot stays in PostgreSQL: dropping it is the caller's job.
func (c *Client) Delete(ctx context.Context, name string) error {
	err := c.call(ctx, http.MethodDelete, connectorPath(name), nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("connect: delete connector %q: %w", name, err)
	}
	return c.waitGone(ctx, name)
}

// waitGone polls the status until it answers 404.
func (c *Client) waitGone(ctx context.Context, name string) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.waitTimeout)
	defer cancel()
	tick := time.NewTicker(c.pollInterval)
	defer tick.Stop()
	for {
		s, err := c.Status(ctx, name)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			return nil
		}
		select {
		case <-ctx.Done():
			// The caller's deadline may have come first: say how long it
			// was, not the wait timeout.
			waited := time.Since(start).Round(time.Millisecond)
			return fmt.Errorf("connect: connector %q deleted but still reported (%s, %v) after %s: %w", name, s, err, waited, ctx.Err())
		case <-tick.C:
		}
	}
}

func connectorPath(name string) string { return "/connectors/" + url.PathEscape(name) }
