package driver_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// TestNew holds the seam's contract: each path kind gets its driver, and
// what the runner asks of a driver (faults, publishing, loss by design) is
// what that driver can do.
func TestNew(t *testing.T) {
	cl, err := connect.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cdc := driver.Path{Kind: "cdc"}
	dbz := driver.Path{Kind: "debezium"}
	poll := driver.Path{Kind: "poll", Param: "100ms"}
	for _, tc := range []struct {
		name                       string
		path                       driver.Path
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
		{name: "spark is killed and restarted by kill-relay", path: driver.Path{Kind: "spark", Param: "1s"}, crashes: true},
		{name: "debezium-server is killed and restarted by kill-capture", path: driver.Path{Kind: "debezium-server"}, crashes: true, publishes: true},
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
			publishes := driver.TraitsOf(tc.path, tc.cfg.CDC.Kind).Publishes
			_, connector := d.(driver.Connector)
			lt, ok := d.(driver.LossTolerant)
			loses := ok && lt.LosesRows()
			if needs := driver.TraitsOf(tc.path, tc.cfg.CDC.Kind).NeedsConnect; needs != connector {
				t.Errorf("traits say needs Connect %v, the driver runs a connector %v", needs, connector)
			}
			if pauses != tc.pauses || crashes != tc.crashes || publishes != tc.publishes || connector != tc.connector || loses != tc.losesRows {
				t.Errorf("pauses %v crashes %v publishes %v connector %v loses rows %v; want %v %v %v %v %v",
					pauses, crashes, publishes, connector, loses, tc.pauses, tc.crashes, tc.publishes, tc.connector, tc.losesRows)
			}
		})
	}
	if _, err := driver.New(driver.Path{Kind: "maxwell"}, driver.Config{}); err == nil {
		t.Error("an unknown path kind got a driver")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want driver.Path
		name string // canonical; "" for an error
	}{
		{"cdc", driver.Path{Kind: "cdc"}, "cdc"},
		{"poll-100ms", driver.Path{Kind: "poll", Param: "100ms"}, "poll-100ms"},
		{"poll-1s", driver.Path{Kind: "poll", Param: "1s"}, "poll-1s"},
		{"poll-0.25s", driver.Path{Kind: "poll", Param: "250ms"}, "poll-250ms"},
		{"poll-1m30s", driver.Path{Kind: "poll", Param: "1m30s"}, "poll-1m30s"},
		{"poll-1ms", driver.Path{Kind: "poll", Param: "1ms"}, "poll-1ms"},
		{"poll-2m0s", driver.Path{Kind: "poll", Param: "2m"}, "poll-2m"},
		{"poll-999us", driver.Path{}, ""},
		{"poll--1s", driver.Path{}, ""},
		{"poll-fast", driver.Path{}, ""},
		{"poll-", driver.Path{}, ""},
		{"poll100ms", driver.Path{}, ""},
		{"CDC", driver.Path{}, ""},
		{"debezium", driver.Path{Kind: "debezium"}, "debezium"},
		{"Debezium", driver.Path{}, ""},
		{"debezium-tuned", driver.Path{Kind: "debezium", Param: "tuned"}, "debezium-tuned"},
		{"debezium-l10", driver.Path{Kind: "debezium", Param: "l10"}, "debezium-l10"},
		{"debezium-", driver.Path{}, ""},
		{"debezium-Tuned", driver.Path{}, ""},
		{"debezium-a_b", driver.Path{}, ""},
		{"debezium-abcdefghijklmnopqrstu", driver.Path{}, ""},
		{"debezium-server", driver.Path{Kind: "debezium-server"}, "debezium-server"},
		{"debezium-server-tuned", driver.Path{Kind: "debezium-server", Param: "tuned"}, "debezium-server-tuned"},
		{"debezium-server-", driver.Path{}, ""},
		{"debezium-servers", driver.Path{Kind: "debezium", Param: "servers"}, "debezium-servers"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := driver.ParsePath(tc.in)
			if tc.name == "" {
				if !errors.Is(err, driver.ErrPath) {
					t.Errorf("ParsePath(%q) = %v, %v; want ErrPath", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want || got.String() != tc.name {
				t.Errorf("ParsePath(%q) = %+v (%q), %v; want %+v (%q)", tc.in, got, got.String(), err, tc.want, tc.name)
			}
		})
	}
}

// TestRegistry holds what scenarios and error messages read of the
// registered kinds: the default paths are paths, the names wanted are all
// listed, and settings go only to the kinds that take them.
func TestRegistry(t *testing.T) {
	if got, want := driver.DefaultPaths(), []string{"cdc", "poll-100ms"}; !slices.Equal(got, want) {
		t.Errorf("DefaultPaths() = %q, want %q", got, want)
	}
	for _, name := range driver.DefaultPaths() {
		if p, err := driver.ParsePath(name); err != nil || p.String() != name {
			t.Errorf("default path %q parses as %q, %v", name, p, err)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"maxwell", `want "cdc", "debezium", "debezium-<label>" such as "debezium-tuned", "debezium-server", "debezium-server-<label>" such as "debezium-server-tuned", "flink-cdc", "flink-cdc-<label>" such as "flink-cdc-tuned", "poll-<interval>" such as "poll-100ms", or "spark-<interval>" such as "spark-1s", got "maxwell"`},
		{"poll-1us", `, got "poll-1us": the interval must be at least 1ms`},
		{"debezium-A", `, got "debezium-A": a label is 1-20 of [a-z0-9]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := driver.ParsePath(tc.name)
			if !errors.Is(err, driver.ErrPath) || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("ParsePath(%q) = %v, want ErrPath ending %q", tc.name, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		path, key, value string
		want             string // "" for none
	}{
		{"debezium-tuned", "poll.interval.ms", "10", ""},
		{"debezium", "poll.interval.ms", " ", "has no value"},
		{"debezium", "slot.name", "x", "slot.name"},
		{"debezium-server-tuned", "debezium.source.poll.interval.ms", "10", ""},
		{"debezium-server", "poll.interval.ms", "10", `is written "debezium.source.poll.interval.ms"`},
		{"cdc", "poll.interval.ms", "10", "settings are for Debezium paths (debezium, debezium-<label>), Debezium Server paths (debezium-server, debezium-server-<label>), Flink CDC paths (flink-cdc, flink-cdc-<label>) and Spark paths (spark-<interval>); cdc has none"},
		{"poll-1s", "poll.interval.ms", "10", "poll-1s has none"},
	} {
		t.Run(tc.path+"/"+tc.key, func(t *testing.T) {
			p, err := driver.ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			err = driver.CheckSetting(p, tc.key, tc.value)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("CheckSetting(%s, %s=%q) = %v, want %q", p, tc.key, tc.value, err, tc.want)
			}
		})
	}
}

// TestWithDebezium: on the local stack a scenario's cdc path gets a
// debezium path beside it, once, and a scenario without a cdc path is
// left alone.
func TestWithDebezium(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"cdc", "poll-100ms"}, []string{"cdc", "debezium", "poll-100ms"}},
		{[]string{"cdc"}, []string{"cdc", "debezium"}},
		{[]string{"poll-1s", "cdc"}, []string{"poll-1s", "cdc", "debezium"}},
		{[]string{"debezium", "cdc"}, []string{"debezium", "cdc"}},
		{[]string{"cdc", "debezium-tuned"}, []string{"cdc", "debezium-tuned"}},
		{[]string{"poll-100ms"}, []string{"poll-100ms"}},
	} {
		in := slices.Clone(tc.in)
		if got := driver.WithDebezium(in); !slices.Equal(got, tc.want) {
			t.Errorf("WithDebezium(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("withDebezium changed its argument to %v", in)
		}
	}
}
