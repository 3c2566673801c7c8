package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
)

// Prefix starts the name of every slot, publication and temp dir cdcbench
// creates, so that leftovers of a crashed run can be found and told apart
// from anything else on a shared server.
const Prefix = "cdcbench_"

// SparkDirPrefix starts the name of a Spark path's work dir in the temp
// dir. Package driver makes the dir; it is named here, beside the other
// temp dirs cdcbench leaves when killed, so that clean finds it.
const SparkDirPrefix = "cdcbench-spark-"

// FlinkCDCDirPrefix and DebeziumServerDirPrefix start the names of the
// Flink CDC and Debezium Server paths' work dirs, as SparkDirPrefix. A
// failed start keeps its dir (the error names the log in it), and a kill
// -9 leaves no time to remove it.
const (
	FlinkCDCDirPrefix       = "cdcbench-flinkcdc-"
	DebeziumServerDirPrefix = "cdcbench-dbzserver-"
)

// Kinds of leftovers.
const (
	LeftoverSlot        = "slot"
	LeftoverPublication = "publication"
	LeftoverClusterDir  = "cluster dir"
	LeftoverKafkaDir    = "kafka dir"
	// LeftoverJVMDir is a local stack's Kafka/Connect dir (package
	// jvmstack); removing it kills any JVM still running from it.
	LeftoverJVMDir = "jvm stack dir"
	// LeftoverSparkDir is a Spark path's work dir (its log, password
	// file and Spark's scratch space); removing it kills a Spark JVM
	// still running from it.
	LeftoverSparkDir = "spark work dir"
	// LeftoverFlinkCDCDir and LeftoverDebeziumServerDir are those
	// captures' work dirs (log, configuration, checkpoints or offsets),
	// removed as a Spark path's.
	LeftoverFlinkCDCDir       = "flink cdc work dir"
	LeftoverDebeziumServerDir = "debezium server work dir"
	// LeftoverPostmaster is a PostgreSQL server still running on a private
	// cluster's removed data directory (restarted from outside with
	// pg_ctl); removing it stops it.
	LeftoverPostmaster = "postmaster"
)

// Leftover is something a run created: left behind by a crashed one, or
// still in use by a live one.
type Leftover struct {
	Kind string // LeftoverSlot, LeftoverPublication, LeftoverClusterDir, LeftoverKafkaDir, LeftoverJVMDir, LeftoverSparkDir, LeftoverFlinkCDCDir, LeftoverDebeziumServerDir or LeftoverPostmaster
	Name string // the slot or publication, the directory's path, or the postmaster's pid
	// Database is where a slot or publication lives: a logical slot can
	// only be dropped from its own database, a publication only seen there.
	Database string
	// Detail says why it is safe (or not) to remove.
	Detail string
	// Live leftovers belong to a run that is still going (a slot with a
	// consumer, the publication such a slot reads, a database a run is
	// connected to, a directory whose owner process runs): listed, never
	// removed.
	Live bool
	// RetainedBytes is the WAL a slot keeps from being recycled, and
	// Retained the same as pg_size_pretty writes it.
	RetainedBytes int64
	Retained      string
}

// FindLeftovers lists cdcbench slots and publications in every database of
// the server at dsn (when dsn is not empty), and private cluster and Kafka
// directories in the temp dir and servers still running on removed ones,
// each marked Live when a running run owns it.
func FindLeftovers(ctx context.Context, dsn string) ([]Leftover, error) {
	out := append(append(leftoverDirs(), jvmLeftovers()...), postmasterLeftovers()...)
	if dsn == "" {
		return out, nil
	}
	server, err := serverLeftovers(ctx, dsn)
	return append(out, server...), err
}

// InactiveSlots lists the cdcbench slots on the server at dsn that nothing
// streams and no live run is connected for: each retains WAL until someone
// drops it, which a run starting on that server warns about.
func InactiveSlots(ctx context.Context, dsn string) ([]Leftover, error) {
	ls, err := serverLeftovers(ctx, dsn)
	var out []Leftover
	for _, l := range ls {
		if l.Kind == LeftoverSlot && !l.Live {
			out = append(out, l)
		}
	}
	return out, err
}

// serverLeftovers finds slots (server-wide) and publications (one
// connection per database that allows connections, template1 included).
func serverLeftovers(ctx context.Context, dsn string) ([]Leftover, error) {
	conn, err := connectTo(ctx, dsn, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Databases a run is connected to, by its harness connections: a run
	// keeps one open in its database while a path runs, so a database in
	// use is known even while a slot is briefly inactive (a relay being
	// resumed, a kill-relay fault).
	inUse := map[string]int{}
	rows, err := conn.Query(ctx, `SELECT datname, min(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid() AND datname IS NOT NULL GROUP BY datname`, HarnessApp)
	if err != nil {
		return nil, fmt.Errorf("clean: list runs' connections: %w", err)
	}
	for rows.Next() {
		var db string
		var pid int
		if err := rows.Scan(&db, &pid); err != nil {
			return nil, fmt.Errorf("clean: list runs' connections: %w", err)
		}
		inUse[db] = pid
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clean: list runs' connections: %w", err)
	}
	slots, err := listSlots(ctx, conn, inUse)
	if err != nil {
		return nil, err
	}
	var dbs []string
	rows, err = conn.Query(ctx, `SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname`)
	if err != nil {
		return slots, fmt.Errorf("clean: list databases: %w", err)
	}
	for rows.Next() {
		var db string
		if err := rows.Scan(&db); err != nil {
			return slots, fmt.Errorf("clean: list databases: %w", err)
		}
		dbs = append(dbs, db)
	}
	if err := rows.Err(); err != nil {
		return slots, fmt.Errorf("clean: list databases: %w", err)
	}
	out := slots
	var errs []error
	for _, db := range dbs {
		pubs, err := listPublications(ctx, dsn, db, slots, inUse[db])
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, pubs...)
	}
	return out, errors.Join(errs...)
}

func listSlots(ctx context.Context, conn *pgx.Conn, inUse map[string]int) ([]Leftover, error) {
	rows, err := conn.Query(ctx, `SELECT slot_name::text, coalesce(database::text, ''), active, active_pid,
			coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,
			pg_size_pretty(coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0))
		FROM pg_replication_slots WHERE slot_name LIKE 'cdcbench\_%' ORDER BY slot_name`)
	if err != nil {
		return nil, fmt.Errorf("clean: list slots: %w", err)
	}
	var out []Leftover
	for rows.Next() {
		l := Leftover{Kind: LeftoverSlot}
		var pid *int
		if err := rows.Scan(&l.Name, &l.Database, &l.Live, &pid, &l.RetainedBytes, &l.Retained); err != nil {
			return nil, fmt.Errorf("clean: list slots: %w", err)
		}
		switch runPID, ok := inUse[l.Database]; {
		case l.Live && pid != nil:
			l.Detail = fmt.Sprintf("active: streamed by pid %d", *pid)
		case l.Live:
			l.Detail = "active"
		case ok:
			l.Live = true
			l.Detail = fmt.Sprintf("inactive, but a cdcbench run is connected to database %s (pid %d): kept until it ends", l.Database, runPID)
		default:
			l.Detail = "inactive"
		}
		l.Detail += ", retaining " + l.Retained + " of WAL"
		out = append(out, l)
	}
	return out, rows.Err()
}

// listPublications lists db's cdcbench publications. A publication is live
// when a live slot in the same database belongs to the same run (named
// like it, or like it plus "_suffix"), or a run is connected to db
// (runPID, 0 for none).
func listPublications(ctx context.Context, dsn, db string, slots []Leftover, runPID int) ([]Leftover, error) {
	conn, err := connectTo(ctx, dsn, db)
	if err != nil {
		return nil, fmt.Errorf("clean: database %s: %w", db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT pubname::text FROM pg_publication WHERE pubname LIKE 'cdcbench\_%' ORDER BY pubname`)
	if err != nil {
		return nil, fmt.Errorf("clean: database %s: list publications: %w", db, err)
	}
	var out []Leftover
	for rows.Next() {
		l := Leftover{Kind: LeftoverPublication, Database: db, Detail: "publication of a cdcbench run whose slot is gone or inactive"}
		if err := rows.Scan(&l.Name); err != nil {
			return nil, fmt.Errorf("clean: database %s: list publications: %w", db, err)
		}
		for _, s := range slots {
			if s.Live && s.Database == db && (s.Name == l.Name || strings.HasPrefix(s.Name, l.Name+"_")) {
				l.Live, l.Detail = true, "read by the live slot "+s.Name
			}
		}
		if !l.Live && runPID != 0 {
			l.Live, l.Detail = true, fmt.Sprintf("a cdcbench run is connected to database %s (pid %d): kept until it ends", db, runPID)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// connectTo connects to database db of the server at dsn ("" = dsn's own).
func connectTo(ctx context.Context, dsn, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("clean: %w", err)
	}
	if db != "" {
		cfg.Database = db
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("clean: connect: %w", err)
	}
	return conn, nil
}

// RemoveLeftovers removes what FindLeftovers found, except what is Live.
// Slots and publications are dropped from their own database; each is
// checked again as it is dropped (a slot that became active is kept).
func RemoveLeftovers(ctx context.Context, dsn string, ls []Leftover) error {
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	var errs []error
	for _, l := range ls {
		if l.Live {
			continue
		}
		switch l.Kind {
		case LeftoverPostmaster:
			pid, _ := strconv.Atoi(l.Name)
			if err := pgcluster.StopPostmaster(ctx, pid); err != nil {
				errs = append(errs, fmt.Errorf("clean: %w", err))
			}
		case LeftoverClusterDir, LeftoverKafkaDir:
			if pid := pgcluster.DirPostmaster(l.Name); l.Kind == LeftoverClusterDir && pid != 0 {
				// Its owner is gone, but a server restarted from outside
				// still runs on it: stopped before its data goes.
				if err := pgcluster.StopPostmaster(ctx, pid); err != nil {
					errs = append(errs, fmt.Errorf("clean: %w", err))
					continue
				}
			}
			if err := os.RemoveAll(l.Name); err != nil {
				errs = append(errs, fmt.Errorf("clean: %w", err))
			}
		case LeftoverJVMDir, LeftoverSparkDir, LeftoverFlinkCDCDir, LeftoverDebeziumServerDir:
			if err := jvmstack.RemoveLeftover(l.Name); err != nil {
				errs = append(errs, fmt.Errorf("clean: %w", err))
			}
		case LeftoverSlot, LeftoverPublication:
			conn := conns[l.Database]
			if conn == nil {
				c, err := connectTo(ctx, dsn, l.Database)
				if err != nil {
					errs = append(errs, fmt.Errorf("clean: database %s: %w", l.Database, err))
					continue
				}
				conns[l.Database], conn = c, c
			}
			// A slot is dropped only if it is still inactive: a run may
			// have resumed on it since it was listed.
			sql := "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active"
			args := []any{l.Name}
			if l.Kind == LeftoverPublication {
				sql, args = "DROP PUBLICATION IF EXISTS "+pgx.Identifier{l.Name}.Sanitize(), nil
			}
			if _, err := conn.Exec(ctx, sql, args...); err != nil {
				errs = append(errs, fmt.Errorf("clean: drop %s %s in database %s: %w", l.Kind, l.Name, l.Database, err))
			}
		}
	}
	return errors.Join(errs...)
}

// leftoverDirs lists private cluster and Kafka directories, Live when their
// owner still runs. A directory without an owner file (an older cdcbench's,
// or one whose owner has not written it yet) counts as left behind only
// once it is older than a start-up could take and, for a cluster, no
// postmaster runs on it.
func leftoverDirs() []Leftover {
	var out []Leftover
	for _, kind := range []struct{ kind, glob, what string }{
		{LeftoverClusterDir, "cdcbench-pg-*", "private PostgreSQL cluster"},
		{LeftoverKafkaDir, "cdcbench-kafka-*", "in-process Kafka's data"},
	} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), kind.glob))
		for _, d := range dirs {
			l := Leftover{Kind: kind.kind, Name: d}
			state, pid := ownerpid.Check(d)
			switch state {
			case ownerpid.Alive:
				l.Live, l.Detail = true, fmt.Sprintf("%s of a live run (owner pid %d)", kind.what, pid)
			case ownerpid.Dead:
				l.Detail = fmt.Sprintf("%s whose owner (pid %d) is gone", kind.what, pid)
			default:
				if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < startupGrace {
					continue
				}
				l.Detail = fmt.Sprintf("%s without an owner file, older than %v", kind.what, startupGrace)
			}
			if pid := pgcluster.DirPostmaster(d); kind.kind == LeftoverClusterDir && !l.Live && pid != 0 {
				if state == ownerpid.Dead {
					l.Detail += fmt.Sprintf("; its server (pid %d) still runs (stopped on removal)", pid)
				} else {
					l.Live, l.Detail = true, fmt.Sprintf("%s whose server (pid %d) still runs", kind.what, pid)
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// postmasterLeftovers lists the servers running on a private cluster's
// removed data directory: no directory is left to find them by.
func postmasterLeftovers() []Leftover {
	var out []Leftover
	for _, o := range pgcluster.Orphans() {
		out = append(out, Leftover{Kind: LeftoverPostmaster, Name: strconv.Itoa(o.PID),
			Detail: fmt.Sprintf("PostgreSQL server still running on the removed %s", o.DataDir)})
	}
	return out
}

// jvmLeftovers lists the local stacks' Kafka/Connect dirs and the Spark
// paths' work dirs: each a dir jvm.Start claimed and ran its JVMs from.
// Pdeathsig normally took a killed cdcbench's JVMs down with it (a Spark
// path's dir stays: a kill -9 leaves no time to remove it); removing the
// dir kills any that survived.
func jvmLeftovers() []Leftover {
	var out []Leftover
	for _, kind := range []struct{ kind, prefix, what string }{
		{LeftoverJVMDir, jvmstack.DirPrefix, "Kafka/Connect dir"},
		{LeftoverSparkDir, SparkDirPrefix, "Spark path's work dir"},
		{LeftoverFlinkCDCDir, FlinkCDCDirPrefix, "Flink CDC path's work dir"},
		{LeftoverDebeziumServerDir, DebeziumServerDirPrefix, "Debezium Server path's work dir"},
	} {
		for _, j := range jvmstack.FindDirs(kind.prefix) {
			l := Leftover{Kind: kind.kind, Name: j.Dir, Live: j.Live, Detail: kind.what + " of a live run"}
			if !j.Live {
				l.Detail = kind.what + " of a cdcbench that is gone"
				if len(j.PIDs) > 0 {
					l.Detail += fmt.Sprintf("; JVMs %v still running (killed on removal)", j.PIDs)
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// startupGrace is how long a directory may lack an owner file.
const startupGrace = 2 * time.Minute
