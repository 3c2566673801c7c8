package driver

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/source"
)

// TestSparkOptionsMatchProgram holds the offline check and the program to
// one list: a setting the scenario check lets through must be one
// JdbcCapture takes, or the run would fail only once Spark started.
func TestSparkOptionsMatchProgram(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("spark/src/main/java/cdcbench/spark/JdbcCapture.java")
	if err != nil {
		t.Fatal(err)
	}
	var java []string
	for _, m := range regexp.MustCompile(`OPTIONS\.put\("([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		java = append(java, m[1])
	}
	if !slices.Equal(java, sparkOptions) {
		t.Errorf("JdbcCapture takes %v, the settings check %v", java, sparkOptions)
	}
}

// TestCheckSparkSetting: the options JdbcCapture takes, in any case as
// Spark takes them, with positive integers; the heap as -Xmx takes it; a
// misspelt option named with the one meant.
func TestCheckSparkSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, value, wantErr string
	}{
		{"fetchsize", "10000", ""},
		{"numPartitions", "4", ""},
		{"numpartitions", "4", ""},
		{"spark.driver.memory", "768m", ""},
		{"numPartitions", "0", `is a positive integer, got "0"`},
		{"fetchsize", "lots", `is a positive integer, got "lots"`},
		{"spark.driver.memory", "1x", "is a JVM memory size"},
		{"fetchSize", "10", ""},
		{"fetchsiez", "10", `did you mean "fetchsize"?`},
		{"numPartition", "4", `did you mean "numPartitions"?`},
		{"partitionColumn", "id", "is not a setting of a Spark path (they are fetchsize, numPartitions, spark.driver.memory)"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			err := CheckSetting(Path{Kind: kindSpark, Param: "1s"}, tc.key, tc.value)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestSparkFeed writes what JdbcCapture writes to the feed's socket, as two
// programs would (the second started again from the mark after a kill),
// and checks what two subscribed agent instances receive: every row once,
// in id order within a read, stamped with Spark's read time, the mark
// kept below a gap until it fills.
func TestSparkFeed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 1)
	f := newSparkFeed(ln, 1, func(err error) { failed <- err })
	defer f.close()
	subs := []*sparkSource{f.subscribe(), f.subscribe()}
	got := make([]chan source.Delivery, len(subs))
	for i, s := range subs {
		got[i] = make(chan source.Delivery, 100)
		go func() { _ = s.Run(t.Context(), func(d *source.Delivery) { got[i] <- *d }) }()
	}
	row := func(id int64) string { return fmt.Sprintf("%d\t%d\t1234\tVISA\t5\t%d\n", id, id%7, 1_000_000+id) }
	program := func(lines ...string) net.Conn {
		ready := f.expect()
		c, err := net.Dial("tcp", f.addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("ready\t1500\n" + strings.Join(lines, ""))); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for ready.err() != nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if ready.err() != nil || ready.sessionMs != 1500 {
			t.Fatalf("ready line not taken: %v, %d", ready.err(), ready.sessionMs)
		}
		return c
	}
	expect := func(ids ...int64) {
		t.Helper()
		for i := range got {
			for _, id := range ids {
				select {
				case d := <-got[i]:
					if d.Tx.ID != id || d.Tx.AmountCents != 1234 || d.Tx.CreatedAt != 1_000_000+id || d.EventUs != 5_000_000 || d.ReceivedNs == 0 {
						t.Errorf("instance %d: got %+v, want row %d read at 5 s", i, d, id)
					}
				case err := <-failed:
					t.Fatalf("feed failed: %v", err)
				case <-time.After(10 * time.Second):
					t.Fatalf("instance %d: row %d never came", i, id)
				}
			}
		}
	}
	// Ids 1 and 3 commit first: the mark stays at 2.
	first := program("batch\t1\t5000000\t2\t40\n", row(1), row(3))
	expect(1, 3)
	if m := f.mark(); m != 2 {
		t.Errorf("mark %d after ids 1 and 3, want 2", m)
	}
	// Killed on purpose: its connection's end is no failure.
	f.detach()
	_ = first.Close()
	// Started again from 2, it reads 2 (committed late) and 3 again.
	second := program("batch\t1\t5000000\t3\t60\n", row(2), row(3), row(4))
	defer second.Close()
	expect(2, 4)
	if m := f.mark(); m != 5 {
		t.Errorf("mark %d after ids 1-4, want 5", m)
	}
	if st := f.stats(); st.reads != 2 || st.rows != 5 || st.readMsMax != 60 {
		t.Errorf("stats %+v, want 2 reads of 5 rows, the longest 60 ms", st)
	}
	select {
	case d := <-got[0]:
		t.Errorf("row %d handed over twice", d.Tx.ID)
	case err := <-failed:
		t.Errorf("feed failed: %v", err)
	default:
	}
	// A program that dies mid-read is a failure the run hears of.
	_, _ = second.Write([]byte("batch\t2\t6000000\t2\t10\n" + row(5)))
	_ = second.Close()
	select {
	case err := <-failed:
		if !strings.Contains(err.Error(), "1 rows into a read") {
			t.Errorf("failure %v, want the cut read named", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a connection cut mid-read was not reported")
	}
}
