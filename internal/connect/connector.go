package connect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// Apply registers the connector or replaces its configuration: PUT
// /connectors/{name}/config creates or updates, so applying the same config
// twice is harmless. A 409 (rebalance in progress) is retried. Errors show
// the configuration with its passwords replaced by "xxxxx".
func (c *Client) Apply(ctx context.Context, name string, cfg Config) error {
	if name == "" {
		return errors.New("connect: apply: empty connector name")
	}
	if err := c.call(ctx, http.MethodPut, connectorPath(name)+"/config", cfg, nil); err != nil {
		return fmt.Errorf("connect: apply connector %q with %v: %w", name, cfg, cfg.scrub(err))
	}
	return nil
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

// Delete removes the connector, stopping its tasks. A connector that does not
// exist is not an error, so cleanup can always call it. The replication slot
// stays in PostgreSQL: dropping it is the caller's job once it is inactive.
func (c *Client) Delete(ctx context.Context, name string) error {
	err := c.call(ctx, http.MethodDelete, connectorPath(name), nil, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("connect: delete connector %q: %w", name, err)
	}
	return nil
}

func connectorPath(name string) string { return "/connectors/" + url.PathEscape(name) }
