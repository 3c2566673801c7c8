package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connect"
)

const (
	name       = "cdcbench-run1"
	configPath = "PUT /connectors/cdcbench-run1/config"
	statusPath = "GET /connectors/cdcbench-run1/status"
	deletePath = "DELETE /connectors/cdcbench-run1"
	password   = "s3cret-pw"
)

func runConfig(t *testing.T) connect.Config {
	t.Helper()
	cfg, err := connect.DebeziumConfig{
		Host: "postgres", User: "cdcbench", Password: password, DBName: "cdcbench",
		Slot: "cdcbench_slot_run1", Publication: "cdcbench_pub_run1",
	}.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []reply
		calls   int
	}{
		{name: "created", replies: []reply{status(http.StatusCreated, "put-created.json")}, calls: 1},
		{name: "updated", replies: []reply{ok("put-created.json")}, calls: 1},
		{name: "stale config then created", replies: []reply{status(409, "error-409.json"), status(409, "error-409-rebalance.json"), status(201, "put-created.json")}, calls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(configPath, tc.replies...)
			cfg := runConfig(t)
			if err := w.client().Apply(context.Background(), name, cfg); err != nil {
				t.Fatal(err)
			}
			if got := w.count(configPath); got != tc.calls {
				t.Errorf("PUT sent %d times, want %d", got, tc.calls)
			}
			reqs := w.requests()
			last := reqs[len(reqs)-1]
			if last.contentType != "application/json" {
				t.Errorf("Content-Type = %q", last.contentType)
			}
			var sent map[string]string
			if err := json.Unmarshal(last.body, &sent); err != nil {
				t.Fatalf("body %q: %v", last.body, err)
			}
			if len(sent) != len(cfg) {
				t.Errorf("sent %d settings, want %d", len(sent), len(cfg))
			}
			for k, v := range cfg {
				if sent[k] != v {
					t.Errorf("sent %s=%q, want %q", k, sent[k], v)
				}
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     reply
		calls     int
		wantCode  int
		wantInErr string
	}{
		{
			name:  "rebalance never ends",
			reply: status(409, "error-409-rebalance.json"), calls: 5, wantCode: 409,
			wantInErr: "conflicting operation (e.g. worker rebalance) (gave up after 5 tries)",
		},
		{
			name:  "invalid config echoing the password",
			reply: reply{status: 400, body: `{"error_code":400,"message":"Connector configuration is invalid and contains the following 1 error(s):\nConnection to postgres:5432 failed: FATAL: password authentication failed for user \"cdcbench\" (password s3cret-pw)\n"}`},
			calls: 1, wantCode: 400, wantInErr: "password authentication failed",
		},
		{
			name:  "internal error",
			reply: reply{status: 500, body: `{"error_code":500,"message":"Request timed out"}`}, calls: 1, wantCode: 500,
			wantInErr: "Request timed out",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(configPath, tc.reply)
			err := w.client().Apply(context.Background(), name, runConfig(t))
			var apiErr *connect.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantCode {
				t.Fatalf("Apply error = %v, want an APIError %d", err, tc.wantCode)
			}
			if got := w.count(configPath); got != tc.calls {
				t.Errorf("PUT sent %d times, want %d", got, tc.calls)
			}
			msg := err.Error()
			if strings.Contains(msg, password) {
				t.Errorf("error shows the password: %s", msg)
			}
			for _, s := range []string{tc.wantInErr, "database.password=xxxxx", "database.user=cdcbench", `apply connector "cdcbench-run1"`} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
		})
	}
}

func TestApplyStopsRetryingWhenCancelled(t *testing.T) {
	w := newWorker(t).on(configPath, status(409, "error-409.json"))
	c := w.client(connect.WithRetries(100, 50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Apply(ctx, name, runConfig(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply error = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Apply returned after %s, want soon after the context ended", d)
	}
}

func TestWaitRunning(t *testing.T) {
	w := newWorker(t).on(statusPath,
		status(404, "error-404-status.json"),
		ok("status-starting.json"),
		ok("status-unassigned.json"),
		ok("status-running.json"),
	)
	s, err := w.client().WaitRunning(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Running() || s.Tasks[0].WorkerID != "connect:8083" {
		t.Errorf("status = %+v, want running on connect:8083", s)
	}
	if got := w.count(statusPath); got != 4 {
		t.Errorf("polled %d times, want 4 (404, no tasks, unassigned, running)", got)
	}
}

func TestWaitRunningFailed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string
		task     int
		wantHead string
		cut      bool
	}{
		{
			name: "task", file: "status-task-failed.json", task: 0, cut: true,
			wantHead: "connect: connector \"cdcbench-run1\" task 0 FAILED on worker connect:8083:\n" +
				"org.apache.kafka.connect.errors.ConnectException: Publication autocreation is disabled, please create one and restart the connector.\n" +
				"\tat io.debezium.connector.postgresql.connection.PostgresReplicationConnection.initPublication(PostgresReplicationConnection.java:196)",
		},
		{
			name: "connector", file: "status-connector-failed.json", task: -1, cut: false,
			wantHead: "connect: connector \"cdcbench-run1\" FAILED on worker connect:8083:\n" +
				"org.apache.kafka.connect.errors.ConnectException: Error configuring an instance of PostgresConnector; check the logs for details",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(statusPath, ok("status-unassigned.json"), ok(tc.file))
			_, err := w.client().WaitRunning(context.Background(), name)
			var failed *connect.FailedError
			if !errors.As(err, &failed) || !errors.Is(err, connect.ErrFailed) {
				t.Fatalf("WaitRunning error = %v, want a FailedError", err)
			}
			if failed.Task != tc.task {
				t.Errorf("Task = %d, want %d", failed.Task, tc.task)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.wantHead) {
				t.Errorf("error starts\n%s\nwant\n%s", msg, tc.wantHead)
			}
			if cut := strings.HasSuffix(msg, "\n\t..."); cut != tc.cut {
				t.Errorf("trace shortened = %v, want %v:\n%s", cut, tc.cut, msg)
			}
			if strings.Contains(msg, "java.base/java.lang.Thread.run") {
				t.Errorf("error carries the whole trace:\n%s", msg)
			}
			if !strings.Contains(failed.Trace, "java.base/java.lang.Thread.run") && tc.cut {
				t.Errorf("Trace lost its end: %q", failed.Trace)
			}
		})
	}
}

func TestWaitRunningTimeout(t *testing.T) {
	w := newWorker(t).on(statusPath, ok("status-unassigned.json"))
	c := w.client(connect.WithWaitTimeout(60 * time.Millisecond))
	_, err := c.WaitRunning(context.Background(), name)
	if !errors.Is(err, connect.ErrNotRunning) {
		t.Fatalf("WaitRunning error = %v, want ErrNotRunning", err)
	}
	if !strings.Contains(err.Error(), "last: connector RUNNING, task 0 UNASSIGNED") {
		t.Errorf("error %q does not say what it last saw", err)
	}
}

func TestWaitRunningCancelled(t *testing.T) {
	w := newWorker(t).on(statusPath, status(404, "error-404-status.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	_, err := w.client().WaitRunning(ctx, name)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, connect.ErrNotRunning) {
		t.Fatalf("WaitRunning error = %v, want the caller's deadline, not the wait timeout", err)
	}
}

func TestWaitRunningServerError(t *testing.T) {
	w := newWorker(t).on(statusPath, reply{status: 500, body: `{"error_code":500,"message":"Request timed out"}`})
	_, err := w.client().WaitRunning(context.Background(), name)
	var apiErr *connect.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("WaitRunning error = %v, want the 500 at once", err)
	}
	if got := w.count(statusPath); got != 1 {
		t.Errorf("polled %d times after a 500, want 1", got)
	}
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replies  []reply
		calls    int
		wantCode int // 0 means success
	}{
		{name: "deleted", replies: []reply{{status: http.StatusNoContent}}, calls: 1},
		{name: "already gone", replies: []reply{status(404, "error-404-delete.json")}, calls: 1},
		{name: "rebalance then deleted", replies: []reply{status(409, "error-409-rebalance.json"), {status: http.StatusNoContent}}, calls: 2},
		{name: "server error", replies: []reply{{status: 500, body: `{"error_code":500,"message":"Request timed out"}`}}, calls: 1, wantCode: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(deletePath, tc.replies...)
			err := w.client().Delete(context.Background(), name)
			if got := w.count(deletePath); got != tc.calls {
				t.Errorf("DELETE sent %d times, want %d", got, tc.calls)
			}
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var apiErr *connect.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantCode {
				t.Fatalf("Delete error = %v, want an APIError %d", err, tc.wantCode)
			}
		})
	}
}

func TestConnectorNameIsEscaped(t *testing.T) {
	w := newWorker(t).on("DELETE /connectors/run%201%2Fa", reply{status: http.StatusNoContent})
	if err := w.client().Delete(context.Background(), "run 1/a"); err != nil {
		t.Fatal(err)
	}
}

// TestApplyRejected replays a real worker's answers to a config with a
// wrong password: the PUT fails with Connect 4.3.1's NullPointerException,
// the validate endpoint says why.
func TestApplyRejected(t *testing.T) {
	validatePath := "PUT /connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate"
	for _, tc := range []struct {
		name     string
		validate reply
		rejected bool
	}{
		{"validation explains", ok("validate-bad-password.json"), true},
		{"validation unavailable", status(404, "error-404-status.json"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(configPath, status(500, "error-500-validation-npe.json")).on(validatePath, tc.validate)
			err := w.client().Apply(context.Background(), name, runConfig(t))
			var rej *connect.RejectedError
			if got := errors.As(err, &rej); got != tc.rejected {
				t.Fatalf("Apply = %v; rejected %v, want %v", err, got, tc.rejected)
			}
			if tc.rejected && !strings.Contains(err.Error(), `database.hostname: Error while validating connector config: FATAL: password authentication failed for user "dbz"`) {
				t.Errorf("error lacks the validation message: %v", err)
			}
			var apiErr *connect.APIError
			if !tc.rejected && (!errors.As(err, &apiErr) || apiErr.StatusCode != 500) {
				t.Errorf("want the PUT's 500 when validation cannot explain: %v", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
			reqs := w.requests()
			if tc.rejected {
				var sent map[string]string
				if err := json.Unmarshal(reqs[len(reqs)-1].body, &sent); err != nil || sent["name"] != name {
					t.Errorf("validate body %s lacks the connector name", reqs[len(reqs)-1].body)
				}
			}
		})
	}
}

func TestWatchFailed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []reply
		failed  bool
	}{
		{name: "task fails after running", replies: []reply{ok("status-running.json"), ok("status-running.json"), ok("status-task-failed.json")}, failed: true},
		{name: "worker away, then failed", replies: []reply{ok("status-running.json"), status(500, "error-500-validation-npe.json"), ok("status-unassigned.json"), ok("status-connector-failed.json")}, failed: true},
		{name: "running until cancelled", replies: []reply{ok("status-running.json")}},
		{name: "unassigned is waited out", replies: []reply{ok("status-unassigned.json")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(statusPath, tc.replies...)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := w.client().WatchFailed(ctx, name, 5*time.Millisecond)
			if got := errors.Is(err, connect.ErrFailed); got != tc.failed {
				t.Fatalf("WatchFailed = %v, want failed %v", err, tc.failed)
			}
			if !tc.failed && w.count(statusPath) < 2 {
				t.Errorf("polled %d times before the end, want it to keep watching", w.count(statusPath))
			}
		})
	}
}

// TestDeleteStillReported: a connector the worker keeps reporting after
// DELETE is an error naming how long Delete waited: the caller's deadline
// when it came before the wait timeout.
func TestDeleteStillReported(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		wait     time.Duration
		want     string
	}{
		{name: "wait timeout", deadline: time.Minute, wait: 100 * time.Millisecond, want: "after 1"},
		{name: "caller's deadline first", deadline: 100 * time.Millisecond, wait: time.Minute, want: "after 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorker(t).on(deletePath, reply{status: http.StatusNoContent}).on(statusPath, ok("status-running.json"))
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			err := w.client(connect.WithWaitTimeout(tc.wait)).Delete(ctx, name)
			if err == nil || !strings.Contains(err.Error(), "still reported") {
				t.Fatalf("Delete = %v, want a connector still reported", err)
			}
			if strings.Contains(err.Error(), "1m0s") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Delete = %v, want the time it waited (about 100ms)", err)
			}
		})
	}
}
