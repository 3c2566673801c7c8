package connect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// The role Debezium connects as in TestRealWorker: password-authenticated
// (the private cluster trusts everyone else), so that a wrong password fails.
const (
	dbzUser     = "cdcbench_dbz"
	dbzPassword = "right-horse-battery"
	badPassword = "not-the-password-42"
)

// updateKeys rewrites connectorkeys' list of Debezium properties from the
// real plugin: go test ./internal/connect -run TestRealWorker -update-keys.
var updateKeys = flag.Bool("update-keys", false, "rewrite ../connectorkeys/debezium-postgres-VERSION.txt from the running plugin")

// TestRealWorker drives the connector lifecycle against a real Kafka Connect
// 4.3.1 worker with Debezium 3.6.1.Final (package jvmstack) and a private
// PostgreSQL: the answers the other tests replay were reconstructed from
// documentation, these are the real ones. CDCBENCH_SKIP_JVM=1 skips it.
func TestRealWorker(t *testing.T) {
	testtier.JVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pg, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop(context.Background())
	st, err := jvmstack.Start(ctx, jvmstack.Options{Progress: os.Stderr})
	if err != nil {
		t.Fatalf("%v\n(set CDCBENCH_SKIP_JVM=1 to skip the tests that need Java and Maven)", err)
	}
	defer st.Close(context.Background())
	admin := prepareDatabase(ctx, t, pg)
	c, err := connect.New(st.ConnectURL(), connect.WithWaitTimeout(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(name, password string) connect.Config {
		t.Helper()
		conf, err := connect.DebeziumConfig{
			Host: "127.0.0.1", Port: pg.Port(), User: dbzUser, Password: password, DBName: "postgres",
			Slot: "cdcbench_slot_" + name, Publication: "cdcbench_pub_real",
		}.Config()
		if err != nil {
			t.Fatal(err)
		}
		return conf
	}

	t.Run("register, RUNNING, an INSERT arrives", func(t *testing.T) {
		if err := c.Apply(ctx, "cdcbench-real", cfg("real", dbzPassword)); err != nil {
			t.Fatal(err)
		}
		s, err := c.WaitRunning(ctx, "cdcbench-real")
		if err != nil {
			t.Fatal(err)
		}
		var slotAtRunning int
		_ = admin.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdcbench_slot_real'").Scan(&slotAtRunning)
		t.Logf("status: %s (slot exists at RUNNING: %v); raw: %s", s, slotAtRunning == 1, get(ctx, t, st.ConnectURL()+"/connectors/cdcbench-real/status"))
		if err := c.Apply(ctx, "cdcbench-real", cfg("real", dbzPassword)); err != nil {
			t.Fatalf("applying the same config again: %v", err)
		}
		waitSlotActive(ctx, t, admin, "cdcbench_slot_real")
		if _, err := admin.Exec(ctx, `INSERT INTO public.transactions (user_id, amount, card_type, merchant_id) VALUES (1001, 4321.50, 'AMEX', 7)`); err != nil {
			t.Fatal(err)
		}
		after := readChange(ctx, t, st.Brokers())
		if after["user_id"] != float64(1001) || after["amount"] != 4321.5 || after["card_type"] != "AMEX" {
			t.Fatalf("change event's after = %v", after)
		}
	})

	// The names the plugin reports are the ones scenarios are checked
	// against offline (package connectorkeys): a Debezium bump that adds
	// or drops a property fails here.
	t.Run("the plugin's properties are connectorkeys.Debezium", func(t *testing.T) {
		body, _ := json.Marshal(cfg("keys", dbzPassword))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, st.ConnectURL()+"/connector-plugins/"+connect.PostgresConnectorClass+"/config/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Configs []struct {
				Definition struct{ Name string } `json:"definition"`
			} `json:"configs"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		var live []string
		for _, c := range v.Configs {
			live = append(live, c.Definition.Name)
		}
		slices.Sort(live)
		live = slices.Compact(live)
		if *updateKeys {
			file := filepath.Join("..", "connectorkeys", "debezium-postgres-"+jvmstack.DebeziumVersion+".txt")
			if err := os.WriteFile(file, []byte(strings.Join(live, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %d names to %s", len(live), file)
			return
		}
		for _, name := range live {
			if _, found := slices.BinarySearch(connectorkeys.Debezium, name); !found {
				t.Errorf("Debezium %s has %q, which debezium-postgres-%[1]s.txt lacks", jvmstack.DebeziumVersion, name)
			}
		}
		for _, name := range connectorkeys.Debezium {
			if _, found := slices.BinarySearch(live, name); !found {
				t.Errorf("debezium-postgres-%s.txt has %q, which Debezium %[1]s does not report", jvmstack.DebeziumVersion, name)
			}
		}
	})

	t.Run("a wrong password is refused by validation, password hidden", func(t *testing.T) {
		err := c.Apply(ctx, "cdcbench-badpw", cfg("badpw", badPassword))
		var rej *connect.RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, connect.ErrRejected) {
			t.Fatalf("Apply = %v, want a *RejectedError", err)
		}
		t.Logf("error: %v", err)
		if !strings.Contains(strings.Join(rej.Errors["database.hostname"], " "), "password authentication failed") {
			t.Errorf("validation errors lack the reason: %v", rej.Errors)
		}
		if strings.Contains(err.Error(), badPassword) {
			t.Errorf("error shows the password: %v", err)
		}
		if _, err := c.Status(ctx, "cdcbench-badpw"); !isNotFound(err) {
			t.Errorf("a refused connector exists: %v", err)
		}
	})

	// A wrong password never makes a FAILED task: validation refuses it at
	// registration (above), and a password changed under a running task
	// makes Debezium 3.6.1 retry for ever while the task reports RUNNING
	// (seen here: "Going to restart connector after 0 sec. after a
	// retriable exception", errors.max.retries=1 notwithstanding). What
	// fails a task is what Debezium does not retry, such as a missing
	// publication.
	t.Run("a missing publication: FAILED task with Debezium's trace", func(t *testing.T) {
		conf := cfg("nopub", dbzPassword)
		conf["publication.name"] = "cdcbench_pub_missing"
		if err := c.Apply(ctx, "cdcbench-nopub", conf); err != nil {
			t.Fatal(err)
		}
		_, err := c.WaitRunning(ctx, "cdcbench-nopub")
		var failed *connect.FailedError
		if !errors.As(err, &failed) || !errors.Is(err, connect.ErrFailed) {
			t.Fatalf("WaitRunning = %v, want a FAILED task", err)
		}
		t.Logf("error: %v", err)
		if failed.Task != 0 || !strings.Contains(failed.Trace, "Publication autocreation is disabled") {
			t.Errorf("FAILED task %d lacks Debezium's reason:\n%s", failed.Task, failed.Trace)
		}
		if err := c.Delete(ctx, "cdcbench-nopub"); err != nil {
			t.Fatal(err)
		}
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		if err := relay.DropSlot(dctx, pg.ReplicationDSN(), "cdcbench_slot_nopub"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("delete, then the slot and publication can be dropped", func(t *testing.T) {
		if err := c.Delete(ctx, "cdcbench-real"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status(ctx, "cdcbench-real"); !isNotFound(err) {
			t.Fatalf("status after delete: %v, want 404", err)
		}
		var active bool
		if err := admin.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'cdcbench_slot_real'").Scan(&active); err != nil || active {
			t.Errorf("slot after delete: active=%v (%v), want an inactive slot", active, err)
		}
		if err := c.Delete(ctx, "cdcbench-real"); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		if err := relay.DropSlot(dctx, pg.ReplicationDSN(), "cdcbench_slot_real"); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "DROP PUBLICATION cdcbench_pub_real"); err != nil {
			t.Fatal(err)
		}
		var slots, pubs int
		if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cdcbench\_%'),
			(SELECT count(*) FROM pg_publication WHERE pubname LIKE 'cdcbench\_%')`).Scan(&slots, &pubs); err != nil {
			t.Fatal(err)
		}
		if slots != 0 || pubs != 0 {
			t.Fatalf("%d slots and %d publications left", slots, pubs)
		}
	})
	b, cn := st.PeakRSS()
	t.Logf("peak RSS with a running Debezium task: broker %.0f MiB, Connect %.0f MiB", float64(b)/(1<<20), float64(cn)/(1<<20))
}

// prepareDatabase creates the seed's table, the publication and a
// password-authenticated replication role, and returns a superuser
// connection.
func prepareDatabase(ctx context.Context, t *testing.T, pg *pgcluster.Cluster) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	for _, sql := range []string{
		`CREATE TABLE public.transactions (
			id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
			user_id integer NOT NULL, amount numeric(10,2) NOT NULL, card_type text NOT NULL,
			merchant_id integer NOT NULL, created_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))`,
		`CREATE PUBLICATION cdcbench_pub_real FOR TABLE public.transactions`,
		fmt.Sprintf(`CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s'`, dbzUser, dbzPassword),
		`GRANT SELECT ON public.transactions TO ` + dbzUser,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	requirePassword(ctx, t, admin)
	return admin
}

// requirePassword puts scram-sha-256 lines for the Debezium role in front of
// the cluster's trust lines and reloads the configuration.
func requirePassword(ctx context.Context, t *testing.T, admin *pgx.Conn) {
	t.Helper()
	var hba string
	if err := admin.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	lines := fmt.Sprintf("host all %[1]s 127.0.0.1/32 scram-sha-256\nhost replication %[1]s 127.0.0.1/32 scram-sha-256\n", dbzUser)
	if err := os.WriteFile(hba, append([]byte(lines), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	cfg := admin.Config()
	bad := fmt.Sprintf("postgres://%s:%s@%s:%d/postgres?sslmode=disable", dbzUser, badPassword, cfg.Host, cfg.Port)
	for i := 0; ; i++ {
		conn, err := pgx.Connect(ctx, bad)
		if err != nil && strings.Contains(err.Error(), "password authentication failed") {
			return
		}
		if conn != nil {
			conn.Close(ctx)
		}
		if i == 50 {
			t.Fatalf("pg_hba change not in effect: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSlotActive waits until Debezium's slot exists and is in use.
func waitSlotActive(ctx context.Context, t *testing.T, admin *pgx.Conn, slot string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var active bool
		err := admin.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		if err == nil && active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %s not active (%v)", slot, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readChange reads the first change event of dbserver1.public.transactions
// and returns its payload's after image.
func readChange(ctx context.Context, t *testing.T, brokers []string) map[string]any {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("dbserver1.public.transactions"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatal("no change event on dbserver1.public.transactions within 60 s")
		}
		for _, r := range fs.Records() {
			var env struct {
				Schema  json.RawMessage `json:"schema"`
				Payload struct {
					Op    string         `json:"op"`
					After map[string]any `json:"after"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatalf("value is not a JSON envelope: %v: %.200s", err, r.Value)
			}
			if len(env.Schema) == 0 || env.Payload.Op != "c" {
				t.Fatalf("want a create event with a schema, got %.300s", r.Value)
			}
			t.Logf("key %s", r.Key)
			return env.Payload.After
		}
	}
}

func get(ctx context.Context, t *testing.T, url string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 600 {
		b = b[:600]
	}
	return string(b)
}

func isNotFound(err error) bool {
	var apiErr *connect.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound
}
