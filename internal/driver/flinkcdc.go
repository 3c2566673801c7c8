package driver

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/suggest"
)

// kindFlinkCDC is Flink CDC's PostgreSQL source in a local Flink
// MiniCluster writing Debezium JSON to the stack's Kafka with Flink's
// Kafka sink: "flink-cdc", or "flink-cdc-<label>" for another with
// settings of its own. The program is flinkcdc/src (Capture), built by
// Maven from flinkcdc/pom.xml.
const kindFlinkCDC = "flink-cdc"

// Versions flinkcdc/pom.xml pins; FlinkCDCDebeziumVersion is the Debezium
// that Flink CDC embeds (its envelopes' source.version).
const (
	FlinkCDCVersion         = "3.5.0"
	FlinkVersion            = "1.20.3"
	FlinkKafkaVersion       = "3.4.0-1.20"
	FlinkCDCDebeziumVersion = "1.9.8.Final"
)

// flinkMain is the program's main class.
const flinkMain = "cdcbench.flinkcdc.Capture"

// flinkReadyTimeout bounds a start: the JVM, the MiniCluster and the
// source's replication stream took 10-20 s on a loaded 2-core machine.
const flinkReadyTimeout = 3 * time.Minute

// The settings of a Flink CDC path, named as Flink and Flink CDC's SQL
// connector name them.
const (
	// flinkCheckpointInterval is how often Flink checkpoints; the source
	// confirms its position to the slot only when one completes, so it
	// bounds the WAL the slot retains and what a restart sends again.
	flinkCheckpointInterval = "execution.checkpointing.interval"
	// flinkLSNDelay is how many completed checkpoints the source waits
	// before confirming a position (the SQL connector's default is 3, the
	// DataStream builder's 0).
	flinkLSNDelay = "scan.lsn-commit.checkpoints-num-delay"
	// flinkDebezium prefixes a property of the Debezium engine Flink CDC
	// embeds, as in Flink CDC's SQL connector ('debezium.max.batch.size').
	flinkDebezium = "debezium."
)

// Defaults of the settings above.
const (
	flinkDefaultInterval = 10 * time.Second
	flinkDefaultLSNDelay = 0
)

func init() {
	Register(Kind{
		Name: kindFlinkCDC, Bare: true, Param: labelParam,
		Syntax: `"flink-cdc", "flink-cdc-<label>" such as "flink-cdc-tuned"`,
		New: func(_ Path, cfg Config) (Driver, error) {
			return newFlinkCDC(cfg.Settings)
		},
		Traits: func(string) Traits {
			// The Flink JVM is the path's own child: OwnProcesses names it.
			return Traits{Publishes: true, Processes: []Process{{Name: "kafka broker", Role: result.RoleBroker}},
				Harness: "producer and agents (Flink CDC runs in a JVM of its own)", Setup: 30 * time.Second}
		},
		CheckSetting:   checkFlinkSetting,
		SettingsSyntax: "Flink CDC paths (flink-cdc, flink-cdc-<label>)",
	})
}

// flinkConfig is a Flink CDC path's configuration, from its settings.
type flinkConfig struct {
	interval time.Duration
	lsnDelay int
	debezium map[string]string // without the prefix
}

// newFlinkConfig reads settings already checked by checkFlinkSetting.
func newFlinkConfig(settings map[string]string) (flinkConfig, error) {
	c := flinkConfig{interval: flinkDefaultInterval, lsnDelay: flinkDefaultLSNDelay, debezium: map[string]string{}}
	for k, v := range settings {
		if err := checkFlinkSetting(k, v); err != nil {
			return c, fmt.Errorf("driver: flink-cdc setting %s: %w", k, err)
		}
		switch {
		case k == flinkCheckpointInterval:
			c.interval, _ = time.ParseDuration(v)
		case k == flinkLSNDelay:
			c.lsnDelay, _ = strconv.Atoi(v)
		default:
			c.debezium[strings.TrimPrefix(k, flinkDebezium)] = v
		}
	}
	return c, nil
}

// checkFlinkSetting takes the checkpoint interval (a duration of at least
// 100ms), the LSN commit delay (a count) and debezium.<property> for the
// properties of Debezium's PostgreSQL connector that cdcbench does not
// set itself. The list is Debezium 3.6.1's (connectorkeys); Flink CDC
// embeds 1.9.8, which ignores a property added since.
func checkFlinkSetting(key, value string) error {
	switch key {
	case flinkCheckpointInterval:
		d, err := time.ParseDuration(value)
		if err != nil || d < 100*time.Millisecond {
			return fmt.Errorf("is a duration of at least 100ms such as 10s, got %q", value)
		}
		return nil
	case flinkLSNDelay:
		if n, err := strconv.Atoi(value); err != nil || n < 0 {
			return fmt.Errorf("is a count of checkpoints (0 or more), got %q", value)
		}
		return nil
	}
	prop, ok := strings.CutPrefix(key, flinkDebezium)
	if !ok {
		known := []string{flinkCheckpointInterval, flinkLSNDelay}
		msg := fmt.Sprintf("is not a setting of a Flink CDC path (they are %s and %s<property>)", strings.Join(known, ", "), flinkDebezium)
		if s := suggest.Closest(key, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else if connectorkeys.Check(key) == nil {
			msg += fmt.Sprintf("; did you mean %q?", flinkDebezium+key)
		}
		return errors.New(msg)
	}
	if strings.HasPrefix(prop, connectorkeys.ProducerOverride) {
		return fmt.Errorf("%w %q: Flink's Kafka sink is not Kafka Connect's producer", connectorkeys.ErrUnknown, key)
	}
	if err := connectorkeys.Check(prop); errors.Is(err, connectorkeys.ErrUnknown) {
		msg := fmt.Sprintf("%v %q: not among the Debezium PostgreSQL connector's properties", connectorkeys.ErrUnknown, key)
		if s := suggest.Closest(prop, connectorkeys.Debezium); s != "" {
			msg = fmt.Sprintf("%v %q (did you mean %q?)", connectorkeys.ErrUnknown, key, flinkDebezium+s)
		}
		return errors.New(msg)
	} else if err != nil {
		return err
	}
	if strings.TrimSpace(value) == "" {
		return errors.New("has no value (leave the key out for Debezium's default)")
	}
	return nil
}

//go:embed flinkcdc/pom.xml flinkcdc/src
var flinkFiles embed.FS

// flinkProject is the program's Maven project for jvm.Cache.
var flinkProject = embeddedProject(flinkFiles, "flinkcdc", "Flink CDC",
	"flink-cdc-"+FlinkCDCVersion+"-flink-"+FlinkVersion, "100 MB")

// flinkJavaOptions are the module openings Flink's own start scripts pass
// to Java 17 (env.java.opts.all in its config.yaml), which a program
// started without them must pass itself.
var flinkJavaOptions = []string{
	"--add-exports=java.base/sun.net.util=ALL-UNNAMED",
	"--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
	"--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
	"--add-opens=java.base/java.lang=ALL-UNNAMED",
	"--add-opens=java.base/java.net=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens=java.base/java.text=ALL-UNNAMED",
	"--add-opens=java.base/java.time=ALL-UNNAMED",
	"--add-opens=java.base/java.util=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
}

// flinkDriver runs Capture as a child JVM; the agents read its events
// from Kafka as they read Debezium's.
type flinkDriver struct {
	kafkaDelivery
	cfg      flinkConfig
	settings map[string]string

	dir  string // the JVM's directory: log, password file, checkpoints
	java string
	jars *jvm.Resolved
	slot *slotWatch

	jvm *ownJVM // each start's time is from exec to the slot's stream

	mu      sync.Mutex
	resumed []string // each start's position: "slot" or "checkpoint chk-N"
}

func newFlinkCDC(settings map[string]string) (*flinkDriver, error) {
	cfg, err := newFlinkConfig(settings)
	if err != nil {
		return nil, err
	}
	f := &flinkDriver{cfg: cfg, settings: settings}
	f.jvm = newOwnJVM("flink jvm", func(err error) {
		if f.env.Fail != nil {
			f.env.Fail(err)
		}
	})
	return f, nil
}

// Start creates the publication and the slot (pgoutput, as the other
// capture paths), resolves Flink's jars (downloading them on a first
// run) and starts the program, ready once its replication stream holds
// the slot: Flink's start-up, reported on its own (Report).
func (f *flinkDriver) Start(ctx context.Context, env Env) (err error) {
	f.env = env
	slotTried := false
	defer func() {
		if err != nil {
			err = errors.Join(err, f.stop(context.WithoutCancel(ctx), slotTried))
		}
	}()
	if f.jars, f.java, f.dir, err = prepareJVM(ctx, flinkProject, jvm.Need{Min: 17, For: "Flink " + FlinkVersion}, stack.FlinkCDCDirPrefix); err != nil {
		return fmt.Errorf("driver: flink-cdc: %w", err)
	}
	if err := createPublication(ctx, env); err != nil {
		return err
	}
	slotTried = true
	if err := relay.CreateSlot(ctx, env.Stack.ReplicationDSN(), env.Slot); err != nil {
		return err
	}
	if f.slot, err = watchSlot(ctx, env.Stack.DSN(), env.Slot); err != nil {
		return fmt.Errorf("driver: flink-cdc: %w", err)
	}
	return f.start(ctx)
}

// start starts the program and waits until a new WAL sender streams the
// slot: the source is reading.
func (f *flinkDriver) start(ctx context.Context) error {
	pc, pwFile, err := passwordFile(f.env.Stack.DSN(), f.dir)
	if err != nil {
		return fmt.Errorf("driver: flink-cdc: %w", err)
	}
	args := f.args(pc, pwFile, f.env.Stack.Brokers())
	held := f.slot.holder()
	err = f.jvm.start(ctx, jvm.Spec{
		Name: "Flink CDC", Java: f.java, Main: flinkMain,
		Classpath: []string{filepath.Join(f.jars.Dir, "app", "*"), filepath.Join(f.jars.Dir, "lib", "*")},
		Args:      args,
		Options: append([]string{"-Xmx1g", "-XX:+UseG1GC", "-Duser.timezone=UTC", "-Dfile.encoding=UTF-8",
			"-Djava.io.tmpdir=" + f.dir}, flinkJavaOptions...),
		Dir: f.dir, Log: filepath.Join(f.dir, "flink.log"),
		Ready: func(context.Context) error {
			if pid := f.slot.holder(); pid == 0 || pid == held {
				return fmt.Errorf("slot %s not streamed by a new WAL sender", f.env.Slot)
			}
			return nil
		},
		ReadyWhat: "its replication stream on the slot", ReadyTimeout: flinkReadyTimeout,
	})
	if err != nil {
		return fmt.Errorf("driver: flink-cdc: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumed = append(f.resumed, resumedFrom(filepath.Join(f.dir, "flink.log")))
	return nil
}

// resumedRE matches the line Capture logs on each start.
var resumedRE = regexp.MustCompile(`cdcbench-flinkcdc: resuming from (checkpoint chk-[0-9]+|slot)`)

// resumedFrom returns where the newest start in log resumed: "slot" or
// "checkpoint chk-N"; "unknown" if it logged neither.
func resumedFrom(log string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return "unknown"
	}
	m := resumedRE.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return "unknown"
	}
	return string(m[len(m)-1][1])
}

// args are the program's arguments (Capture reads them) for the stack's
// database as pc reaches it, the password in pwFile, and its brokers.
func (f *flinkDriver) args(pc *pgx.ConnConfig, pwFile string, brokers []string) []string {
	args := []string{"--host", pc.Host, "--port", strconv.Itoa(int(pc.Port)), "--database", pc.Database,
		"--user", pc.User, "--password-file", pwFile, "--table", connect.DefaultTable,
		"--slot", f.env.Slot, "--publication", f.env.Publication, "--server-name", connect.DefaultTopicPrefix,
		"--brokers", strings.Join(brokers, ","), "--topic", stack.ChangeTopic,
		"--checkpoint-interval-ms", strconv.FormatInt(f.cfg.interval.Milliseconds(), 10),
		"--lsn-commit-delay", strconv.Itoa(f.cfg.lsnDelay),
		"--checkpoint-dir", filepath.Join(f.dir, "checkpoints")}
	if f.env.KeyByUser {
		args = append(args, "--key-columns", connect.DefaultTable+":user_id")
	}
	for _, k := range slices.Sorted(maps.Keys(f.cfg.debezium)) {
		args = append(args, "--debezium", k+"="+f.cfg.debezium[k])
	}
	return args
}

// OwnProcesses is the Flink JVM, for the path's machine cost: the one
// running now (another after kill-capture).
func (f *flinkDriver) OwnProcesses() []OwnProcess { return f.jvm.processes() }

// Crash kills the Flink JVM with SIGKILL (kill-capture) and, after down,
// starts a new one, which restores the newest complete checkpoint or,
// before the first, streams from the slot's confirmed position: what was
// sent after it is sent again (duplicates), nothing is lost.
func (f *flinkDriver) Crash(ctx context.Context, down time.Duration) error {
	again, err := f.jvm.crash(ctx, down)
	if !again {
		return err
	}
	return f.start(ctx)
}

// Report names the versions and the configuration the program ran with,
// its start-up (flink_startup_ms) and restarts, and the WAL the slot
// retained (reports/README.md lists the fields).
func (f *flinkDriver) Report(p *result.Path) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.Capture = fmt.Sprintf("Flink CDC %s (Debezium %s) on Flink %s, Kafka sink %s", FlinkCDCVersion, FlinkCDCDebeziumVersion, FlinkVersion, FlinkKafkaVersion)
	p.Settings = f.settings
	d := map[string]any{"flink_config": map[string]any{
		flinkCheckpointInterval: f.cfg.interval.String(), flinkLSNDelay: f.cfg.lsnDelay,
		"debezium": f.cfg.debezium, "startup_mode": "committed-offset", "delivery_guarantee": "at-least-once",
		"parallelism": 1, "plugin": "pgoutput",
	}}
	if f.jvm.report(d, "flink") {
		d["flink_resumed_from"] = f.resumed
	}
	if f.slot != nil {
		w := f.slot.stats()
		d["wal_retained_bytes_max"] = w.retainedMax
		d["wal_unconfirmed_bytes_max"] = w.unconfirmedMax
		d["wal_samples"] = w.samples
	}
	if f.jars != nil {
		d["flink_jars_bytes"] = f.jars.Size
	}
	p.Driver = d
}

// Stop stops the JVM, then drops the slot, the publication and the
// path's consumer groups, and removes the JVM's directory unless an
// error named the log in it.
func (f *flinkDriver) Stop(ctx context.Context) error { return f.stop(ctx, true) }

func (f *flinkDriver) stop(ctx context.Context, dropSlot bool) error {
	first, err := f.jvm.stop(ctx)
	if !first {
		return nil
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if f.slot != nil {
		f.slot.close()
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if dropSlot {
		if err := relay.DropSlot(dctx, f.env.Stack.ReplicationDSN(), f.env.Slot); err != nil {
			errs = append(errs, err)
		}
	}
	if err := dropPublication(dctx, f.env.Stack, f.env.Publication); err != nil {
		errs = append(errs, err)
	}
	if err := f.deleteGroups(dctx); err != nil {
		errs = append(errs, err)
	}
	if _, _, keep := f.jvm.startups(); f.dir != "" && len(errs) == 0 && !keep {
		if err := os.RemoveAll(f.dir); err != nil {
			errs = append(errs, fmt.Errorf("driver: flink-cdc: %w", err))
		}
	}
	return errors.Join(errs...)
}
