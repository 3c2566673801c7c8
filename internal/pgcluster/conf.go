package pgcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// confFile is the file, inside the data directory, holding every setting
// pgcluster chooses. A separate file included from postgresql.conf (rather
// than -c flags) lets someone inspecting a kept cluster see what it ran with.
const confFile = "cdcbench.conf"

// defaultSettings are the server settings a benchmark run needs. Each one is
// here for a reason:
//   - wal_level, max_wal_senders, max_replication_slots: logical decoding
//     with pgoutput for the relay and Debezium.
//   - synchronous_commit, fsync: commit latency as an honest server has it.
//   - max_slot_wal_keep_size: a leaked slot cannot fill the disk.
//   - max_wal_size, min_wal_size, checkpoint_timeout: no checkpoint in the
//     middle of a short run to skew its latency.
//   - track_io_timing: I/O time shows up in pg_stat_statements and EXPLAIN.
//   - track_wal_io_timing: pg_stat_wal times the WAL's fsyncs, which the
//     metrics sampler reads each second: a commit that waits for a slow
//     fsync is a row late before any capture sees it.
//   - track_commit_timestamp off: it would add a write per commit that a
//     production server usually does not do.
//   - logging_collector off: the server writes its log to stderr, which
//     pgcluster sends to server.log, so there is no second process to reap.
var defaultSettings = map[string]string{
	"wal_level":              "logical",
	"max_wal_senders":        "10",
	"max_replication_slots":  "10",
	"synchronous_commit":     "on",
	"fsync":                  "on",
	"max_slot_wal_keep_size": "2GB",
	"max_wal_size":           "8GB",
	"min_wal_size":           "1GB",
	"checkpoint_timeout":     "1h",
	"wal_sender_timeout":     "60s",
	"max_connections":        "100",
	"shared_buffers":         "256MB",
	"track_io_timing":        "on",
	"track_wal_io_timing":    "on",
	"track_commit_timestamp": "off",
	"log_min_messages":       "warning",
	"logging_collector":      "off",
}

// managedSettings are decided by pgcluster itself because DSN and the
// "loopback only" promise depend on them; Options.Settings may not set them.
var managedSettings = map[string]string{
	"port":                    "Options.Port",
	"listen_addresses":        "nothing (the server listens on 127.0.0.1 only)",
	"unix_socket_directories": "nothing (the socket lives in the cluster's temp dir)",
}

// settingNameRE accepts PostgreSQL parameter names, including custom
// "extension.name" ones, and nothing that could break out of the conf line.
var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// buildSettings merges the defaults, pg_stat_statements preloading and the
// caller's overrides. The managed settings are added per start attempt.
func buildSettings(overrides map[string]string, preloadStatStatements bool) (map[string]string, error) {
	settings := make(map[string]string, len(defaultSettings)+len(overrides)+1)
	for k, v := range defaultSettings {
		settings[k] = v
	}
	if preloadStatStatements {
		settings["shared_preload_libraries"] = "pg_stat_statements"
	}
	for k, v := range overrides {
		if !settingNameRE.MatchString(k) {
			return nil, fmt.Errorf("pgcluster: invalid setting name %q", k)
		}
		if use, ok := managedSettings[strings.ToLower(k)]; ok {
			return nil, fmt.Errorf("pgcluster: setting %q is managed by pgcluster; use %s", k, use)
		}
		settings[strings.ToLower(k)] = v
	}
	return settings, nil
}

// preloads reports whether the settings preload pg_stat_statements.
func preloads(settings map[string]string) bool {
	for _, lib := range strings.Split(settings["shared_preload_libraries"], ",") {
		if strings.Trim(strings.TrimSpace(lib), `"`) == "pg_stat_statements" {
			return true
		}
	}
	return false
}

// writeConf writes confFile with settings plus the managed ones for this
// start attempt. It is rewritten on every attempt because the port changes
// when a picked port turns out to be taken.
func writeConf(dataDir string, settings map[string]string, port int, socketDir string) error {
	all := make(map[string]string, len(settings)+len(managedSettings))
	for k, v := range settings {
		all[k] = v
	}
	all["port"] = strconv.Itoa(port)
	all["listen_addresses"] = "127.0.0.1"
	// The setting is a comma-separated list: quote the one entry so a temp
	// dir with a comma in its path still works.
	all["unix_socket_directories"] = `"` + socketDir + `"`

	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by cdcbench (package pgcluster) for a private benchmark cluster.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(all[k], "'", "''"))
	}
	if err := os.WriteFile(filepath.Join(dataDir, confFile), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", confFile, err)
	}
	return nil
}

// includeConf makes postgresql.conf read confFile last, so its values win
// over initdb's defaults.
func includeConf(dataDir string) error {
	f, err := os.OpenFile(filepath.Join(dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: open postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Benchmark settings chosen by cdcbench.\ninclude '%s'\n", confFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: append to postgresql.conf: %w", err)
	}
	return nil
}
