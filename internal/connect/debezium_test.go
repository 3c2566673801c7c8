package connect_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connect"
)

func TestDebeziumConfig(t *testing.T) {
	base := connect.DebeziumConfig{
		Host: "postgres", User: "cdcbench", Password: password, DBName: "cdcbench",
		Slot: "cdcbench_slot_run1", Publication: "cdcbench_pub_run1",
	}
	// The seed's connector, with the run's slot and publication.
	seed := connect.Config{
		"connector.class":                "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                      "1",
		"plugin.name":                    "pgoutput",
		"database.hostname":              "postgres",
		"database.port":                  "5432",
		"database.user":                  "cdcbench",
		"database.password":              password,
		"database.dbname":                "cdcbench",
		"topic.prefix":                   "dbserver1",
		"table.include.list":             "public.transactions",
		"slot.name":                      "cdcbench_slot_run1",
		"publication.name":               "cdcbench_pub_run1",
		"publication.autocreate.mode":    "disabled",
		"snapshot.mode":                  "no_data",
		"decimal.handling.mode":          "double",
		"tombstones.on.delete":           "false",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
	}
	with := func(changes map[string]string) connect.Config {
		c := maps.Clone(seed)
		maps.Copy(c, changes)
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*connect.DebeziumConfig)
		want   connect.Config
	}{
		{name: "seed settings", change: func(*connect.DebeziumConfig) {}, want: seed},
		{name: "heartbeat", change: func(d *connect.DebeziumConfig) { d.Heartbeat = 10 * time.Second }, want: with(map[string]string{"heartbeat.interval.ms": "10000"})},
		{name: "external database", change: func(d *connect.DebeziumConfig) { d.Host, d.Port = "db.internal", 6543 }, want: with(map[string]string{"database.hostname": "db.internal", "database.port": "6543"})},
		{name: "other topic and table", change: func(d *connect.DebeziumConfig) { d.TopicPrefix, d.Table = "bench2", "public.tx2" }, want: with(map[string]string{"topic.prefix": "bench2", "table.include.list": "public.tx2"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.change(&d)
			got, err := d.Config()
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				for k := range maps.Keys(got) {
					if got[k] != tc.want[k] {
						t.Errorf("%s = %q, want %q", k, got[k], tc.want[k])
					}
				}
				for k := range maps.Keys(tc.want) {
					if _, ok := got[k]; !ok {
						t.Errorf("%s missing, want %q", k, tc.want[k])
					}
				}
			}
		})
	}
}

func TestDebeziumConfigInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      connect.DebeziumConfig
		naming []string
	}{
		{name: "empty", d: connect.DebeziumConfig{}, naming: []string{"host is empty", "user is empty", "database name is empty", `slot ""`, `publication ""`}},
		{name: "slot with capitals and dash", d: connect.DebeziumConfig{Host: "h", User: "u", DBName: "d", Slot: "Run-1", Publication: "p"}, naming: []string{`slot "Run-1"`}},
		{name: "slot too long", d: connect.DebeziumConfig{Host: "h", User: "u", DBName: "d", Slot: strings.Repeat("s", 64), Publication: "p"}, naming: []string{"slot"}},
		{name: "bad port", d: connect.DebeziumConfig{Host: "h", User: "u", DBName: "d", Slot: "s", Publication: "p", Port: 70000}, naming: []string{"port 70000"}},
		{name: "sub-millisecond heartbeat", d: connect.DebeziumConfig{Host: "h", User: "u", DBName: "d", Slot: "s", Publication: "p", Heartbeat: time.Microsecond}, naming: []string{"heartbeat 1µs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.d.Config()
			if !errors.Is(err, connect.ErrInvalidConfig) {
				t.Fatalf("Config() = %v, %v; want ErrInvalidConfig", cfg, err)
			}
			for _, s := range tc.naming {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

func TestConfigRedaction(t *testing.T) {
	cfg := connect.Config{
		"database.hostname":    "postgres",
		"database.password":    password,
		"database.sslpassword": "keypass",
		"sasl.jaas.config":     `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="jaaspw";`,
	}
	secrets := []string{password, "keypass", "jaaspw"}
	for _, tc := range []struct{ name, text string }{
		{name: "String", text: cfg.String()},
		{name: "%v", text: fmt.Sprintf("%v", cfg)},
		{name: "%+v", text: fmt.Sprintf("%+v", cfg)},
		{name: "%#v", text: fmt.Sprintf("%#v", cfg)},
		{name: "%s", text: fmt.Sprintf("config %s", cfg)},
		{name: "wrapped in an error", text: fmt.Errorf("apply %v: %w", cfg, errors.New("boom")).Error()},
		{name: "Redacted copy", text: fmt.Sprint(map[string]string(cfg.Redacted()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range secrets {
				if strings.Contains(tc.text, s) {
					t.Errorf("%s shows secret %q: %s", tc.name, s, tc.text)
				}
			}
			if !strings.Contains(tc.text, "database.password:xxxxx") && !strings.Contains(tc.text, "database.password=xxxxx") {
				t.Errorf("%s does not show the masked password: %s", tc.name, tc.text)
			}
			if !strings.Contains(tc.text, "postgres") {
				t.Errorf("%s hides a non-secret value: %s", tc.name, tc.text)
			}
		})
	}
	t.Run("JSON sends the real values", func(t *testing.T) {
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"database.password":"`+password+`"`) {
			t.Errorf("JSON %s lacks the password Connect needs", b)
		}
	})
	t.Run("Redacted leaves the original alone", func(t *testing.T) {
		_ = cfg.Redacted()
		if cfg["database.password"] != password {
			t.Errorf("Redacted changed the config it copies")
		}
	})
}
