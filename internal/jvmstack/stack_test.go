package jvmstack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

// TestStack starts one real broker and worker and runs, in order, the
// checks that need a running stack, ending with Close: no JVM and no temp
// dir may be left.
func TestStack(t *testing.T) {
	art := needJVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	st, err := jvmstack.Start(ctx, jvmstack.Options{Artifacts: art, Progress: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack ready in %s (warm cache): broker %v, Connect %s, dir %s", time.Since(t0).Round(time.Millisecond), st.Brokers(), st.ConnectURL(), st.Dir())
	closed := false
	defer func() {
		if !closed {
			_ = st.Close(context.Background())
		}
	}()
	const topic = "jvmstack-kcat"
	want := []string{"one", "two", "three"}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"broker answers metadata for its cluster", func(t *testing.T) {
			adm := admin(t, st.Brokers())
			md, err := adm.BrokerMetadata(ctx)
			if err != nil || md.Cluster != st.ClusterID() || len(md.Brokers) != 1 {
				t.Fatalf("metadata %+v, %v; want cluster %s with one broker", md, err, st.ClusterID())
			}
		}},
		{"Connect lists the Debezium plugin", func(t *testing.T) {
			c, err := connect.New(st.ConnectURL())
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Check(ctx)
			if err != nil || info.Version != jvmstack.KafkaVersion || info.KafkaClusterID != st.ClusterID() {
				t.Fatalf("GET / = %+v, %v", info, err)
			}
			v, err := c.DebeziumVersion(ctx)
			if err != nil || v != jvmstack.DebeziumVersion {
				t.Fatalf("Debezium plugin version %q, %v; want %s", v, err, jvmstack.DebeziumVersion)
			}
			if got := st.Versions(); got != (jvmstack.Versions{Kafka: jvmstack.KafkaVersion, Connect: jvmstack.KafkaVersion, Debezium: jvmstack.DebeziumVersion}) {
				t.Fatalf("Versions() = %+v", got)
			}
		}},
		{"kcat reads what franz-go produced", func(t *testing.T) {
			produce(ctx, t, st.Brokers(), topic, want)
			if got := kcat(ctx, t, st.Brokers()[0], topic); !equal(got, want) {
				t.Fatalf("kcat read %q, want %q", got, want)
			}
		}},
		{"kill -9 Connect and restart it on the same port", func(t *testing.T) {
			_, old := st.PIDs()
			t1 := time.Now()
			if err := st.RestartConnect(ctx, 0); err != nil {
				t.Fatal(err)
			}
			_, now := st.PIDs()
			if now == old || now == 0 || processExists(old) {
				t.Fatalf("connect pid %d -> %d (old still there: %v)", old, now, processExists(old))
			}
			t.Logf("Connect killed and ready again in %s", time.Since(t1).Round(time.Millisecond))
		}},
		{"restart the broker with its data", func(t *testing.T) {
			t1 := time.Now()
			if err := st.RestartBroker(ctx, 0); err != nil {
				t.Fatal(err)
			}
			t.Logf("broker restarted in %s", time.Since(t1).Round(time.Millisecond))
			if got := kcat(ctx, t, st.Brokers()[0], topic); !equal(got, want) {
				t.Fatalf("after restart kcat read %q, want %q", got, want)
			}
		}},
		{"both JVMs serve their metrics after their restarts, on the same ports", func(t *testing.T) {
			for _, tc := range []struct{ url, want string }{
				{st.BrokerMetricsURLs()[0], "broker_produce_total_time_ms_99thpercentile"},
				{st.WorkerMetricsURLs()[0], "jvm_gc_collection_seconds_sum"},
			} {
				body := get(ctx, t, tc.url)
				for _, w := range []string{`jmx_prometheus_javaagent",version="1.0.1"`, tc.want} {
					if !strings.Contains(body, w) {
						t.Errorf("%s lacks %s:\n%.2000s", tc.url, w, body)
					}
				}
			}
		}},
		{"Close leaves no JVM and no dir", func(t *testing.T) {
			b, c := st.PIDs()
			brss, crss := st.PeakRSS()
			t.Logf("peak RSS: broker %.0f MiB, Connect %.0f MiB (since their last start)", float64(brss)/(1<<20), float64(crss)/(1<<20))
			t1 := time.Now()
			if err := st.Close(ctx); err != nil {
				t.Fatal(err)
			}
			closed = true
			t.Logf("closed in %s", time.Since(t1).Round(time.Millisecond))
			for _, pid := range []int{b, c} {
				if processExists(pid) {
					t.Errorf("JVM %d still running after Close", pid)
				}
			}
			if jvms := stackJVMs(t, st.Dir()); len(jvms) > 0 {
				t.Errorf("JVMs of %s still running: %v", st.Dir(), jvms)
			}
			if _, err := os.Stat(st.Dir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temp dir %s still there (%v)", st.Dir(), err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			break
		}
	}
}

// get is url's body; an error or a status other than 200 fails t.
func get(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(b)
}

// TestStartFailures checks that a stack that cannot start says which part
// failed and why, quickly, and leaves nothing behind.
func TestStartFailures(t *testing.T) {
	art := needJVM(t)
	// Its own temp dir: a stack another process starts meanwhile has a
	// directory without an owner file for a moment, which stackDirs would
	// count as left behind by this test.
	t.Setenv("TMPDIR", t.TempDir())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	ctrl := freePort(t)
	cases := []struct {
		name   string
		opts   jvmstack.Options
		within time.Duration
		want   []string
	}{
		{"broker port in use", jvmstack.Options{BrokerPort: busyPort}, time.Second,
			[]string{"Kafka broker", "in use", strconv.Itoa(busyPort)}},
		{"Connect port in use", jvmstack.Options{ConnectPort: busyPort}, time.Second,
			[]string{"Kafka Connect worker", "in use", strconv.Itoa(busyPort)}},
		{"broker dies at start-up: listener port taken behind our back", jvmstack.Options{
			ControllerPort: ctrl,
			BrokerConfig: map[string]string{
				"listeners":            fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", busyPort, ctrl),
				"advertised.listeners": fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", busyPort),
			}}, 60 * time.Second,
			[]string{"Kafka broker exited during start-up", "broker.log", "Address already in use"}},
		// A warm worker is ready in about 3 s here; no JVM starts its REST
		// API in 300 ms.
		{"Connect never ready", jvmstack.Options{ConnectReadyTimeout: 300 * time.Millisecond}, 60 * time.Second,
			[]string{"Kafka Connect worker not ready after 300ms", "connect.log"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Artifacts = art
			before := stackDirs(t)
			t0 := time.Now()
			st, err := jvmstack.Start(context.Background(), tc.opts)
			took := time.Since(t0)
			if err == nil {
				_ = st.Close(context.Background())
				t.Fatal("Start succeeded")
			}
			t.Logf("after %s: %v", took.Round(time.Millisecond), err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if took > tc.within {
				t.Errorf("took %s, want at most %s", took, tc.within)
			}
			for d := range stackDirs(t) {
				if !before[d] {
					t.Errorf("left %s behind (JVMs: %v)", d, stackJVMs(t, d))
				}
			}
		})
	}
}

func admin(t *testing.T, brokers []string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func produce(ctx context.Context, t *testing.T, brokers []string, topic string, values []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
}

// kcat reads the whole topic with kcat, a librdkafka client, and exits at
// its end (-e).
func kcat(ctx context.Context, t *testing.T, broker, topic string) []string {
	t.Helper()
	bin, err := exec.LookPath("kcat")
	if err != nil {
		if bin, err = exec.LookPath("kafkacat"); err != nil {
			t.Fatal("kcat is not installed (scripts/ensure-java.sh installs it): it is the third-party client that reads the real topic")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(cctx, bin, "-b", broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v: %s", err, stderr.String())
	}
	return strings.Fields(string(out))
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func processExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// stackJVMs lists the processes whose command line names the stack dir.
func stackJVMs(t *testing.T, dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("-Dcdcbench.stack="+dir+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if processExists(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stackDirs lists the stack dirs this test process owns: other packages'
// tests start local stacks of their own at the same time.
func stackDirs(t *testing.T) map[string]bool {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), jvmstack.DirPrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, d := range dirs {
		if state, pid := ownerpid.Check(d); state != ownerpid.Unknown && pid != os.Getpid() {
			continue
		}
		m[d] = true // ours, or not yet (or no longer) owned: count it
	}
	return m
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
