package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/dashboard"
	"github.com/cdcbench/cdcbench/internal/live"
)

// start serves a dashboard on a free port for the test.
func start(t *testing.T) *dashboard.Server {
	t.Helper()
	d, err := dashboard.New(dashboard.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return d
}

// get returns the status, content type and body of the page's path.
func get(t *testing.T, d *dashboard.Server, path string) (int, string, string) {
	t.Helper()
	res, err := http.Get(strings.TrimSuffix(d.URL(), "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// feed is /data's answer as the page reads it.
type feed struct {
	Series []struct {
		ID                        int
		Series, Path, Label, Unit string
	}
	Points [][3]float64
	Next   int
	Runs   []struct {
		Dir, Report, Files string
		ReportError        string `json:"report_error"`
	}
	Ended bool
}

func readFeed(t *testing.T, d *dashboard.Server, query string) feed {
	t.Helper()
	code, ctype, body := get(t, d, "/data"+query)
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("/data%s: %d %s: %s", query, code, ctype, body)
	}
	var f feed
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("/data%s: %v: %s", query, err, body)
	}
	return f
}

// TestFeed: each poll carries the points after the one it names, every
// series defined once by its name, path, label and unit, and nothing that
// is not a number.
func TestFeed(t *testing.T) {
	d := start(t)
	at := time.UnixMilli(1_800_000_000_000)
	d.Add(
		live.Point{Series: "e2e p99", Path: "cdc", Label: "outlier", Unit: "ms", T: at, V: 12.5},
		live.Point{Series: "e2e p99", Path: "cdc", Label: "velocity", Unit: "ms", T: at, V: 13},
		live.Point{Series: "e2e p99", Path: "cdc", Label: "outlier", Unit: "ms", T: at.Add(time.Second), V: 14},
		live.Point{Series: "e2e p99", Path: "cdc", Label: "outlier", Unit: "ms", T: at, V: math.NaN()},
		live.Point{Series: "slot WAL", Unit: "bytes", T: at, V: math.Inf(1)},
	)
	d.Add(live.Point{Series: "rows/s", Path: "cdc", Label: "target", Unit: "rows/s", T: at.Add(2 * time.Second), V: 1000})
	for _, tc := range []struct {
		name   string
		query  string
		points [][3]float64
	}{
		{"from the start", "", [][3]float64{{0, 1_800_000_000_000, 12.5}, {1, 1_800_000_000_000, 13}, {0, 1_800_000_001_000, 14}, {2, 1_800_000_002_000, 1000}}},
		{"after two", "?since=2", [][3]float64{{0, 1_800_000_001_000, 14}, {2, 1_800_000_002_000, 1000}}},
		{"after all", "?since=4", [][3]float64{}},
		{"beyond the end", "?since=99", [][3]float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := readFeed(t, d, tc.query)
			if f.Next != 4 {
				t.Errorf("next %d, want 4", f.Next)
			}
			if len(f.Points) != len(tc.points) {
				t.Fatalf("points %v, want %v", f.Points, tc.points)
			}
			for i := range tc.points {
				if f.Points[i] != tc.points[i] {
					t.Errorf("point %d: %v, want %v", i, f.Points[i], tc.points[i])
				}
			}
			if len(f.Series) != 3 || f.Series[1].Label != "velocity" || f.Series[2].Series != "rows/s" || f.Series[2].Unit != "rows/s" {
				t.Errorf("series %+v, want e2e p99 cdc/outlier, cdc/velocity, rows/s cdc/target", f.Series)
			}
		})
	}
	for _, q := range []string{"?since=-1", "?since=x"} {
		t.Run("refused "+q, func(t *testing.T) {
			if code, _, _ := get(t, d, "/data"+q); code != http.StatusBadRequest {
				t.Errorf("/data%s: %d, want 400", q, code)
			}
		})
	}
}

// TestRuns: a finished run's report is linked, rendered as HTML beside
// its result files; a run whose report could not be written says why;
// End shows on the feed.
func TestRuns(t *testing.T) {
	d := start(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"report.md":   "# cdcbench report\n\n| path | p99 |\n|---|---:|\n| cdc | 12 |\n\n![latency](report.files/latency.svg)\n",
		"result.json": `{"schema_version": 1}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.Finished(dashboard.Run{Dir: dir, Report: "report.md"})
	d.Finished(dashboard.Run{Dir: dir, ReportError: "reports: no space left on device"})
	f := readFeed(t, d, "")
	if len(f.Runs) != 2 || f.Runs[0].Report != "/runs/0/report" || f.Runs[1].Report != "" || f.Runs[1].ReportError == "" || f.Ended {
		t.Fatalf("runs %+v, ended %v: want the first's report linked, the second's error, not ended", f.Runs, f.Ended)
	}
	d.End()
	if f := readFeed(t, d, ""); !f.Ended {
		t.Error("ended false after End")
	}
	for _, tc := range []struct {
		path, ctype, want string
		code              int
	}{
		{"/runs/0/report", "text/html; charset=utf-8", `<base href="/runs/0/">`, http.StatusOK},
		{"/runs/0/report", "text/html; charset=utf-8", "<td align=\"right\">12</td>", http.StatusOK},
		{"/runs/0/report", "text/html; charset=utf-8", `<img src="report.files/latency.svg"`, http.StatusOK},
		{"/runs/0/result.json", "application/json", `"schema_version"`, http.StatusOK},
		{"/runs/1/report", "", "", http.StatusNotFound},
		{"/runs/2/report", "", "", http.StatusNotFound},
		{"/runs/x/result.json", "", "", http.StatusNotFound},
		{"/", "text/html; charset=utf-8", `src="/assets/uPlot.iife.min.js"`, http.StatusOK},
		{"/assets/uPlot.iife.min.js", "text/javascript; charset=utf-8", "https://github.com/leeoniya/uPlot (v1.6.32)", http.StatusOK},
		{"/assets/dashboard.js", "text/javascript; charset=utf-8", "/data?since=", http.StatusOK},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, ctype, body := get(t, d, tc.path)
			if code != tc.code {
				t.Fatalf("%d, want %d: %.200s", code, tc.code, body)
			}
			if tc.code == http.StatusOK && (ctype != tc.ctype || !strings.Contains(body, tc.want)) {
				t.Errorf("%s holding %q, want %s holding %q", ctype, body, tc.ctype, tc.want)
			}
		})
	}
}

// TestAddress: an address that is not host:port, or a port already
// taken, is an error naming it, not a page served elsewhere.
func TestAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ addr, want string }{
		{"8090", "want host:port"},
		{taken.Addr().String(), "cannot listen on " + taken.Addr().String()},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			d, err := dashboard.New(dashboard.Config{Addr: tc.addr})
			if err == nil {
				_ = d.Close(context.Background())
				t.Fatalf("served at %s", d.URL())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestCPU: the page's own CPU grows with what it serves, so that the
// machine cost's dashboard line is a measurement, not a zero.
func TestCPU(t *testing.T) {
	d := start(t)
	at := time.Now()
	var pts []live.Point
	for i := range 20_000 {
		pts = append(pts, live.Point{Series: "e2e p99", Path: "cdc", Label: "outlier", Unit: "ms", T: at.Add(time.Duration(i) * time.Second), V: float64(i)})
	}
	d.Add(pts...)
	before := d.CPU()
	if before <= 0 {
		t.Errorf("CPU %v after adding 20,000 points, want more than 0", before)
	}
	readFeed(t, d, "")
	if after := d.CPU(); after <= before {
		t.Errorf("CPU %v after serving 20,000 points, %v before: want it to grow", after, before)
	}
}

// TestMaxPoints: past its bound the server keeps the newer half, a poll
// from before the cut gets what is left, and a poll after it only what
// is new.
func TestMaxPoints(t *testing.T) {
	d, err := dashboard.New(dashboard.Config{Addr: "127.0.0.1:0", MaxPoints: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	at := time.UnixMilli(0)
	add := func(from, to int) {
		for i := from; i < to; i++ {
			d.Add(live.Point{Series: "backlog", Unit: "rows", T: at, V: float64(i)})
		}
	}
	add(0, 11) // the 11th point drops the first 5
	for _, tc := range []struct {
		name  string
		query string
		first float64
		n     int
	}{
		{"from the start", "", 5, 6},
		{"from before the cut", "?since=3", 5, 6},
		{"after the cut", "?since=8", 8, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := readFeed(t, d, tc.query)
			if f.Next != 11 || len(f.Points) != tc.n || f.Points[0][2] != tc.first {
				t.Errorf("next %d, points %v: want 11, %d points from value %v", f.Next, f.Points, tc.n, tc.first)
			}
		})
	}
}
