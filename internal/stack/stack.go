// Package stack provides where a run's PostgreSQL and Kafka live. Each is
// either embedded (a private PostgreSQL cluster from the machine's binaries;
// an in-process kfake broker on a real 127.0.0.1 port) or external (a DSN, a
// broker list the user gives). The default embeds both, for laptops and CI.
// Options.JVM replaces kfake with the real thing: an Apache Kafka broker and
// a Kafka Connect worker with Debezium as child processes (package
// jvmstack), the seed's pipeline without Docker.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// Topics cdcbench uses, named as the seed's deployment names them.
const (
	ChangeTopic = "dbserver1.public.transactions"
	AlertTopic  = "fraud.alerts"
)

// Stack is a PostgreSQL and a Kafka a run can use.
type Stack interface {
	// DSN connects as a user that may create tables, publications and
	// replication slots.
	DSN() string
	// ReplicationDSN is DSN with replication=database.
	ReplicationDSN() string
	Brokers() []string
	Info() result.StackInfo
	// ServerPID is the local postmaster's pid for CPU accounting, 0 when the
	// server is not ours.
	ServerPID() int
	// Close stops what the stack started; external parts are left alone.
	Close(ctx context.Context) error
}

// Watched is a stack with processes of its own (the private PostgreSQL,
// the local broker and Connect worker), any of which can die under a run.
type Watched interface {
	// Deaths delivers, once, the first of the stack's processes that
	// exited without cdcbench stopping it, with its exit status and its
	// log's last lines. A fault cdcbench injects (restart-kafka,
	// kill-connect) and a server restarted from outside are no deaths.
	Deaths() <-chan error
}

// Stop closes st when a command is done with it: in order after a normal
// end; after an interrupt (ctx done) its processes are killed at once, as
// nothing of them is kept and the user is waiting (a Connect worker under
// load took its whole 30 s SIGTERM bound).
func Stop(ctx context.Context, st Stack) error {
	cctx := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		cctx = ctx
	}
	return st.Close(cctx)
}

// LocalKafka is the Kafka of Options.JVM, as StackInfo.Kafka names it.
const LocalKafka = "Apache Kafka (local JVM, KRaft)"

// Options says which parts to embed: an empty PostgresDSN starts a private
// cluster, empty Brokers start kfake.
type Options struct {
	PostgresDSN string
	Brokers     []string
	Postgres    pgcluster.Options
	KafkaPort   int // kfake's port; 0 = any free port
	Partitions  int // of the change topic on kfake
	// PersistKafka keeps kfake's state in a temp dir, so that RestartKafka
	// brings the same topics and offsets back (the restart-kafka fault).
	PersistKafka bool
	// JVM starts a real Kafka broker and Kafka Connect worker with
	// Debezium (package jvmstack, configured by JVMOptions) instead of
	// kfake; Brokers must then be empty. It needs Java 17+ and, the first
	// time, Maven and Maven Central.
	JVM        bool
	JVMOptions jvmstack.Options
}

// ConnectWorker is a stack that runs a Kafka Connect worker of its own.
type ConnectWorker interface {
	// ConnectURL is the worker's REST API.
	ConnectURL() string
	// KillConnect kills the worker (SIGKILL) and starts it again after
	// down, on the same port and storage topics.
	KillConnect(ctx context.Context, down time.Duration) error
}

// KafkaRestarter is a stack whose Kafka can be stopped and started again.
type KafkaRestarter interface {
	// RestartKafka stops the broker, waits down, and starts it again on
	// the same port with the same data.
	RestartKafka(ctx context.Context, down time.Duration) error
}

// Processes is a stack whose Kafka parts run on this machine, so that the
// CPU and memory of each can be read from /proc for a path's machine cost.
// PostgreSQL's processes are found through ServerPID. An external Kafka is
// nobody's process here, and a stack with one lists none.
type Processes interface {
	// Processes lists the stack's parts by role.
	Processes() []Process
}

// Process is one part of a stack, as the machine cost sees it.
type Process struct {
	// Role is result.RoleBroker or result.RoleConnect.
	Role string
	// Name tells the processes of a role apart on a cluster ("broker-2",
	// "connect-1"); empty where the role has one process, which the path
	// names.
	Name string
	// PIDs returns the part's process ids now, none while it is down: a
	// restart (restart-kafka, kill-connect) starts a new process under a
	// new pid. Nil when InProcess.
	PIDs func() []int
	// InProcess says the part runs inside cdcbench (kfake): its cost is
	// in cdcbench's own and cannot be told apart.
	InProcess bool
	// MetricsURL is where the part serves its own metrics in Prometheus's
	// text format (the JMX exporter of a local JVM), "" when it serves
	// none.
	MetricsURL string
}

// ErrUnreachable reports a server that did not answer in time.
var ErrUnreachable = errors.New("unreachable")

// connectTimeout bounds every reachability check: a wrong port must fail in
// seconds, not hang.
const connectTimeout = 5 * time.Second

// topicsReadyTimeout bounds the wait for created topics to show leaders; a
// loaded 2-core machine took over 5 s (CI).
const topicsReadyTimeout = 30 * time.Second

type local struct {
	deaths    chan error
	stopWatch chan struct{}
	stopTrim  context.CancelFunc
	kafkaDir  string
	kafkaOpts []kfake.Opt
	kafkaMu   sync.Mutex
	pg        *pgcluster.Cluster
	dsn       string
	version   string
	kafka     *kfake.Cluster
	jvm       *jvmstack.Stack
	brokers   []string
}

// KafkaOptions are the settings the embedded stack starts kfake with: one
// broker, the change topic with partitions partitions (at least one), the
// alert topic, and small log segments. They are exported so that perf
// measures the relay against the very broker a run uses.
func KafkaOptions(partitions int) []kfake.Opt {
	return []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(max(partitions, 1)), ChangeTopic),
		kfake.SeedTopics(1, AlertTopic),
		kfake.AllowAutoTopicCreation(),
		// kfake copies every batch into an in-memory segment that grows
		// by doubling up to 100 MiB; small segments keep that copy short.
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": "1048576"}),
	}
}

// logAppendTime makes a real broker stamp each record with the time it
// appended it, so that a change event's time in Kafka is measured, not
// taken from its producer. A topic that already exists keeps its setting;
// kfake ignores it (it stamps append time only when a producer asks).
const logAppendTime = "LogAppendTime"

// Start brings up the embedded parts and checks the external ones; on error
// nothing it started is left running.
func Start(ctx context.Context, opts Options) (_ Stack, err error) {
	s := &local{dsn: opts.PostgresDSN, brokers: opts.Brokers}
	defer func() {
		if err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	if s.dsn == "" {
		if s.pg, err = pgcluster.Start(ctx, opts.Postgres); err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
		s.dsn = s.pg.DSN()
	}
	if s.version, err = checkPostgres(ctx, s.dsn); err != nil {
		return nil, err
	}
	if opts.JVM {
		if len(s.brokers) > 0 {
			return nil, errors.New("stack: a local JVM Kafka and external brokers exclude each other")
		}
		if err := s.startJVM(ctx, opts); err != nil {
			return nil, err
		}
		s.watch()
		return jvmLocal{s}, nil
	}
	if len(s.brokers) == 0 {
		kopts := KafkaOptions(opts.Partitions)
		if opts.KafkaPort > 0 {
			kopts = append(kopts, kfake.Ports(opts.KafkaPort))
		}
		if opts.PersistKafka {
			if s.kafkaDir, err = os.MkdirTemp("", "cdcbench-kafka-*"); err != nil {
				return nil, fmt.Errorf("stack: kfake data dir: %w", err)
			}
			if err := ownerpid.Claim(s.kafkaDir); err != nil {
				return nil, fmt.Errorf("stack: kfake data dir: %w", err)
			}
			kopts = append(kopts, kfake.DataDir(s.kafkaDir))
		}
		if s.kafka, err = kfake.NewCluster(kopts...); err != nil {
			return nil, fmt.Errorf("stack: kfake: %w", err)
		}
		s.brokers = s.kafka.ListenAddrs()
		s.kafkaOpts = append(kopts, kfake.Ports(PortOf(s.brokers[0])))
		tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopTrim = cancel
		if err := limitAlerts(ctx, s.brokers); err != nil {
			return nil, err
		}
		go trimRead(tctx, s.brokers, s.applyRetention)
	} else {
		if err := checkKafka(ctx, s.brokers); err != nil {
			return nil, err
		}
		if err := ensureTopics(ctx, s.brokers, max(opts.Partitions, 1)); err != nil {
			return nil, err
		}
	}
	s.watch()
	return s, nil
}

// watch forwards the first death of the private cluster or of a JVM to
// Deaths, until Close.
func (s *local) watch() {
	s.deaths, s.stopWatch = make(chan error, 1), make(chan struct{})
	var pg, jvm <-chan error // nil, never ready, for a part not started here
	if s.pg != nil {
		pg = s.pg.Deaths()
	}
	if s.jvm != nil {
		jvm = s.jvm.Deaths()
	}
	deaths, stop := s.deaths, s.stopWatch
	go func() {
		select {
		case err := <-pg:
			deaths <- fmt.Errorf("stack: %w", err)
		case err := <-jvm:
			deaths <- fmt.Errorf("stack: %w", err)
		case <-stop:
		}
	}()
}

var _ Watched = (*local)(nil)

// Deaths implements Watched.
func (s *local) Deaths() <-chan error { return s.deaths }

// startJVM starts the broker and the Connect worker and creates the
// change and alert topics on the broker.
func (s *local) startJVM(ctx context.Context, opts Options) error {
	var err error
	if s.jvm, err = jvmstack.Start(ctx, opts.JVMOptions); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	s.brokers = s.jvm.Brokers()
	return ensureTopics(ctx, s.brokers, max(opts.Partitions, 1))
}

// ensureTopics creates the change and alert topics on an external Kafka
// when they are missing, so that a broker without auto-creation works and
// the change topic gets the scenario's partitions. Existing topics are left
// as they are.
func ensureTopics(ctx context.Context, brokers []string, partitions int) error {
	appendTime := logAppendTime
	// A short metadata age: franz-go keeps an unknown topic unknown for
	// MetadataMinAge (5 s), which awaitTopics would otherwise wait out.
	adm, err := NewAdmin(brokers, kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer adm.Close()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	want := map[string]int{ChangeTopic: partitions, AlertTopic: 1}
	for topic, n := range want {
		res, err := adm.CreateTopic(cctx, int32(n), -1, map[string]*string{"message.timestamp.type": &appendTime}, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("stack: create topic %s on %v: %w", topic, brokers, err)
		}
	}
	return awaitTopics(ctx, adm, want)
}

// awaitTopics waits until every topic in want shows its partitions, each
// with a leader, in the brokers' metadata. A real broker answers
// CreateTopics before its metadata has caught up, and a run that starts
// in that window reads "no partitions" (seen in CI on Kafka 4.3.1).
func awaitTopics(ctx context.Context, adm *kadm.Client, want map[string]int) error {
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	var last string
	err := wait.Until(ctx, time.Now().Add(topicsReadyTimeout), 50*time.Millisecond, func() (bool, error) {
		td, err := adm.ListTopics(ctx, names...)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, t := range names {
			d := td[t]
			if d.Err != nil || len(d.Partitions) < want[t] {
				last = fmt.Sprintf("%s: %d of %d partitions (%v)", t, len(d.Partitions), want[t], d.Err)
				return false, nil
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					last = fmt.Sprintf("%s partition %d has no leader yet", t, p.Partition)
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("stack: topics %v not ready: %s: %w", names, last, err)
	}
	return nil
}

// checkPostgres fails fast, naming host and port and what to check.
func checkPostgres(ctx context.Context, dsn string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("stack: PostgreSQL DSN: %w", err)
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d", cfg.Host, cfg.Port)
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return "", fmt.Errorf("stack: %s: %w: %w (is the server running and reachable? are user and password right?)", where, ErrUnreachable, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var level, version string
	if err := conn.QueryRow(cctx, "SELECT current_setting('wal_level'), current_setting('server_version')").Scan(&level, &version); err != nil {
		return "", fmt.Errorf("stack: %s: %w", where, err)
	}
	if level != "logical" {
		return "", fmt.Errorf("stack: %s has wal_level=%s; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart the server)", where, level)
	}
	return version, nil
}

// NewAdmin returns a Kafka admin client for brokers, with opts added to
// the client's; its Close closes the client under it.
func NewAdmin(brokers []string, opts ...kgo.Opt) (*kadm.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("stack: kafka: %w", err)
	}
	return kadm.NewClient(cl), nil
}

// checkKafka dials the first reachable broker.
func checkKafka(ctx context.Context, brokers []string) error {
	var d net.Dialer
	var errs []error
	for _, b := range brokers {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		c, err := d.DialContext(cctx, "tcp", b)
		cancel()
		if err == nil {
			_ = c.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("stack: Kafka brokers %v: %w: %w", brokers, ErrUnreachable, errors.Join(errs...))
}

func (s *local) DSN() string { return s.dsn }

func (s *local) ReplicationDSN() string {
	if s.pg != nil {
		return s.pg.ReplicationDSN()
	}
	return WithReplication(s.dsn)
}

func (s *local) Brokers() []string { return s.brokers }

func (s *local) ServerPID() int {
	if s.pg != nil {
		return s.pg.PID()
	}
	return 0
}

func (s *local) Info() result.StackInfo {
	i := result.StackInfo{Postgres: "external", PostgresVersion: s.version, Kafka: "external", Brokers: s.brokers[0]}
	if s.pg != nil {
		i.Postgres = "embedded"
	}
	if s.kafka != nil {
		i.Kafka = "kfake (in-process, franz-go)"
	}
	if s.jvm != nil {
		v := s.jvm.Versions()
		i.Kafka, i.ConnectURL = LocalKafka, s.jvm.ConnectURL()
		i.KafkaVersion, i.ConnectVersion, i.DebeziumVersion = v.Kafka, v.Connect, v.Debezium
	}
	return i
}

var _ Processes = (*local)(nil)

// Processes implements Processes: the in-process kfake, or the local
// brokers and Connect workers, each JVM its own (broker-1..N,
// connect-1..M on a cluster).
func (s *local) Processes() []Process {
	switch jvm := s.jvm; {
	case jvm != nil:
		return append(nodeProcesses(result.RoleBroker, jvm.BrokerPIDs, jvm.BrokerMetricsURLs()),
			nodeProcesses(result.RoleConnect, jvm.WorkerPIDs, jvm.WorkerMetricsURLs())...)
	case s.kafka != nil:
		return []Process{{Role: result.RoleBroker, InProcess: true}}
	}
	return nil
}

// nodeProcesses are the processes of role, one per pid pids lists, each
// with its metrics URL (urls, in the same order), named role-1, role-2,
// ... when there are several.
func nodeProcesses(role string, pids func() []int, urls []string) []Process {
	n := len(pids())
	out := make([]Process, n)
	for i := range n {
		out[i] = Process{Role: role, PIDs: func() []int { return running(pids()[i]) }}
		if i < len(urls) {
			out[i].MetricsURL = urls[i]
		}
		if n > 1 {
			out[i].Name = fmt.Sprintf("%s-%d", role, i+1)
		}
	}
	return out
}

// running lists pid unless it is 0, jvmstack's "not running".
func running(pid int) []int {
	if pid == 0 {
		return nil
	}
	return []int{pid}
}

// jvmLocal is the stack of Options.JVM: the same as local, plus the
// Kafka Connect worker it runs. A separate type, so that only a stack that
// has a worker of its own is a ConnectWorker (an external stack's Connect
// URL comes from the user).
type jvmLocal struct{ *local }

var _ ConnectWorker = jvmLocal{}

// ConnectURL implements ConnectWorker.
func (s jvmLocal) ConnectURL() string { return s.jvm.ConnectURL() }

// KillConnect implements ConnectWorker: SIGKILL to the worker, a pause of
// down, and a start on the same port, group and storage topics.
func (s jvmLocal) KillConnect(ctx context.Context, down time.Duration) error {
	if err := s.jvm.RestartConnect(ctx, down); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// JVM returns the broker and worker, for tests and tools that need their
// logs or pids.
func (s jvmLocal) JVM() *jvmstack.Stack { return s.jvm }

// RestartKafka implements KafkaRestarter for the in-process broker started
// with PersistKafka, and for the local JVM broker (SIGTERM, then a start on
// the same port and log dir).
func (s *local) RestartKafka(ctx context.Context, down time.Duration) error {
	if s.jvm != nil {
		if err := s.jvm.RestartBroker(ctx, down); err != nil {
			return fmt.Errorf("stack: %w", err)
		}
		return nil
	}
	s.kafkaMu.Lock()
	defer s.kafkaMu.Unlock()
	if s.kafka == nil || s.kafkaDir == "" {
		return errors.New("stack: only an in-process Kafka started with persistence can be restarted")
	}
	s.kafka.Close()
	_ = wait.Sleep(ctx, down) // a cancelled run still gets its broker back, for cleanup
	var err error
	if s.kafka, err = kfake.NewCluster(s.kafkaOpts...); err != nil {
		return fmt.Errorf("stack: restart kfake: %w", err)
	}
	return nil
}

// applyRetention has the in-process broker drop what its topics' retention
// says it need not keep; kfake does that only when asked.
func (s *local) applyRetention() {
	s.kafkaMu.Lock()
	defer s.kafkaMu.Unlock()
	if s.kafka != nil {
		s.kafka.ApplyRetention()
	}
}

func (s *local) Close(ctx context.Context) error {
	if s.stopWatch != nil {
		close(s.stopWatch)
		s.stopWatch = nil
	}
	if s.stopTrim != nil {
		s.stopTrim()
	}
	s.kafkaMu.Lock()
	if s.kafka != nil {
		s.kafka.Close()
		s.kafka = nil
	}
	s.kafkaMu.Unlock()
	if s.kafkaDir != "" {
		_ = os.RemoveAll(s.kafkaDir)
	}
	var errs []error
	if s.jvm != nil {
		// Connect first (it holds Debezium's replication connection), then
		// the broker, then the database.
		errs = append(errs, s.jvm.Close(ctx))
		s.jvm = nil
	}
	if s.pg != nil {
		errs = append(errs, s.pg.Stop(ctx))
		s.pg = nil
	}
	return errors.Join(errs...)
}

// PortOf returns the port of a host:port, 0 if there is none.
func PortOf(hostport string) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// WithReplication adds replication=database to a URL or keyword/value DSN.
func WithReplication(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("replication", "database")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " replication=database"
}

// Redact hides every password in a DSN, for every line cdcbench prints: a
// URL's userinfo password (postgres://u:secret@h), password and
// sslpassword query parameters (?password=secret, percent-encoded keys
// too), and keyword/value password and sslpassword settings, quoted or not.
// It works on the text, without parsing, so a DSN that does not parse (the
// one an error is about) is redacted too, and everything but the passwords
// is left as it was.
func Redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i > 0 && !strings.ContainsAny(dsn[:i], " ='") {
		return redactURL(dsn, i+len("://"))
	}
	return kvPassword.ReplaceAllString(dsn, "${1}${2}"+redacted)
}

// redacted replaces a password.
const redacted = "xxxxx"

// kvPassword matches a keyword/value password setting: the keyword (with
// the spaces libpq allows around "="), then a quoted value with backslash
// escapes or an unquoted one.
var kvPassword = regexp.MustCompile(`(^|\s)((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)`)

// redactURL hides the passwords of the URL dsn, whose authority starts at
// from: the userinfo's, up to the last "@" before the query, and those of
// the query's password parameters.
func redactURL(dsn string, from int) string {
	rest := dsn[from:]
	q := strings.IndexAny(rest, "?#")
	if q < 0 {
		q = len(rest)
	}
	if at := strings.LastIndexByte(rest[:q], '@'); at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			rest = rest[:c+1] + redacted + rest[at:]
			q = q - at + c + 1 + len(redacted)
		}
	}
	if q >= len(rest) || rest[q] != '?' {
		return dsn[:from] + rest
	}
	query, fragment, hasFragment := strings.Cut(rest[q+1:], "#")
	params := strings.Split(query, "&")
	for i, p := range params {
		key, _, ok := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); ok && err == nil && (strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")) {
			params[i] = key + "=" + redacted
		}
	}
	out := dsn[:from] + rest[:q+1] + strings.Join(params, "&")
	if hasFragment {
		out += "#" + fragment
	}
	return out
}

// HarnessApp is the application_name of the harness's own connections
// (admin, cost sampler, faults): the drop-connections fault spares them, as
// it spares a monitoring connection, and drops the producer's, the pollers'
// and the WAL sender's.
const HarnessApp = "cdcbench-harness"

// ConnectHarness connects to dsn as the harness.
func ConnectHarness(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = HarnessApp
	return pgx.ConnectConfig(ctx, cfg)
}
