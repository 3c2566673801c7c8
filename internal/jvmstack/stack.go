package jvmstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/jmxexporter"
	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// Defaults of Options.
const (
	// DefaultBrokerHeap and DefaultConnectHeap are -Xmx: enough for a
	// benchmark's single topic (Kafka's scripts default the broker to 1 GB),
	// small enough for a shared 2-core machine.
	DefaultBrokerHeap  = "512m"
	DefaultConnectHeap = "768m"
	// DefaultOffsetFlushInterval is how often the worker commits source
	// offsets (Connect's default is 60 s); it bounds how much Debezium
	// replays after the worker is killed.
	DefaultOffsetFlushInterval = time.Second
	// DefaultBrokerReadyTimeout and DefaultConnectReadyTimeout bound each
	// start; a warm start here takes about 5 s and 15 s.
	DefaultBrokerReadyTimeout  = 90 * time.Second
	DefaultConnectReadyTimeout = 3 * time.Minute
)

// DirPrefix starts the name of every stack's temp dir, so that
// FindLeftovers can find those of a killed cdcbench.
const DirPrefix = "cdcbench-jvm-"

// Names of the components in errors and logs.
const (
	brokerName  = "Kafka broker"
	connectName = "Kafka Connect worker"
)

// Options configures Start. The zero value is a usable default.
type Options struct {
	// Artifacts are the jars; nil means Resolve(ctx, Resolve).
	Artifacts *Artifacts
	Resolve   ResolveOptions
	// Ports on 127.0.0.1; 0 picks a free one. A given port that is in use
	// fails Start at once.
	BrokerPort, ControllerPort, ConnectPort int
	// BrokerHeap and ConnectHeap are -Xmx values ("" = the defaults).
	BrokerHeap, ConnectHeap string
	// OffsetFlushInterval is the worker's offset.flush.interval.ms
	// (0 = DefaultOffsetFlushInterval).
	OffsetFlushInterval time.Duration
	// BrokerConfig and ConnectConfig add to or override server.properties
	// and worker.properties.
	BrokerConfig, ConnectConfig map[string]string
	// Ready timeouts per component (0 = the defaults).
	BrokerReadyTimeout, ConnectReadyTimeout time.Duration
	// Keep leaves the temp dir (logs, data) after Close, for debugging.
	Keep bool
	// Progress gets a line per step; nil discards them.
	Progress io.Writer
}

// Versions are what the stack runs, for results and reports.
type Versions struct {
	Kafka    string `json:"kafka"`    // the broker's, KafkaVersion
	Connect  string `json:"connect"`  // as the worker's GET / reports it
	Debezium string `json:"debezium"` // as its GET /connector-plugins reports it
}

// ports are the stack's 127.0.0.1 ports: the broker's listeners, the
// worker's REST API, and the JMX exporter of each JVM (kept across a
// restart, so that a sampler's targets stay valid).
type ports struct{ broker, controller, connect, brokerMetrics, connectMetrics int }

// Stack is a running broker and Connect worker. Its methods are safe for
// concurrent use; Close is safe to call more than once.
type Stack struct {
	opts      Options
	art       *Artifacts
	dir       string
	ports     ports
	exporter  *jmxexporter.Exporter
	clusterID string
	progress  io.Writer

	mu       sync.Mutex // guards broker, connect, versions
	broker   *jvm.Process
	connect  *jvm.Process
	versions Versions

	// deaths receives the broker's or the worker's exit that cdcbench did
	// not ask for (Deaths).
	deaths chan error

	closeOnce sync.Once
	closeErr  error
}

// Deaths delivers an error (wrapping jvm.ErrDied, with the exit status and the
// log's last lines) when the broker or the worker exits without cdcbench
// stopping it: a kill from outside, a crash. A stop, a restart or a kill
// cdcbench makes (Close, RestartBroker, KillConnect) is not one.
func (s *Stack) Deaths() <-chan error { return s.deaths }

// Start resolves the jars (unless given), formats a fresh KRaft log dir,
// starts the broker and then the worker, and returns once the broker answers
// metadata requests for its cluster and the worker's REST API answers and
// lists the Debezium PostgreSQL connector. On any error everything already
// started is stopped and the temp dir removed, and the error names the
// component and quotes its log.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{opts: opts, art: opts.Artifacts, progress: opts.Progress, deaths: make(chan error, 2)}
	if s.progress == nil {
		s.progress = io.Discard
	}
	if s.art == nil {
		if s.art, err = Resolve(ctx, opts.Resolve); err != nil {
			return nil, err
		}
	}
	if s.ports, err = pickPorts(opts); err != nil {
		return nil, err
	}
	if s.clusterID, err = newClusterID(); err != nil {
		return nil, err
	}
	if s.dir, err = os.MkdirTemp("", DirPrefix+"*"); err != nil {
		return nil, fmt.Errorf("jvmstack: temp dir: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close(context.WithoutCancel(ctx)))
		}
	}()
	if err := s.writeFiles(); err != nil {
		return nil, err
	}
	if s.exporter, err = s.exporterIn(s.dir); err != nil {
		return nil, err
	}
	if err := s.format(ctx); err != nil {
		return nil, err
	}
	if err := s.startBroker(ctx); err != nil {
		return nil, err
	}
	if err := s.startConnect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Brokers is the broker's bootstrap address, 127.0.0.1:port.
func (s *Stack) Brokers() []string { return []string{s.brokerAddr()} }

func (s *Stack) brokerAddr() string { return "127.0.0.1:" + strconv.Itoa(s.ports.broker) }

// ConnectURL is the worker's REST API, http://127.0.0.1:port.
func (s *Stack) ConnectURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.ports.connect) }

// Dir is the stack's temp dir: properties, logs, the broker's data.
func (s *Stack) Dir() string { return s.dir }

// ClusterID is the KRaft cluster id the storage was formatted with.
func (s *Stack) ClusterID() string { return s.clusterID }

// exporterIn is the artifacts' JMX exporter with its rules in dir (a copy:
// Artifacts are shared by stacks).
func (s *Stack) exporterIn(dir string) (*jmxexporter.Exporter, error) {
	if s.art.Exporter == nil {
		return nil, errors.New("jvmstack: the artifacts have no JMX exporter (jvmstack.Resolve finds it)")
	}
	e := *s.art.Exporter
	if err := e.WriteRules(dir); err != nil {
		return nil, fmt.Errorf("jvmstack: %w", err)
	}
	return &e, nil
}

// BrokerMetricsURL and ConnectMetricsURL are the JMX exporters' /metrics
// of the broker and the worker (package jmxexporter), the same across
// restarts.
func (s *Stack) BrokerMetricsURL() string  { return jmxexporter.URL(s.ports.brokerMetrics) }
func (s *Stack) ConnectMetricsURL() string { return jmxexporter.URL(s.ports.connectMetrics) }

// BrokerLog and ConnectLog are the components' log files.
func (s *Stack) BrokerLog() string  { return filepath.Join(s.dir, "broker.log") }
func (s *Stack) ConnectLog() string { return filepath.Join(s.dir, "connect.log") }

// Versions reports what runs.
func (s *Stack) Versions() Versions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions
}

// PIDs are the broker's and the worker's process ids (0 when not running).
func (s *Stack) PIDs() (broker, connect int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return livePID(s.broker), livePID(s.connect)
}

func livePID(p *jvm.Process) int {
	if p == nil || p.Exited() {
		return 0
	}
	return p.PID()
}

// PeakRSS is each running JVM's peak resident set (VmHWM) in bytes, 0 for
// one that is not running.
func (s *Stack) PeakRSS() (broker, connect int64) {
	b, c := s.PIDs()
	return peakRSS(b), peakRSS(c)
}

func peakRSS(pid int) int64 {
	if pid == 0 {
		return 0
	}
	m, err := proccost.ReadMemory(pid)
	if err != nil {
		return 0
	}
	return m.HWM
}

// pickPorts takes the given ports after checking they are free, and free
// ones for the rest. A free port may be taken by someone else before the JVM
// binds it; the JVM then fails with "Address already in use" in its log.
func pickPorts(opts Options) (ports, error) {
	var p ports
	for _, f := range []struct {
		name string
		want int
		dst  *int
	}{
		{brokerName, opts.BrokerPort, &p.broker},
		{brokerName + " (controller listener)", opts.ControllerPort, &p.controller},
		{connectName + " (REST API)", opts.ConnectPort, &p.connect},
		{brokerName + " (metrics)", 0, &p.brokerMetrics},
		{connectName + " (metrics)", 0, &p.connectMetrics},
	} {
		port, err := freePort(f.want)
		if err != nil {
			return p, fmt.Errorf("jvmstack: %s: %w", f.name, err)
		}
		*f.dst = port
	}
	return p, nil
}

// freePort returns want after checking that 127.0.0.1:want can be bound, or
// a port the kernel picks when want is 0.
func freePort(want int) (int, error) {
	if want < 0 || want > 65535 {
		return 0, fmt.Errorf("port %d out of range", want)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want)))
	if err != nil {
		if want != 0 {
			return 0, fmt.Errorf("port 127.0.0.1:%d is in use by another process (%w); pick another port or leave it 0 for a free one", want, err)
		}
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeFiles writes the properties and the log4j2 config into the temp dir.
func (s *Stack) writeFiles() error {
	for _, d := range []string{"kafka-data", "tmp"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o755); err != nil {
			return fmt.Errorf("jvmstack: %w", err)
		}
	}
	flush := s.opts.OffsetFlushInterval
	if flush <= 0 {
		flush = DefaultOffsetFlushInterval
	}
	files := map[string]string{
		"server.properties": brokerProperties(s.ports, filepath.Join(s.dir, "kafka-data"), s.opts.BrokerConfig),
		"worker.properties": connectProperties(s.ports, s.brokerAddr(), s.art.PluginPath, flush, s.opts.ConnectConfig),
		"log4j2.xml":        string(log4j2Config),
	}
	for name, content := range files {
		if err := writeFile(filepath.Join(s.dir, name), content); err != nil {
			return err
		}
	}
	return nil
}

// spec is how the stack runs one of its JVMs: main on lib's jars with
// heap, in the stack's dir, its deaths reported on Deaths.
func (s *Stack) spec(name, lib, heap, log, main string, args ...string) jvm.Spec {
	return jvm.Spec{
		Name: name, Java: s.art.Java, Main: main, Classpath: []string{filepath.Join(lib, "*")}, Args: args,
		Options: []string{
			"-Xms64m", "-Xmx" + heap,
			// Kafka's own scripts' GC settings.
			"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
			"-XX:+ExplicitGCInvokesConcurrent",
			"-Djava.awt.headless=true",
			"-Djava.io.tmpdir=" + filepath.Join(s.dir, "tmp"),
			"-Dlog4j2.configurationFile=" + filepath.Join(s.dir, "log4j2.xml"),
		},
		Dir: s.dir, Log: log, Deaths: s.deaths,
	}
}

// orDefault is v, or def when v is not above the zero value: an empty
// heap, a timeout of 0 or less.
func orDefault[T cmp.Ordered](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}

// format runs the storage tool on the fresh log dir (static quorum, hence
// no --standalone).
func (s *Stack) format(ctx context.Context) error {
	spec := s.spec("Kafka storage tool", s.art.BrokerLib, "256m", s.BrokerLog(), "kafka.tools.StorageTool", "format",
		"-t", s.clusterID, "-c", filepath.Join(s.dir, "server.properties"))
	spec.Deaths = nil // it ends by itself
	p, err := jvm.Start(ctx, spec)
	if err != nil {
		return err
	}
	return p.Wait(ctx, time.Minute, "format the broker's storage")
}

// startBroker starts kafka.Kafka and waits until it answers metadata
// requests with our cluster id.
func (s *Stack) startBroker(ctx context.Context) error {
	spec := s.spec(brokerName, s.art.BrokerLib, orDefault(s.opts.BrokerHeap, DefaultBrokerHeap), s.BrokerLog(),
		"kafka.Kafka", filepath.Join(s.dir, "server.properties"))
	spec.Agents = []jvm.Agent{s.exporter.Agent(s.ports.brokerMetrics)}
	spec.Ready, spec.ReadyWhat = s.brokerReady, "metadata request"
	spec.ReadyTimeout = orDefault(s.opts.BrokerReadyTimeout, DefaultBrokerReadyTimeout)
	return s.start(ctx, &s.broker, spec, func() string {
		return fmt.Sprintf("Kafka %s broker ready on %s", KafkaVersion, s.brokerAddr())
	})
}

// brokerReady asks the broker for metadata; it must be ours (the cluster id
// we formatted with) and list itself.
func (s *Stack) brokerReady(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.brokerAddr()), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if md.Cluster != s.clusterID {
		return fmt.Errorf("%s answers for cluster %q, not ours (%q)", s.brokerAddr(), md.Cluster, s.clusterID)
	}
	if len(md.Brokers) == 0 {
		return errors.New("no brokers in metadata yet")
	}
	return nil
}

// startConnect starts ConnectDistributed and waits until its REST API
// answers GET / for our cluster, lists the Debezium connector and answers
// GET /connectors (the herder has started).
func (s *Stack) startConnect(ctx context.Context) error {
	spec := s.spec(connectName, s.art.ConnectLib, orDefault(s.opts.ConnectHeap, DefaultConnectHeap), s.ConnectLog(),
		"org.apache.kafka.connect.cli.ConnectDistributed", filepath.Join(s.dir, "worker.properties"))
	spec.Agents = []jvm.Agent{s.exporter.Agent(s.ports.connectMetrics)}
	spec.Ready, spec.ReadyWhat = s.connectReady, "REST API with the Debezium plugin"
	spec.ReadyTimeout = orDefault(s.opts.ConnectReadyTimeout, DefaultConnectReadyTimeout)
	return s.start(ctx, &s.connect, spec, func() string {
		v := s.Versions()
		return fmt.Sprintf("Kafka Connect %s with Debezium %s ready on %s", v.Connect, v.Debezium, s.ConnectURL())
	})
}

// start starts spec, keeps it in *slot from its start (Close stops it
// also during its start-up), and says when it is ready with ready's line
// and the time it took.
func (s *Stack) start(ctx context.Context, slot **jvm.Process, spec jvm.Spec, ready func() string) error {
	t0 := time.Now()
	spec.Started = func(p *jvm.Process) {
		s.mu.Lock()
		*slot = p
		s.mu.Unlock()
	}
	if _, err := jvm.Start(ctx, spec); err != nil {
		return err // it names the JVM and quotes its log
	}
	fmt.Fprintf(s.progress, "jvmstack: %s in %s\n", ready(), time.Since(t0).Round(100*time.Millisecond))
	return nil
}

func (s *Stack) connectReady(ctx context.Context) error {
	c, err := connect.New(s.ConnectURL(), connect.WithRetries(1, 0))
	if err != nil {
		return err
	}
	info, err := c.Check(ctx)
	if err != nil {
		return err
	}
	if info.KafkaClusterID != s.clusterID {
		return fmt.Errorf("%s works for Kafka cluster %q, not ours (%q)", s.ConnectURL(), info.KafkaClusterID, s.clusterID)
	}
	dbz, err := c.DebeziumVersion(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.ConnectURL()+"/connectors", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /connectors answered %s", resp.Status)
	}
	s.mu.Lock()
	s.versions = Versions{Kafka: KafkaVersion, Connect: info.Version, Debezium: dbz}
	s.mu.Unlock()
	return nil
}

// RestartBroker stops the broker (SIGTERM, an orderly shutdown), waits
// down, and starts it again on the same ports with the same data; the
// worker stays up and reconnects. It returns once the broker answers again.
func (s *Stack) RestartBroker(ctx context.Context, down time.Duration) error {
	s.mu.Lock()
	b := s.broker
	s.mu.Unlock()
	if b != nil {
		if err := b.Stop(ctx); err != nil {
			return err
		}
	}
	if err := wait.Sleep(ctx, down); err != nil {
		return err
	}
	return s.startBroker(ctx)
}

// KillConnect kills the worker with SIGKILL (no shutdown hooks: offsets not
// yet flushed are lost, as in a crash) and waits until it is gone.
func (s *Stack) KillConnect() {
	s.mu.Lock()
	c := s.connect
	s.mu.Unlock()
	if c != nil {
		c.Kill()
	}
}

// StartConnect starts the worker again after KillConnect, on the same port
// with the same group and storage topics, so it finds its connectors and
// offsets; it returns once the REST API is ready again.
func (s *Stack) StartConnect(ctx context.Context) error {
	s.mu.Lock()
	c := s.connect
	s.mu.Unlock()
	if c != nil && !c.Exited() {
		return fmt.Errorf("jvmstack: %s is still running (pid %d)", connectName, c.PID())
	}
	return s.startConnect(ctx)
}

// RestartConnect is KillConnect, a pause of down, and StartConnect: the
// kill-connect fault.
func (s *Stack) RestartConnect(ctx context.Context, down time.Duration) error {
	s.KillConnect()
	if err := wait.Sleep(ctx, down); err != nil {
		return err
	}
	return s.StartConnect(ctx)
}

// Close stops the worker, then the broker (each SIGTERM, SIGKILL after a
// bound or when ctx ends), and removes the temp dir unless Options.Keep.
// Only a broker that had to be killed makes it return an error.
func (s *Stack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Stack) close(ctx context.Context) error {
	s.mu.Lock()
	c, b := s.connect, s.broker
	s.mu.Unlock()
	var errs []error
	// A worker that does not finish its graceful shutdown in time (seen
	// under heavy load after a kill -9 and restart: it waits for its group
	// and its tasks) is killed; at Close that loses nothing, the stack dir
	// goes with it, so it is reported on Progress, not as an error. The
	// broker's is an error: its data may be reused.
	if c != nil {
		if err := c.Stop(ctx); err != nil && ctx.Err() == nil { // killed as asked otherwise
			fmt.Fprintf(s.progress, "%v\n", err)
		}
	}
	if b != nil {
		errs = append(errs, b.Stop(ctx))
	}
	if s.dir != "" && !s.opts.Keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("jvmstack: remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
