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
	"slices"
	"strconv"
	"strings"
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
	// start; a warm start here takes about 5 s and 15 s. A cluster's nodes
	// start together on the same cores, each bounded by the default times
	// their number (three brokers took over 90 s on a 2-core machine at a
	// load average of 40).
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
	// Brokers is how many Kafka nodes to run (0 = 1, at most MaxBrokers);
	// ConnectWorkers how many Connect workers in one group (0 = 1, at most
	// MaxConnectWorkers). See cluster.go for the shape of several.
	Brokers, ConnectWorkers int
	// Ports on 127.0.0.1 of the first broker and worker; 0 picks a free
	// one, as every other node's are. A given port that is in use fails
	// Start at once.
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

// Stack is a running Kafka cluster (one broker by default) and Connect
// group (one worker by default). Its methods are safe for concurrent use;
// Close is safe to call more than once.
type Stack struct {
	opts      Options
	art       *Artifacts
	dir       string
	cluster   cluster
	exporter  *jmxexporter.Exporter
	clusterID string
	progress  io.Writer

	mu       sync.Mutex // guards the nodes' and workers' proc, versions
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
	if err := opts.check(); err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, art: opts.Artifacts, progress: opts.Progress}
	if s.progress == nil {
		s.progress = io.Discard
	}
	if s.art == nil {
		if s.art, err = Resolve(ctx, opts.Resolve); err != nil {
			return nil, err
		}
	}
	if s.cluster, err = pickPorts(opts); err != nil {
		return nil, err
	}
	s.deaths = make(chan error, len(s.cluster.nodes)+len(s.cluster.workers))
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
	// Together: a node of a quorum of three is ready only once another
	// controller is up. Workers likewise, each joins the group.
	if err := all(s.cluster.nodes, func(n *brokerNode) error { return s.startBroker(ctx, n) }); err != nil {
		return nil, err
	}
	if err := all(s.cluster.workers, func(w *workerNode) error { return s.startConnect(ctx, w) }); err != nil {
		return nil, err
	}
	return s, nil
}

// check bounds the cluster's size.
func (o Options) check() error {
	if o.Brokers < 0 || o.Brokers > MaxBrokers {
		return fmt.Errorf("jvmstack: %d brokers: want 1 to %d", o.Brokers, MaxBrokers)
	}
	if o.ConnectWorkers < 0 || o.ConnectWorkers > MaxConnectWorkers {
		return fmt.Errorf("jvmstack: %d Connect workers: want 1 to %d", o.ConnectWorkers, MaxConnectWorkers)
	}
	return nil
}

// all runs start on every item at once and returns their errors joined.
func all[T any](items []T, start func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = start(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Brokers are the brokers' bootstrap addresses, 127.0.0.1:port each.
func (s *Stack) Brokers() []string { return strings.Split(s.cluster.bootstrap(), ",") }

// ConnectURL is the first worker's REST API, http://127.0.0.1:port: any
// worker of the group takes a connector's configuration.
func (s *Stack) ConnectURL() string { return workerURL(s.cluster.workers[0]) }

func workerURL(w *workerNode) string { return "http://127.0.0.1:" + strconv.Itoa(w.port) }

// Dir is the stack's temp dir: properties, logs, the broker's data.
func (s *Stack) Dir() string { return s.dir }

// ClusterID is the KRaft cluster id the storage was formatted with.
func (s *Stack) ClusterID() string { return s.clusterID }

// BrokerLog and ConnectLog are the first broker's and worker's log files.
func (s *Stack) BrokerLog() string {
	_, log, _ := brokerFiles(s.dir, s.cluster.nodes[0])
	return log
}

func (s *Stack) ConnectLog() string {
	_, log := workerFiles(s.dir, s.cluster.workers[0])
	return log
}

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

// BrokerMetricsURLs and WorkerMetricsURLs are the JMX exporters' /metrics
// of each broker and worker, in the order of BrokerPIDs and WorkerPIDs
// (package jmxexporter), the same across restarts.
func (s *Stack) BrokerMetricsURLs() []string {
	var out []string
	for _, n := range s.cluster.nodes {
		out = append(out, jmxexporter.URL(n.metrics))
	}
	return out
}

func (s *Stack) WorkerMetricsURLs() []string {
	var out []string
	for _, w := range s.cluster.workers {
		out = append(out, jmxexporter.URL(w.metrics))
	}
	return out
}

// Versions reports what runs.
func (s *Stack) Versions() Versions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions
}

// PIDs are the first broker's and the first worker's process ids (0 when
// not running).
func (s *Stack) PIDs() (broker, connect int) {
	b, c := s.BrokerPIDs(), s.WorkerPIDs()
	return b[0], c[0]
}

// BrokerPIDs are the brokers' process ids by node (node.id 1 first), 0
// for one that is not running.
func (s *Stack) BrokerPIDs() []int {
	return pids(s, s.cluster.nodes, func(n *brokerNode) *jvm.Process { return n.proc })
}

// WorkerPIDs are the Connect workers' process ids, 0 for one that is not
// running.
func (s *Stack) WorkerPIDs() []int {
	return pids(s, s.cluster.workers, func(w *workerNode) *jvm.Process { return w.proc })
}

// pids reads the process id of each of items under s.mu.
func pids[T any](s *Stack, items []T, proc func(T) *jvm.Process) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = livePID(proc(it))
	}
	return out
}

// WorkerURLs are the Connect workers' REST APIs, in the order of
// WorkerPIDs.
func (s *Stack) WorkerURLs() []string {
	urls := make([]string, len(s.cluster.workers))
	for i, w := range s.cluster.workers {
		urls[i] = workerURL(w)
	}
	return urls
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

// pickPorts takes the given ports of the first broker and worker after
// checking they are free, and free ones for the rest. A free port may be
// taken by someone else before the JVM binds it; the JVM then fails with
// "Address already in use" in its log.
func pickPorts(opts Options) (cluster, error) {
	var c cluster
	brokers, workers := max(opts.Brokers, 1), max(opts.ConnectWorkers, 1)
	for id := 1; id <= brokers; id++ {
		n := &brokerNode{id: id}
		c.nodes = append(c.nodes, n)
		want, wantCtrl := 0, 0
		if id == 1 {
			want, wantCtrl = opts.BrokerPort, opts.ControllerPort
		}
		var err error
		if n.port, err = freePort(want); err != nil {
			return c, fmt.Errorf("jvmstack: %s: %w", c.brokerName(n), err)
		}
		if id <= voterCount(brokers) {
			if n.controller, err = freePort(wantCtrl); err != nil {
				return c, fmt.Errorf("jvmstack: %s (controller listener): %w", c.brokerName(n), err)
			}
		}
		if n.metrics, err = freePort(0); err != nil {
			return c, fmt.Errorf("jvmstack: %s (metrics): %w", c.brokerName(n), err)
		}
	}
	for i := 1; i <= workers; i++ {
		w := &workerNode{n: i}
		c.workers = append(c.workers, w)
		want := 0
		if i == 1 {
			want = opts.ConnectPort
		}
		var err error
		if w.port, err = freePort(want); err != nil {
			return c, fmt.Errorf("jvmstack: %s (REST API): %w", c.workerName(w), err)
		}
		if w.metrics, err = freePort(0); err != nil {
			return c, fmt.Errorf("jvmstack: %s (metrics): %w", c.workerName(w), err)
		}
	}
	return c, nil
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
	if err := os.Mkdir(filepath.Join(s.dir, "tmp"), 0o755); err != nil {
		return fmt.Errorf("jvmstack: %w", err)
	}
	flush := s.opts.OffsetFlushInterval
	if flush <= 0 {
		flush = DefaultOffsetFlushInterval
	}
	files := map[string]string{filepath.Join(s.dir, "log4j2.xml"): string(log4j2Config)}
	for _, n := range s.cluster.nodes {
		props, _, data := brokerFiles(s.dir, n)
		if err := os.Mkdir(data, 0o755); err != nil {
			return fmt.Errorf("jvmstack: %w", err)
		}
		files[props] = brokerProperties(s.cluster, n, data, s.opts.BrokerConfig)
	}
	for _, w := range s.cluster.workers {
		props, _ := workerFiles(s.dir, w)
		files[props] = connectProperties(s.cluster, w.port, s.art.PluginPath, flush, s.opts.ConnectConfig)
	}
	for path, content := range files {
		if err := writeFile(path, content); err != nil {
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

// format runs the storage tool on every node's fresh log dir (static
// quorum, hence no --standalone), all at once.
func (s *Stack) format(ctx context.Context) error {
	return all(s.cluster.nodes, func(n *brokerNode) error {
		props, log, _ := brokerFiles(s.dir, n)
		spec := s.spec("Kafka storage tool", s.art.BrokerLib, "256m", log, "kafka.tools.StorageTool", "format",
			"-t", s.clusterID, "-c", props)
		spec.Deaths = nil // it ends by itself
		p, err := jvm.Start(ctx, spec)
		if err != nil {
			return err
		}
		return p.Wait(ctx, time.Minute, "format the broker's storage")
	})
}

// startBroker starts kafka.Kafka on node n and waits until it answers
// metadata requests with our cluster id.
func (s *Stack) startBroker(ctx context.Context, n *brokerNode) error {
	props, log, _ := brokerFiles(s.dir, n)
	spec := s.spec(s.cluster.brokerName(n), s.art.BrokerLib, orDefault(s.opts.BrokerHeap, DefaultBrokerHeap), log, "kafka.Kafka", props)
	spec.Agents = []jvm.Agent{s.exporter.Agent(n.metrics)}
	spec.Ready, spec.ReadyWhat = func(ctx context.Context) error { return s.brokerReady(ctx, n) }, "metadata request"
	spec.ReadyTimeout = orDefault(s.opts.BrokerReadyTimeout, DefaultBrokerReadyTimeout*time.Duration(len(s.cluster.nodes)))
	return s.start(ctx, &n.proc, spec, func() string {
		return fmt.Sprintf("Kafka %s broker ready on %s", KafkaVersion, n.addr())
	})
}

// brokerReady asks node n for metadata; it must be ours (the cluster id we
// formatted with) and list n itself.
func (s *Stack) brokerReady(ctx context.Context, n *brokerNode) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr()), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if md.Cluster != s.clusterID {
		return fmt.Errorf("%s answers for cluster %q, not ours (%q)", n.addr(), md.Cluster, s.clusterID)
	}
	if !slices.ContainsFunc(md.Brokers, func(b kadm.BrokerDetail) bool { return int(b.NodeID) == n.id }) {
		return fmt.Errorf("node %d not in metadata yet", n.id)
	}
	return nil
}

// startConnect starts ConnectDistributed as worker w and waits until its
// REST API answers GET / for our cluster, lists the Debezium connector and
// answers GET /connectors (the herder has started).
func (s *Stack) startConnect(ctx context.Context, w *workerNode) error {
	props, log := workerFiles(s.dir, w)
	spec := s.spec(s.cluster.workerName(w), s.art.ConnectLib, orDefault(s.opts.ConnectHeap, DefaultConnectHeap), log,
		"org.apache.kafka.connect.cli.ConnectDistributed", props)
	spec.Agents = []jvm.Agent{s.exporter.Agent(w.metrics)}
	spec.Ready, spec.ReadyWhat = func(ctx context.Context) error { return s.connectReady(ctx, workerURL(w)) }, "REST API with the Debezium plugin"
	spec.ReadyTimeout = orDefault(s.opts.ConnectReadyTimeout, DefaultConnectReadyTimeout*time.Duration(len(s.cluster.workers)))
	return s.start(ctx, &w.proc, spec, func() string {
		v := s.Versions()
		return fmt.Sprintf("Kafka Connect %s with Debezium %s ready on %s", v.Connect, v.Debezium, workerURL(w))
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

func (s *Stack) connectReady(ctx context.Context, url string) error {
	c, err := connect.New(url, connect.WithRetries(1, 0))
	if err != nil {
		return err
	}
	info, err := c.Check(ctx)
	if err != nil {
		return err
	}
	if info.KafkaClusterID != s.clusterID {
		return fmt.Errorf("%s works for Kafka cluster %q, not ours (%q)", url, info.KafkaClusterID, s.clusterID)
	}
	dbz, err := c.DebeziumVersion(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/connectors", nil)
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

// RestartBroker stops every broker (SIGTERM, an orderly shutdown), waits
// down, and starts them again on the same ports with the same data; the
// workers stay up and reconnect. It returns once the brokers answer again.
func (s *Stack) RestartBroker(ctx context.Context, down time.Duration) error {
	if err := all(s.cluster.nodes, func(n *brokerNode) error {
		if p := s.proc(&n.proc); p != nil {
			return p.Stop(ctx)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := wait.Sleep(ctx, down); err != nil {
		return err
	}
	return all(s.cluster.nodes, func(n *brokerNode) error { return s.startBroker(ctx, n) })
}

// proc reads a node's or worker's process under mu.
func (s *Stack) proc(slot **jvm.Process) *jvm.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *slot
}

// KillConnect kills the first worker with SIGKILL (no shutdown hooks:
// offsets not yet flushed are lost, as in a crash) and waits until it is
// gone.
func (s *Stack) KillConnect() { s.killWorker(s.cluster.workers[0]) }

func (s *Stack) killWorker(w *workerNode) {
	if p := s.proc(&w.proc); p != nil {
		p.Kill()
	}
}

// StartConnect starts the first worker again after KillConnect, on the
// same port with the same group and storage topics, so it finds its
// connectors and offsets; it returns once the REST API is ready again.
func (s *Stack) StartConnect(ctx context.Context) error {
	return s.restartWorker(ctx, s.cluster.workers[0])
}

func (s *Stack) restartWorker(ctx context.Context, w *workerNode) error {
	if p := s.proc(&w.proc); p != nil && !p.Exited() {
		return fmt.Errorf("jvmstack: %s is still running (pid %d)", s.cluster.workerName(w), p.PID())
	}
	return s.startConnect(ctx, w)
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
	// A worker that does not finish its graceful shutdown in time (seen
	// under heavy load after a kill -9 and restart: it waits for its group
	// and its tasks) is killed; at Close that loses nothing, the stack dir
	// goes with it, so it is reported on Progress, not as an error. A
	// broker's is an error: its data may be reused.
	_ = all(s.cluster.workers, func(w *workerNode) error {
		if p := s.proc(&w.proc); p != nil {
			if err := p.Stop(ctx); err != nil && ctx.Err() == nil { // killed as asked otherwise
				fmt.Fprintf(s.progress, "%v\n", err)
			}
		}
		return nil
	})
	s.resumeAll()
	errs := []error{all(s.cluster.nodes, func(n *brokerNode) error {
		if p := s.proc(&n.proc); p != nil {
			return p.Stop(ctx)
		}
		return nil
	})}
	if s.dir != "" && !s.opts.Keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("jvmstack: remove %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}
