package driver

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/suggest"
)

// kindDebeziumServer is Debezium Server, the same PostgreSQL connector as
// the debezium path run by Debezium's own Quarkus process with its Kafka
// sink instead of in Kafka Connect: "debezium-server", or
// "debezium-server-<label>" for another with settings of its own. Its
// program is the distribution debeziumserver/pom.xml unpacks.
const kindDebeziumServer = "debezium-server"

// DebeziumServerVersion is the distribution debeziumserver/pom.xml pins.
const DebeziumServerVersion = "3.6.1.Final"

// debeziumServerJava is the lowest Java the distribution runs on: it is
// compiled for 21.
const debeziumServerJava = 21

// debeziumServerReadyTimeout bounds a start, from exec to its replication
// slot streaming: 25 s on 2 cores at a load of 2 (Quarkus, the Kafka
// producer, the connector's validation and the slot).
const debeziumServerReadyTimeout = 3 * time.Minute

func init() {
	Register(Kind{
		Name: kindDebeziumServer, Bare: true,
		Param:  labelParam,
		Syntax: `"debezium-server", "debezium-server-<label>" such as "debezium-server-tuned"`,
		New: func(_ Path, cfg Config) (Driver, error) {
			s := &debeziumServerDriver{settings: cfg.Settings}
			s.jvm = newOwnJVM("debezium server", func(err error) {
				if s.env.Fail != nil {
					s.env.Fail(fmt.Errorf("driver: debezium server: %w", err))
				}
			})
			return s, nil
		},
		Traits: func(string) Traits {
			// Its JVM is the path's own child, not a process of the stack:
			// OwnProcesses names it for the machine cost.
			return Traits{Publishes: true, Processes: []Process{{Name: "kafka broker", Role: result.RoleBroker}},
				Harness: "producer and agents (Debezium Server runs in a JVM of its own)", Setup: 30 * time.Second}
		},
		CheckSetting:   checkDebeziumServerSetting,
		SettingsSyntax: "Debezium Server paths (debezium-server, debezium-server-<label>)",
	})
}

// The prefixes of the settings a Debezium Server path takes, as its
// application.properties spells them: the connector's properties and its
// Kafka producer's. The rest of Debezium Server's keys (the sink type, the
// format, the offset store, quarkus.*) decide what the agents read and
// where, not how fast it gets there, so cdcbench sets them.
const (
	serverSource   = "debezium.source."
	serverProducer = "debezium.sink.kafka.producer."
)

// serverEngine are the embedded engine's own properties under
// debezium.source. (not the connector's, so not in connectorkeys), which
// tune when offsets are written.
var serverEngine = []string{"offset.flush.interval.ms", "offset.flush.timeout.ms"}

// serverReserved are the keys under the two prefixes that cdcbench sets
// itself, beyond the connector's (connectorkeys.Reserved), with why.
var serverReserved = map[string]string{
	serverSource + "offset.storage":               "offsets go to a file in the path's directory",
	serverSource + "offset.storage.file.filename": "offsets go to a file in the path's directory",
	serverProducer + "bootstrap.servers":          "the sink writes to the stack's Kafka",
	serverProducer + "key.serializer":             "Debezium Server's JSON format serializes the events",
	serverProducer + "value.serializer":           "Debezium Server's JSON format serializes the events",
}

// checkDebeziumServerSetting takes a Debezium PostgreSQL connector
// property or an engine property as debezium.source.<key>, or a Kafka
// producer setting as debezium.sink.kafka.producer.<key>, none that
// cdcbench sets itself, each with a value. A key written the Connect way
// (max.batch.size, producer.override.linger.ms) is told how Debezium
// Server spells it.
func checkDebeziumServerSetting(key, value string) error {
	if why := serverReserved[key]; why != "" {
		return fmt.Errorf("%w: %q (%s)", connectorkeys.ErrReserved, key, why)
	}
	switch {
	case strings.HasPrefix(key, serverSource):
		name := strings.TrimPrefix(key, serverSource)
		if why, ok := connectorkeys.Reserved(name); ok {
			return fmt.Errorf("%w: %q (%s)", connectorkeys.ErrReserved, key, why)
		}
		known := append(slices.Clone(connectorkeys.Debezium), serverEngine...)
		if !slices.Contains(known, name) {
			return unknownServerSetting(key, name, known, serverSource, "the Debezium PostgreSQL connector's properties")
		}
	case strings.HasPrefix(key, serverProducer):
		name := strings.TrimPrefix(key, serverProducer)
		if _, found := slices.BinarySearch(connectorkeys.Producer, name); !found {
			return unknownServerSetting(key, name, connectorkeys.Producer, serverProducer, "the Kafka producer's settings")
		}
	default:
		name := strings.TrimPrefix(key, connectorkeys.ProducerOverride)
		switch {
		case slices.Contains(connectorkeys.Producer, name):
			return fmt.Errorf("%w %q: a producer setting of Debezium Server is written %q", connectorkeys.ErrUnknown, key, serverProducer+name)
		case slices.Contains(connectorkeys.Debezium, key) || slices.Contains(serverEngine, key):
			return fmt.Errorf("%w %q: a connector setting of Debezium Server is written %q", connectorkeys.ErrUnknown, key, serverSource+key)
		}
		return fmt.Errorf("%w %q: a Debezium Server path takes %s<connector property> and %s<producer setting>",
			connectorkeys.ErrUnknown, key, serverSource, serverProducer)
	}
	if strings.TrimSpace(value) == "" {
		return errors.New("has no value (leave the key out for Debezium Server's default)")
	}
	return nil
}

// unknownServerSetting words an unknown key under prefix, with the name
// probably meant.
func unknownServerSetting(key, name string, known []string, prefix, where string) error {
	if guess := suggest.Closest(name, known); guess != "" {
		return fmt.Errorf("%w %q (did you mean %q?)", connectorkeys.ErrUnknown, key, prefix+guess)
	}
	return fmt.Errorf("%w %q: not among %s", connectorkeys.ErrUnknown, key, where)
}

//go:embed debeziumserver/pom.xml
var debeziumServerFiles embed.FS

// debeziumServerProject is the distribution for jvm.Cache, in a directory
// named by its version. The 781 MB archive is resolved into a Maven
// repository of its own and dropped once unpacked: kept in ~/.m2 it would
// double the disk the path costs (1.2 GB instead of 438 MB) to spare a
// download of about a minute should the unpacked copy be deleted.
var debeziumServerProject = func() jvm.Project {
	files, err := fs.Sub(debeziumServerFiles, "debeziumserver")
	if err != nil {
		panic(err)
	}
	return jvm.Project{Name: "Debezium Server", Key: "debezium-server-" + DebeziumServerVersion, Files: files, Pom: "pom.xml",
		Jars: []string{"lib"}, Size: "781 MB", PrivateRepository: true}
}()

// debeziumServerDriver runs Debezium Server as a child JVM, configured by
// an application.properties of the path's own, publishing to the stack's
// change topic; the agents read it there as on every Kafka path.
type debeziumServerDriver struct {
	kafkaDelivery
	settings map[string]string

	java  string
	dist  *jvm.Resolved
	dir   string            // the JVM's directory: config, offsets, log
	props map[string]string // the configuration it runs with
	// published is set once the publication may exist: Stop then drops
	// it and the slot, which only a started server creates.
	published bool
	jvm       *ownJVM // its starts run from exec to its slot streaming
}

// Start finds a Java 21 or later (before a first download of 781 MB),
// resolves the distribution, creates the publication, writes the
// configuration and starts Debezium Server, returning once its slot
// streams: its start-up is reported on its own (Report), never as a row's
// latency. Whatever Start created is removed again if it fails.
func (s *debeziumServerDriver) Start(ctx context.Context, env Env) (err error) {
	s.env = env
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop(context.WithoutCancel(ctx)))
		}
	}()
	if s.java, err = jvm.FindJava(ctx, jvm.Need{Min: debeziumServerJava, For: "Debezium Server " + DebeziumServerVersion}); err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	if s.dist, err = (jvm.Cache{Progress: os.Stderr}).Resolve(ctx, debeziumServerProject); err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	if s.dir, err = os.MkdirTemp("", stack.DebeziumServerDirPrefix); err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	s.published = true // a CREATE cancelled by Ctrl-C may still commit
	if err := createPublication(ctx, env); err != nil {
		return err
	}
	if s.props, err = s.config(env); err != nil {
		return err
	}
	if err := writeProperties(s.configFile(), s.props); err != nil {
		return err
	}
	return s.start(ctx)
}

// config is Debezium Server's configuration for the path: the Kafka sink
// to the stack's broker, JSON with schemas, the connector configured as
// the debezium path configures it in Connect (connect.DebeziumConfig,
// under debezium.source.), offsets in a file of the path's, then the
// path's settings.
func (s *debeziumServerDriver) config(env Env) (map[string]string, error) {
	pc, err := pgx.ParseConfig(env.Stack.DSN())
	if err != nil {
		return nil, fmt.Errorf("driver: debezium server: %w", err)
	}
	conn, err := connect.DebeziumConfig{
		Host: pc.Host, Port: int(pc.Port), User: pc.User, Password: pc.Password, DBName: pc.Database,
		Slot: env.Slot, Publication: env.Publication,
	}.Config()
	if err != nil {
		return nil, err
	}
	props := map[string]string{
		"debezium.sink.type":                          "kafka",
		serverProducer + "bootstrap.servers":          strings.Join(env.Stack.Brokers(), ","),
		serverProducer + "key.serializer":             "org.apache.kafka.common.serialization.StringSerializer",
		serverProducer + "value.serializer":           "org.apache.kafka.common.serialization.StringSerializer",
		"debezium.format.key":                         "json",
		"debezium.format.value":                       "json",
		"debezium.format.key.schemas.enable":          "true",
		"debezium.format.value.schemas.enable":        "true",
		serverSource + "offset.storage.file.filename": filepath.Join(s.dir, "offsets.dat"),
		serverSource + "offset.flush.interval.ms":     "0",
		"quarkus.http.port":                           "0",     // a free port: two runs may share the machine
		"quarkus.log.console.json.enabled":            "false", // plain lines, which its error excerpts quote
		"quarkus.banner.enabled":                      "false",
	}
	for k, v := range conn {
		switch k {
		case "tasks.max", "key.converter", "key.converter.schemas.enable", "value.converter", "value.converter.schemas.enable":
			// Connect's: Debezium Server runs one engine and converts with
			// debezium.format.*.
			continue
		}
		props[serverSource+k] = v
	}
	if env.KeyByUser {
		props[serverSource+"message.key.columns"] = "public.transactions:user_id"
	}
	maps.Copy(props, s.settings)
	return props, nil
}

// configFile is the path's application.properties.
func (s *debeziumServerDriver) configFile() string {
	return filepath.Join(s.dir, "config", "application.properties")
}

// writeProperties writes props as a Java properties file only its owner
// reads (it holds the database password).
func writeProperties(path string, props map[string]string) error {
	var b strings.Builder
	b.WriteString("# Written by cdcbench for one path; removed with it.\n")
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, propertyValue(props[k]))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	return nil
}

// propertyValue escapes a value as java.util.Properties reads it back:
// backslashes, line breaks and a leading space.
func propertyValue(v string) string {
	v = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(v)
	if strings.HasPrefix(v, " ") {
		v = `\` + v
	}
	return v
}

// start starts Debezium Server with the path's configuration and waits
// until a WAL sender of its own streams the slot (a new one after a
// crash, not the killed one's still leaving).
func (s *debeziumServerDriver) start(ctx context.Context) error {
	conn, err := stack.ConnectHarness(ctx, s.env.Stack.DSN())
	if err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	before, err := slotHolder(ctx, conn, s.env.Slot)
	if err != nil {
		return err
	}
	err = s.jvm.start(ctx, jvm.Spec{
		Name: "Debezium Server", Java: s.java,
		Script: filepath.Join(s.dist.Dir, "run.sh"), WorkDir: s.dist.Dir,
		// Quarkus reads config/ of its working directory, the shared
		// distribution's; the path's own file is named instead. On Java
		// 24 and later its JBoss threads need java.lang opened (without
		// it an IllegalAccessError ends their threads, seen at shutdown
		// on Temurin 25); on 21 the option changes nothing.
		Options: []string{"-Xmx1g", "--add-opens=java.base/java.lang=ALL-UNNAMED", "-Dquarkus.config.locations=" + s.configFile()},
		Dir:     s.dir, Log: filepath.Join(s.dir, "debezium-server.log"),
		Ready: func(ctx context.Context) error {
			pid, err := slotHolder(ctx, conn, s.env.Slot)
			if err == nil && (pid == 0 || pid == before) {
				err = fmt.Errorf("slot %s not streaming yet", s.env.Slot)
			}
			return err
		},
		ReadyWhat: "its replication slot streaming", ReadyTimeout: debeziumServerReadyTimeout,
	})
	if err != nil {
		return fmt.Errorf("driver: debezium server: %w", err)
	}
	return nil
}

// slotHolder is the pid of the WAL sender streaming slot, 0 for none.
func slotHolder(ctx context.Context, conn *pgx.Conn, slot string) (int, error) {
	var pid *int
	err := conn.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && pid == nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("driver: debezium server: slot %s: %w", slot, err)
	}
	return *pid, nil
}

// OwnProcesses is the Debezium Server JVM, for the path's machine cost:
// the one running now (another after kill-capture).
func (s *debeziumServerDriver) OwnProcesses() []OwnProcess { return s.jvm.processes() }

// Crash kills the JVM with SIGKILL (kill-capture) and, after down, starts
// it again on the same configuration: it resumes from its offset file,
// so the events it sent after its last offset flush are sent again (the
// agents count them as duplicates).
func (s *debeziumServerDriver) Crash(ctx context.Context, down time.Duration) error {
	again, err := s.jvm.crash(ctx, down)
	if !again {
		return err
	}
	return s.start(ctx)
}

// Report names Debezium Server's version and the Java it ran on, its
// configuration (passwords redacted), its start-up and restarts, and the
// size of the distribution (reports/README.md lists the fields).
func (s *debeziumServerDriver) Report(p *result.Path) {
	p.Capture = "Debezium Server " + DebeziumServerVersion + " (Kafka sink)"
	p.Settings = s.settings
	d := map[string]any{}
	if s.props != nil {
		d["server_config"] = connect.Config(s.props).Redacted()
	}
	if s.java != "" {
		d["server_java"] = s.java
	}
	s.jvm.report(d, "server")
	if s.dist != nil {
		d["server_dist_bytes"] = s.dist.Size
	}
	p.Driver = d
}

// Stop stops the JVM (its shutdown flushes offsets), then drops the slot
// Debezium created, the publication and the path's consumer groups, and
// removes the JVM's directory unless an error named the log in it.
func (s *debeziumServerDriver) Stop(ctx context.Context) error {
	first, err := s.jvm.stop(ctx)
	if !first {
		return nil
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if s.published {
		if err := s.dropCapture(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, keep := s.jvm.startups(); s.dir != "" && len(errs) == 0 && !keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("driver: debezium server: %w", err))
		}
	}
	return errors.Join(errs...)
}
