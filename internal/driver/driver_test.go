package driver_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

// TestNew holds the seam's contract: each path kind gets its driver, and
// what the runner asks of a driver (faults, publishing, loss by design) is
// what that driver can do.
func TestNew(t *testing.T) {
	cl, err := connect.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cdc := scenarios.Path{Kind: scenarios.PathCDC}
	dbz := scenarios.Path{Kind: scenarios.PathDebezium}
	poll := scenarios.Path{Kind: scenarios.PathPoll, Interval: 100 * time.Millisecond}
	for _, tc := range []struct {
		name                       string
		path                       scenarios.Path
		cfg                        driver.Config
		wantErr                    error
		pauses, crashes, publishes bool
		connector                  bool
		losesRows                  bool
	}{
		{name: "cdc is the relay", path: cdc, pauses: true, crashes: true, publishes: true},
		{name: "cdc through Debezium", path: cdc, cfg: driver.Config{CDC: driver.CDC{Kind: stack.CDCDebezium, Connect: cl}}, publishes: true, connector: true},
		{name: "debezium beside the relay", path: dbz, cfg: driver.Config{CDC: driver.CDC{Kind: stack.CDCRelay, Connect: cl}}, publishes: true, connector: true},
		{name: "debezium without Connect", path: dbz, wantErr: driver.ErrNoConnect},
		{name: "cdc through Debezium without Connect", path: cdc, cfg: driver.Config{CDC: driver.CDC{Kind: stack.CDCDebezium}}, wantErr: driver.ErrNoConnect},
		{name: "safe poller", path: poll, cfg: driver.Config{PollMode: "safe"}},
		{name: "naive poller loses rows by design", path: poll, cfg: driver.Config{PollMode: "naive"}, losesRows: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := driver.New(tc.path, tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			_, pauses := d.(driver.Pauser)
			_, crashes := d.(driver.Crasher)
			_, publishes := d.(driver.Publisher)
			_, connector := d.(driver.Connector)
			lt, ok := d.(driver.LossTolerant)
			loses := ok && lt.LosesRows()
			if pauses != tc.pauses || crashes != tc.crashes || publishes != tc.publishes || connector != tc.connector || loses != tc.losesRows {
				t.Errorf("pauses %v crashes %v publishes %v connector %v loses rows %v; want %v %v %v %v %v",
					pauses, crashes, publishes, connector, loses, tc.pauses, tc.crashes, tc.publishes, tc.connector, tc.losesRows)
			}
		})
	}
	if _, err := driver.New(scenarios.Path{Kind: "maxwell"}, driver.Config{}); err == nil {
		t.Error("an unknown path kind got a driver")
	}
}
