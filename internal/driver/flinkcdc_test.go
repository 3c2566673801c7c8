package driver

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestCheckFlinkSetting: the checkpoint interval and the LSN commit delay
// with their units and bounds, debezium.<property> for a property of
// Debezium's PostgreSQL connector that cdcbench does not set, and a
// misspelt or misplaced key named with the one meant.
func TestCheckFlinkSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, value, wantErr string
	}{
		{"execution.checkpointing.interval", "10s", ""},
		{"execution.checkpointing.interval", "250ms", ""},
		{"execution.checkpointing.interval", "50ms", "at least 100ms"},
		{"execution.checkpointing.interval", "10", "at least 100ms"},
		{"scan.lsn-commit.checkpoints-num-delay", "3", ""},
		{"scan.lsn-commit.checkpoints-num-delay", "0", ""},
		{"scan.lsn-commit.checkpoints-num-delay", "-1", "is a count of checkpoints"},
		{"debezium.max.batch.size", "4096", ""},
		{"debezium.poll.interval.ms", "50", ""},
		{"debezium.max.batch.size", " ", "has no value"},
		{"debezium.max.bacth.size", "1", `did you mean "debezium.max.batch.size"?`},
		{"debezium.linger.ms", "5", `unknown setting "debezium.linger.ms": not among`},
		{"debezium.slot.name", "mine", "set by cdcbench"},
		{"debezium.decimal.handling.mode", "precise", "set by cdcbench"},
		{"debezium.producer.override.linger.ms", "5", "not Kafka Connect's producer"},
		{"execution.checkpointing.intervall", "10s", `did you mean "execution.checkpointing.interval"?`},
		{"max.batch.size", "4096", `did you mean "debezium.max.batch.size"?`},
		{"parallelism.default", "2", "is not a setting of a Flink CDC path"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			err := CheckSetting(Path{Kind: kindFlinkCDC}, tc.key, tc.value)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestFlinkArgsMatchProgram holds the driver's arguments and Capture's
// to one list: an argument Capture needs and the driver does not pass
// fails its start only once Flink runs, and one the driver passes that
// Capture never reads is configuration that does nothing.
func TestFlinkArgsMatchProgram(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("flinkcdc/src/main/java/cdcbench/flinkcdc/Capture.java")
	if err != nil {
		t.Fatal(err)
	}
	var java []string
	for _, m := range regexp.MustCompile(`(?:need\(a, |a\.containsKey\()"([a-z-]+)"`).FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(java, m[1]) {
			java = append(java, m[1])
		}
	}
	java = append(java, "debezium")
	f, err := newFlinkCDC(map[string]string{"debezium.max.batch.size": "4096"})
	if err != nil {
		t.Fatal(err)
	}
	f.env = Env{Slot: "s", Publication: "p", KeyByUser: true}
	pc, err := pgx.ParseConfig("postgres://u:pw@h:5/db")
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, a := range f.args(pc, "/pw", []string{"b:9092"}) {
		if name, ok := strings.CutPrefix(a, "--"); ok && !slices.Contains(passed, name) {
			passed = append(passed, name)
		}
	}
	slices.Sort(java)
	slices.Sort(passed)
	if !slices.Equal(java, passed) {
		t.Errorf("Capture reads %v, the driver passes %v", java, passed)
	}
}
