package connect

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is a connector configuration: the JSON object PUT to
// /connectors/{name}/config. Its String and GoString forms replace secret
// values with "xxxxx", so printing a Config or wrapping it into an error
// never shows the database password; JSON encoding sends the real values.
type Config map[string]string

// Mask replaces secret values wherever a Config is shown.
const Mask = "xxxxx"

// secret reports whether a key holds a credential: database.password,
// database.sslpassword, a JAAS config with an embedded password, ...
func secret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.HasSuffix(k, "jaas.config")
}

// Redacted returns a copy with every secret value replaced by Mask.
func (c Config) Redacted() Config {
	out := maps.Clone(c)
	for k, v := range out {
		if secret(k) && v != "" {
			out[k] = Mask
		}
	}
	return out
}

// String lists the settings sorted by key, secrets redacted.
func (c Config) String() string {
	r := c.Redacted()
	keys := slices.Sorted(maps.Keys(r))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + r[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// GoString keeps %#v from printing the raw map.
func (c Config) GoString() string { return "connect.Config" + c.String() }

// scrub replaces secret values that the worker echoed into err's text (the
// config itself is printed redacted by key), so an error about this config is
// safe to print whatever the worker said.
func (c Config) scrub(err error) error {
	msg := err.Error()
	clean := msg
	for k, v := range c {
		if secret(k) && v != "" {
			clean = strings.ReplaceAll(clean, v, Mask)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// scrubbedError shows a redacted message but keeps the chain for errors.Is/As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// Settings shared by every connector cdcbench registers.
const (
	// DefaultTopicPrefix makes the change topic dbserver1.public.transactions,
	// the seed's name that the agents subscribe to.
	DefaultTopicPrefix = "dbserver1"
	// DefaultTable is the only table captured.
	DefaultTable  = "public.transactions"
	jsonConverter = "org.apache.kafka.connect.json.JsonConverter"
)

// ErrInvalidConfig reports a DebeziumConfig that cannot make a working
// connector (a missing field, a slot name PostgreSQL would reject).
var ErrInvalidConfig = errors.New("invalid Debezium connector config")

// identifier is PostgreSQL's rule for replication slot names (lower-case
// letters, digits, underscore; at most NAMEDATALEN-1 = 63 bytes), which
// Debezium also enforces; the publication name follows it too so that it
// needs no quoting.
var identifier = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// DebeziumConfig describes the Debezium PostgreSQL connector of one run with
// the seed's settings. Host and Port are the database as the Connect worker
// reaches it: in the compose stack that is postgres:5432, not the host's 5433.
type DebeziumConfig struct {
	Host     string
	Port     int // 0 means 5432
	User     string
	Password string
	DBName   string

	// Slot is the replication slot, one per run so that a run never resumes
	// from another run's position; Debezium creates it.
	Slot string
	// Publication must exist before Apply: the caller creates it with
	// CREATE PUBLICATION ... FOR TABLE public.transactions. Autocreation is
	// disabled because "filtered" autocreation failed for the seed's author
	// and "all_tables" needs superuser; a missing publication then fails the
	// task with a clear "Publication autocreation is disabled" trace.
	Publication string

	TopicPrefix string // "" means DefaultTopicPrefix
	Table       string // "" means DefaultTable

	// Heartbeat, when positive, makes Debezium emit heartbeats so that the
	// slot's confirmed position advances while the captured table is idle.
	Heartbeat time.Duration
}

// Config returns the connector configuration, or an error wrapping
// ErrInvalidConfig that names every problem.
//
// snapshot.mode is "no_data": the benchmark measures streaming from a fresh
// table, and Debezium 3 removed the old name "never". decimal.handling.mode
// "double" carries amount as a JSON number, as the seed's agents read it.
// Tombstones are off because rows are never deleted during a run and a null
// value would only be a message to skip.
func (d DebeziumConfig) Config() (Config, error) {
	var problems []string
	for _, f := range []struct{ name, v string }{
		{"host", d.Host}, {"user", d.User}, {"database name", d.DBName},
	} {
		if f.v == "" {
			problems = append(problems, f.name+" is empty")
		}
	}
	if !identifier.MatchString(d.Slot) {
		problems = append(problems, fmt.Sprintf("slot %q is not 1-63 of [a-z0-9_]", d.Slot))
	}
	if !identifier.MatchString(d.Publication) {
		problems = append(problems, fmt.Sprintf("publication %q is not 1-63 of [a-z0-9_]", d.Publication))
	}
	if d.Port < 0 || d.Port > 65535 {
		problems = append(problems, fmt.Sprintf("port %d is out of range", d.Port))
	}
	if d.Heartbeat < 0 || (d.Heartbeat > 0 && d.Heartbeat < time.Millisecond) {
		problems = append(problems, fmt.Sprintf("heartbeat %s is not 0 (off) or at least 1ms", d.Heartbeat))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("connect: %w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	port, prefix, table := d.Port, d.TopicPrefix, d.Table
	if port == 0 {
		port = 5432
	}
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	if table == "" {
		table = DefaultTable
	}
	cfg := Config{
		"connector.class":                PostgresConnectorClass,
		"tasks.max":                      "1",
		"plugin.name":                    "pgoutput",
		"database.hostname":              d.Host,
		"database.port":                  strconv.Itoa(port),
		"database.user":                  d.User,
		"database.password":              d.Password,
		"database.dbname":                d.DBName,
		"topic.prefix":                   prefix,
		"table.include.list":             table,
		"slot.name":                      d.Slot,
		"publication.name":               d.Publication,
		"publication.autocreate.mode":    "disabled",
		"snapshot.mode":                  "no_data",
		"decimal.handling.mode":          "double",
		"tombstones.on.delete":           "false",
		"key.converter":                  jsonConverter,
		"key.converter.schemas.enable":   "true",
		"value.converter":                jsonConverter,
		"value.converter.schemas.enable": "true",
	}
	if d.Heartbeat > 0 {
		cfg["heartbeat.interval.ms"] = strconv.FormatInt(d.Heartbeat.Milliseconds(), 10)
	}
	return cfg, nil
}
