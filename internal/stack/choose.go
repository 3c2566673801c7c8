package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

// Stack kinds, as --stack names them.
const (
	KindEmbedded = "embedded" // private PostgreSQL, in-process Kafka (kfake)
	KindCompose  = "compose"  // the endpoints of compose/docker-compose.yml
	KindExternal = "external" // the user's own servers
	// KindLocal is a private PostgreSQL plus a real Kafka broker and Kafka
	// Connect with Debezium, child JVMs of cdcbench (package jvmstack).
	KindLocal = "local"
)

// CDC implementations a stack can carry, as --cdc names them.
const (
	CDCRelay    = "relay"    // cdcbench's built-in WAL relay
	CDCDebezium = "debezium" // Debezium's PostgreSQL connector in Kafka Connect (a --cdc value, not a path)
)

// The compose stack's endpoints as seen from the host, and the database as
// the Connect container sees it.
const (
	composeDSN        = "postgres://cdcbench:cdcbench@localhost:5433/cdcbench?sslmode=disable"
	composeBrokers    = "localhost:9094"
	composeConnectURL = "http://localhost:8083"
	composeDBHost     = "postgres"
	composeDBPort     = 5432
)

// Request is what the user asked for: a stack kind and whatever endpoints
// and options they gave (--stack, --cdc, --pg-dsn, --brokers, ...).
type Request struct {
	Kind       string
	CDC        string // "" picks the kind's default
	ConnectURL string
	// ConnectDBHost is host:port of PostgreSQL as the Connect worker
	// reaches it, when that differs from the DSN's.
	ConnectDBHost string
	ResetTable    bool
	Options       Options
}

// Choice is a Request resolved once: the kind's defaults filled in and
// every combination checked, so what starts the stack need not check again.
type Choice struct {
	Kind    string
	Options Options
	CDC     string // CDCRelay or CDCDebezium
	// ConnectURL is Kafka Connect's REST URL, for CDCDebezium.
	ConnectURL string
	// DBHost and DBPort are the database as the Connect worker reaches it;
	// empty takes the DSN's.
	DBHost string
	DBPort int
	// DropExisting: the database is cdcbench's own (private cluster, the
	// compose stack) or the user said ResetTable.
	DropExisting bool
}

// Choose resolves r.
func Choose(r Request) (Choice, error) {
	ch := Choice{Kind: r.Kind, Options: r.Options, CDC: r.CDC, ConnectURL: r.ConnectURL, DropExisting: r.ResetTable}
	if o := r.Options.JVMOptions; r.Kind != KindLocal && (o.Brokers > 1 || o.ConnectWorkers > 1 || o.ConnectConfig != nil) {
		return ch, fmt.Errorf("several brokers or Connect workers run only on --stack local, which starts them; --stack %s uses the Kafka and Connect it is given: drop the stack shape (stack.brokers, stack.connect_workers, stack.rebalance_delay, --broker-count, --connect-workers, --rebalance-delay)", r.Kind)
	}
	switch r.Kind {
	case KindEmbedded:
		ch.DropExisting = ch.DropExisting || ch.Options.PostgresDSN == ""
	case KindCompose:
		ch.DropExisting = true // the compose database is the benchmark's own
		if ch.Options.PostgresDSN == "" {
			ch.Options.PostgresDSN = composeDSN
		}
		if len(ch.Options.Brokers) == 0 {
			ch.Options.Brokers = []string{composeBrokers}
		}
		if ch.ConnectURL == "" {
			ch.ConnectURL = composeConnectURL
		}
		if ch.CDC == "" {
			ch.CDC = CDCDebezium
		}
		if ch.CDC == CDCDebezium && r.ConnectDBHost == "" {
			ch.DBHost, ch.DBPort = composeDBHost, composeDBPort
		}
	case KindLocal:
		if ch.Options.PostgresDSN != "" || len(ch.Options.Brokers) > 0 || ch.ConnectURL != "" || r.ConnectDBHost != "" {
			return ch, errors.New("--stack local starts its own PostgreSQL, Kafka and Kafka Connect: drop --pg-dsn, --brokers, --connect-url and --connect-db-host (or use --stack external)")
		}
		ch.DropExisting = true // the private cluster is the benchmark's own
		ch.Options.JVM = true
		if ch.CDC == "" {
			ch.CDC = CDCRelay
		}
		// The worker's URL exists once the stack runs (ConnectWorker); it
		// reaches the database at the DSN's 127.0.0.1 address.
		return ch, ch.checkLocalCDC()
	case KindExternal:
		if ch.Options.PostgresDSN == "" {
			if os.Getenv("PGHOST") == "" {
				return ch, errors.New("--stack external needs --pg-dsn (or CDCBENCH_PG_DSN, or PGHOST and friends)")
			}
			// pgx fills every unset field from PGHOST, PGPORT, PGUSER,
			// PGPASSWORD and PGDATABASE, as libpq does.
			ch.Options.PostgresDSN = "application_name=cdcbench"
		}
		if len(ch.Options.Brokers) == 0 {
			return ch, errors.New("--stack external needs --brokers (or KAFKA_BOOTSTRAP_SERVERS)")
		}
	default:
		return ch, fmt.Errorf("--stack must be %s, %s, %s or %s, got %q", KindEmbedded, KindLocal, KindCompose, KindExternal, r.Kind)
	}
	if ch.CDC == "" {
		ch.CDC = CDCRelay
	}
	return ch, ch.checkCDC(r.ConnectDBHost)
}

// checkLocalCDC checks the CDC choice of the local stack, which brings
// every endpoint itself.
func (ch *Choice) checkLocalCDC() error {
	if ch.CDC != CDCRelay && ch.CDC != CDCDebezium {
		return fmt.Errorf("--cdc must be %s or %s, got %q", CDCRelay, CDCDebezium, ch.CDC)
	}
	return nil
}

// checkCDC checks the CDC choice against the endpoints it needs.
func (ch *Choice) checkCDC(connectDBHost string) error {
	switch ch.CDC {
	case CDCRelay:
		return nil
	case CDCDebezium:
		if ch.ConnectURL == "" {
			return errors.New("--cdc debezium needs --connect-url (Kafka Connect's REST URL)")
		}
		if len(ch.Options.Brokers) == 0 {
			return errors.New("--cdc debezium needs the Kafka that Connect writes to: --brokers")
		}
		if connectDBHost == "" {
			return nil
		}
		host, port, err := net.SplitHostPort(connectDBHost)
		if err != nil {
			return fmt.Errorf("--connect-db-host: %w", err)
		}
		ch.DBHost = host
		if ch.DBPort, err = strconv.Atoi(port); err != nil {
			return fmt.Errorf("--connect-db-host: port: %w", err)
		}
		return nil
	}
	return fmt.Errorf("--cdc must be %s or %s, got %q", CDCRelay, CDCDebezium, ch.CDC)
}

// KafkaRestartable reports whether the chosen stack's Kafka can be stopped
// and started again (the restart-kafka fault): only the in-process one,
// which cdcbench started; a broker it did not start is not its to restart.
func (c Choice) KafkaRestartable() bool { return len(c.Options.Brokers) == 0 }

// HasConnect reports whether the chosen stack comes with a Kafka Connect
// worker: the local stack runs one, compose and --connect-url name one.
func (c Choice) HasConnect() bool { return c.Kind == KindLocal || c.ConnectURL != "" }
