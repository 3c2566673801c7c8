// Package stack provides where a run's PostgreSQL and Kafka live: an embedded
// stack (a private PostgreSQL cluster and an in-process kfake broker, the
// default for laptops and CI) or an external one the user points at.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cdcbench/cdcbench/pgcluster"
)

// Topics cdcbench uses, named as the seed's deployment names them.
const (
	ChangeTopic = "dbserver1.public.transactions"
	AlertTopic  = "fraud.alerts"
)

// Stack is a PostgreSQL and a Kafka a run can use.
type Stack interface {
	// DSN connects to the database as a user that may create tables,
	// publications and replication slots.
	DSN() string
	// ReplicationDSN is DSN with replication=database.
	ReplicationDSN() string
	Brokers() []string
	Info() Info
	// ServerPID is the local postmaster's pid for CPU accounting, 0 when the
	// server is not a child of this process.
	ServerPID() int
	Close(ctx context.Context) error
}

// Info says what a run measured on, for result.json and reports.
type Info struct {
	Kind     string `json:"kind"`     // "embedded" or "external"
	Postgres string `json:"postgres"` // server_version
	Kafka    string `json:"kafka"`    // "kfake (in-process, franz-go)" or "external"
	Brokers  string `json:"brokers"`
}

// EmbeddedOptions configures the embedded stack.
type EmbeddedOptions struct {
	Postgres   pgcluster.Options
	KafkaPort  int // 0 = any free port
	Partitions int // partitions of the change topic
}

// Embedded is a private PostgreSQL cluster plus an in-process kfake broker
// listening on a real 127.0.0.1 port, so kcat or any Kafka client can read it.
type Embedded struct {
	pg    *pgcluster.Cluster
	kafka *kfake.Cluster
}

var _ Stack = (*Embedded)(nil)

// StartEmbedded brings both up; on error nothing is left running.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if opts.Partitions < 1 {
		opts.Partitions = 1
	}
	pg, err := pgcluster.Start(ctx, opts.Postgres)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(int32(opts.Partitions), ChangeTopic),
		kfake.SeedTopics(1, AlertTopic),
		kfake.AllowAutoTopicCreation(),
	}
	if opts.KafkaPort > 0 {
		kopts = append(kopts, kfake.Ports(opts.KafkaPort))
	}
	kc, err := kfake.NewCluster(kopts...)
	if err != nil {
		_ = pg.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("stack: kfake: %w", err)
	}
	return &Embedded{pg: pg, kafka: kc}, nil
}

// DSN implements Stack.
func (e *Embedded) DSN() string { return e.pg.DSN() }

// ReplicationDSN implements Stack.
func (e *Embedded) ReplicationDSN() string { return e.pg.ReplicationDSN() }

// Brokers implements Stack.
func (e *Embedded) Brokers() []string { return e.kafka.ListenAddrs() }

// ServerPID implements Stack.
func (e *Embedded) ServerPID() int { return e.pg.PID() }

// Info implements Stack.
func (e *Embedded) Info() Info {
	return Info{Kind: "embedded", Postgres: e.pg.Version(), Kafka: "kfake (in-process, franz-go)", Brokers: e.Brokers()[0]}
}

// Close stops Kafka and the cluster and removes its files.
func (e *Embedded) Close(ctx context.Context) error {
	e.kafka.Close()
	return e.pg.Stop(ctx)
}

// External is a PostgreSQL and a Kafka that cdcbench did not start and will
// not stop.
type External struct {
	dsn     string
	brokers []string
	version string
}

var _ Stack = (*External)(nil)

// ErrUnreachable reports a server that did not answer in time.
var ErrUnreachable = errors.New("unreachable")

// ConnectExternal checks that the database answers and has wal_level=logical,
// and that a broker accepts TCP connections, failing fast with what to check.
func ConnectExternal(ctx context.Context, dsn string, brokers []string) (*External, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("stack: --pg-dsn: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stack: PostgreSQL at %s:%d: %w: %w (is the server running and reachable? are user and password right?)",
			cfg.Host, cfg.Port, ErrUnreachable, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var level, version string
	if err := conn.QueryRow(cctx, "SELECT current_setting('wal_level'), current_setting('server_version')").Scan(&level, &version); err != nil {
		return nil, fmt.Errorf("stack: PostgreSQL at %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	if level != "logical" {
		return nil, fmt.Errorf("stack: PostgreSQL at %s:%d has wal_level=%s; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart)", cfg.Host, cfg.Port, level)
	}
	if len(brokers) == 0 {
		return nil, errors.New("stack: no Kafka brokers given (--brokers)")
	}
	var d net.Dialer
	kc, err := d.DialContext(cctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("stack: Kafka broker %s: %w: %w", brokers[0], ErrUnreachable, err)
	}
	_ = kc.Close()
	return &External{dsn: dsn, brokers: brokers, version: version}, nil
}

// DSN implements Stack.
func (x *External) DSN() string { return x.dsn }

// ReplicationDSN implements Stack.
func (x *External) ReplicationDSN() string { return WithReplication(x.dsn) }

// Brokers implements Stack.
func (x *External) Brokers() []string { return x.brokers }

// ServerPID implements Stack.
func (x *External) ServerPID() int { return 0 }

// Info implements Stack.
func (x *External) Info() Info {
	return Info{Kind: "external", Postgres: x.version, Kafka: "external", Brokers: x.brokers[0]}
}

// Close implements Stack; an external stack is left as it was.
func (x *External) Close(context.Context) error { return nil }

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

// Redact hides the password of a URL DSN, for logs and results.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
