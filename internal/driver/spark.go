package driver

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/suggest"
	"github.com/cdcbench/cdcbench/internal/table"
)

// kindSpark is Apache Spark in local mode reading the table through its
// JDBC data source every interval, the way a Spark user polls a table
// (Spark has no streaming JDBC source): "spark-1s". The program is
// spark/src (JdbcCapture), built by Maven from spark/pom.xml.
const kindSpark = "spark"

// SparkVersion is the Spark that spark/pom.xml pins.
const SparkVersion = "4.2.0"

// sparkMain is the program's main class.
const sparkMain = "cdcbench.spark.JdbcCapture"

// sparkReadyTimeout bounds Spark's start-up: the JVM, the SparkSession and
// its first read took 20 s at a load of 4 on 2 cores.
const sparkReadyTimeout = 3 * time.Minute

func init() {
	Register(Kind{
		Name: kindSpark, Param: pollInterval,
		Syntax: `"spark-<interval>" such as "spark-1s"`,
		New: func(p Path, cfg Config) (Driver, error) {
			d, err := time.ParseDuration(p.Param)
			if err != nil {
				return nil, fmt.Errorf("driver: path %s: %w", p, err)
			}
			sd := &sparkDriver{interval: d, settings: cfg.Settings}
			sd.jvm = newOwnJVM("spark jvm", func(err error) {
				if sd.env.Fail != nil {
					sd.env.Fail(err)
				}
			})
			return sd, nil
		},
		Traits: func(string) Traits {
			// The Spark JVM is the path's own child, not a process of the
			// stack: OwnProcesses names it for the machine cost.
			return Traits{Harness: "producer and agents (Spark runs in a JVM of its own)", Setup: 30 * time.Second}
		},
		CheckSetting:   checkSparkSetting,
		SettingsSyntax: "Spark paths (spark-<interval>)",
	})
}

// sparkOptions are the Spark JDBC options a Spark path's settings may set:
// the ones JdbcCapture accepts (OPTIONS there; a test holds the two
// lists equal). Spark reads option names without regard to case.
var sparkOptions = []string{"fetchsize", "numPartitions"}

// sparkMemory is the setting for the JVM's heap (-Xmx): in local mode the
// driver is the JVM cdcbench starts, so spark.driver.memory is its heap.
const sparkMemory = "spark.driver.memory"

// memorySize is a JVM memory size as -Xmx takes it.
var memorySize = regexp.MustCompile(`^[1-9][0-9]*[kmgKMG]$`)

// checkSparkSetting takes the JDBC options JdbcCapture accepts, each a
// positive integer, and the driver's memory.
func checkSparkSetting(key, value string) error {
	if key == sparkMemory {
		if !memorySize.MatchString(value) {
			return fmt.Errorf("is a JVM memory size such as 1g or 768m, got %q", value)
		}
		return nil
	}
	if canonicalSparkOption(key) == "" {
		known := append(slices.Clone(sparkOptions), sparkMemory)
		msg := fmt.Sprintf("is not a setting of a Spark path (they are %s)", strings.Join(known, ", "))
		if s := suggest.Closest(key, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return errors.New(msg)
	}
	if n, err := strconv.Atoi(value); err != nil || n < 1 {
		return fmt.Errorf("is a positive integer, got %q", value)
	}
	return nil
}

// canonicalSparkOption returns the JDBC option key names, spelled as
// Spark's documentation does, or "" for none.
func canonicalSparkOption(key string) string {
	for _, o := range sparkOptions {
		if strings.EqualFold(o, key) {
			return o
		}
	}
	return ""
}

//go:embed spark/pom.xml spark/src
var sparkFiles embed.FS

// sparkProject is the program's Maven project for jvm.Cache: its key
// changes with Spark's version and with every byte of the project, so a
// changed program is built afresh (Maven's own repository keeps the jars).
var sparkProject = embeddedProject(sparkFiles, "spark", "Spark", "spark-"+SparkVersion, "280 MB")

// sparkDriver runs JdbcCapture as a child JVM and hands the rows each of
// its reads returned to the agents (sparkFeed).
type sparkDriver struct {
	interval time.Duration
	settings map[string]string
	env      Env

	dir  string // the JVM's directory: log, password file, tmp
	java string
	jars *jvm.Resolved
	feed *sparkFeed

	jvm     *ownJVM      // each start's time is from exec to the ready line
	session atomic.Int64 // the first start's, as the JVM measured it (ms)
}

// Start resolves Spark's jars (downloading them on a first run), starts
// the program on a loopback socket and waits until its SparkSession has
// read the table once: Spark's start-up, reported on its own (Report),
// never as a row's latency.
func (s *sparkDriver) Start(ctx context.Context, env Env) (err error) {
	s.env = env
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop(context.WithoutCancel(ctx)))
		}
	}()
	if s.jars, s.java, s.dir, err = prepareJVM(ctx, sparkProject, jvm.Need{Min: 17, For: "Spark " + SparkVersion}, stack.SparkDirPrefix); err != nil {
		return fmt.Errorf("driver: spark: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("driver: spark: %w", err)
	}
	// A Spark that stops delivering is a death too.
	s.feed = newSparkFeed(ln, table.ProbeID, s.jvm.died)
	return s.start(ctx)
}

// start starts the program from the feed's high-water mark and waits for
// its ready line.
func (s *sparkDriver) start(ctx context.Context) error {
	pc, pwFile, err := passwordFile(s.env.Stack.DSN(), s.dir)
	if err != nil {
		return fmt.Errorf("driver: spark: %w", err)
	}
	jdbc := fmt.Sprintf("jdbc:postgresql://%s/%s?ApplicationName=%s", net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))),
		url.PathEscape(pc.Database), url.QueryEscape(s.env.Application))
	args := []string{"--url", jdbc, "--user", pc.User, "--password-file", pwFile, "--app", s.env.Application,
		"--interval-ms", strconv.FormatInt(max(s.interval.Milliseconds(), 1), 10),
		"--first-id", strconv.FormatInt(s.feed.mark(), 10), "--sink", s.feed.addr()}
	heap := "1g"
	for k, v := range s.settings {
		if k == sparkMemory {
			heap = v
			continue
		}
		// A key the scenario check would have refused (settings given
		// past it) goes as it is, so that the program's refusal names it.
		name := canonicalSparkOption(k)
		if name == "" {
			name = k
		}
		args = append(args, "--option", name+"="+v)
	}
	ready := s.feed.expect()
	err = s.jvm.start(ctx, jvm.Spec{
		Name: "Spark", Java: s.java, Main: sparkMain,
		Classpath: []string{filepath.Join(s.jars.Dir, "app", "*"), filepath.Join(s.jars.Dir, "lib", "*")},
		Args:      args,
		Options: append([]string{"-Xmx" + heap, "-XX:+UseG1GC", "-Duser.timezone=UTC",
			"-Djava.io.tmpdir=" + s.dir}, sparkJavaOptions...),
		Dir: s.dir, Log: filepath.Join(s.dir, "spark.log"),
		Ready:     func(context.Context) error { return ready.err() },
		ReadyWhat: "a SparkSession that read the table once", ReadyTimeout: sparkReadyTimeout,
	})
	if err != nil {
		return fmt.Errorf("driver: spark: %w", err)
	}
	s.session.CompareAndSwap(0, ready.sessionMs)
	return nil
}

// sparkJavaOptions are the module openings spark-submit passes to Java 17
// (Spark's JavaModuleOptions), which a program started without
// spark-submit must pass itself.
var sparkJavaOptions = []string{
	"-XX:+IgnoreUnrecognizedVMOptions",
	"--add-opens=java.base/java.lang=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
	"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
	"--add-opens=java.base/java.io=ALL-UNNAMED",
	"--add-opens=java.base/java.net=ALL-UNNAMED",
	"--add-opens=java.base/java.nio=ALL-UNNAMED",
	"--add-opens=java.base/java.util=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
	"--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
	"--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
	"--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
	"--add-opens=java.base/sun.security.action=ALL-UNNAMED",
	"--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
	"-Djdk.reflect.useDirectMethodHandle=false",
	"-Dio.netty.tryReflectionSetAccessible=true",
}

// OwnProcesses is the Spark JVM, for the path's machine cost: the one
// running now (another after kill-relay).
func (s *sparkDriver) OwnProcesses() []OwnProcess { return s.jvm.processes() }

// Open subscribes one agent instance to the rows Spark reads from now on:
// like a poller, every instance receives every row.
func (s *sparkDriver) Open(context.Context, string) (source.Source, error) {
	return s.feed.subscribe(), nil
}

// Crash kills the Spark JVM (the kill-relay fault) and, after down, starts
// a new one from the high-water mark: the rows above it that were already
// delivered are read again but not handed over again.
func (s *sparkDriver) Crash(ctx context.Context, down time.Duration) error {
	s.feed.detach()
	again, err := s.jvm.crash(ctx, down)
	if !again {
		return err
	}
	return s.start(ctx)
}

// Report names Spark's version and options and its start-up: the first
// start's from exec to the ready line (spark_startup_ms) and the JVM's own
// up to it (spark_session_ms), each restart's, its reads and the hop of
// their rows from the JVM (reports/README.md lists the fields).
func (s *sparkDriver) Report(p *result.Path) {
	opts := map[string]string{}
	for k, v := range s.settings {
		if o := canonicalSparkOption(k); o != "" {
			k = o
		}
		opts[k] = v
	}
	p.Capture = fmt.Sprintf("Spark %s JDBC read every %v (local mode)", SparkVersion, s.interval)
	p.Settings = s.settings
	d := map[string]any{"spark_options": opts}
	if s.jvm.report(d, "spark") {
		d["spark_session_ms"] = s.session.Load()
	}
	if s.feed != nil {
		st := s.feed.stats()
		d["spark_reads"], d["spark_rows"], d["spark_read_ms_max"] = st.reads, st.rows, st.readMsMax
		if st.reads > 0 {
			d["spark_read_ms_mean"] = float64(st.readMsSum) / float64(st.reads)
			d["spark_hop_ms_mean"] = float64(st.hopUsSum) / float64(st.reads) / 1000
			d["spark_hop_ms_max"] = float64(st.hopUsMax) / 1000
		}
	}
	if s.jars != nil {
		d["spark_jars_bytes"] = s.jars.Size
	}
	p.Driver = d
}

// Stop stops the JVM and closes the feed, then removes the JVM's
// directory, unless an error named the log in it.
func (s *sparkDriver) Stop(ctx context.Context) error {
	first, err := s.jvm.stop(ctx)
	if !first {
		return nil
	}
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if s.feed != nil {
		s.feed.close()
	}
	if _, _, keep := s.jvm.startups(); s.dir != "" && len(errs) == 0 && !keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("driver: spark: %w", err))
		}
	}
	return errors.Join(errs...)
}
