// Package dashboard serves the live page of a run: every series the run
// and its samplers measure (package live), charted once a second in the
// browser, and a link to each run's report as it is written.
//
// The page polls a JSON endpoint, /data?since=N, once a second rather
// than holding a server-sent event stream: each answer carries only the
// points after N, so a poll costs what a push would, a page opened late
// or reloaded catches up in one answer, and a plain HTTP GET (a test,
// curl) reads the same feed the page does.
//
// The charts are drawn with uPlot 1.6.32 (MIT, github.com/leeoniya/uPlot),
// whose minified build and licence are in assets/, taken unchanged from
// the npm package (`npm pack uplot@1.6.32`, uplot-1.6.32.tgz, sha256
// 4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d,
// dist/uPlot.iife.min.js and dist/uPlot.min.css) and embedded in the
// binary: the page needs no internet. uPlot rather than Chart.js: it is
// made for time series (51 KB against Chart.js's 200 KB), and redrawing
// thousands of points a second costs it little.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/live"
)

//go:embed assets
var assets embed.FS

// DefaultAddr is where the page is served unless the user says otherwise:
// this machine only, since the page shows the run's data to anyone who
// reaches it.
const DefaultAddr = "127.0.0.1:8090"

// Config is the page's server.
type Config struct {
	// Addr is host:port to listen on; empty is DefaultAddr, port 0 any
	// free port.
	Addr string
	// MaxPoints bounds the points kept (24 bytes each); once reached, the
	// older half is dropped, and a page opened later starts from what is
	// left. 0 is DefaultMaxPoints.
	MaxPoints int
}

// DefaultMaxPoints keeps the last seven to fourteen hours of a run showing
// 40 series a second, in at most 48 MB.
const DefaultMaxPoints = 2 << 20

// Server holds the series of a run (or of the runs of one command) and
// serves them. It is a live.Sink.
type Server struct {
	ln      net.Listener
	srv     *http.Server
	started time.Time
	served  chan error

	maxPoints int

	mu     sync.Mutex
	series []seriesDef
	ids    map[seriesKey]int
	// points are the points kept; dropped counts those dropped before
	// them, so that points[i] is the (dropped+i)-th.
	points  []stored
	dropped int
	runs    []Run
	ended   bool

	// cpu is the thread CPU spent adding points and answering requests
	// (see measure), in nanoseconds.
	cpu cpuMeter
}

var _ live.Sink = (*Server)(nil)

type seriesKey struct{ series, path, label, unit string }

// seriesDef is a series as the feed names it.
type seriesDef struct {
	ID     int    `json:"id"`
	Series string `json:"series"`
	Path   string `json:"path,omitempty"`
	Label  string `json:"label,omitempty"`
	Unit   string `json:"unit,omitempty"`
}

// stored is one point: its series, its time in milliseconds since the
// epoch and its value.
type stored struct {
	id int
	t  int64
	v  float64
}

// Run is a finished run: its result directory and the report written
// into it.
type Run struct {
	// Dir is the result directory, as the run printed it.
	Dir string
	// Report is the markdown report's file inside Dir, empty when it could
	// not be written; ReportError then says why.
	Report      string
	ReportError string
}

// New listens on cfg.Addr, so that a port already taken is an error
// before anything else starts, and serves the page until Close.
func New(cfg Config) (*Server, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if err := CheckAddr(addr); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: cannot listen on %s (is another cdcbench --dashboard running? choose another port with --dashboard-addr): %w", addr, err)
	}
	s := &Server{ln: ln, started: time.Now(), ids: map[seriesKey]int{}, served: make(chan error, 1), maxPoints: cfg.MaxPoints}
	if s.maxPoints <= 0 {
		s.maxPoints = DefaultMaxPoints
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// CheckAddr refuses an address that is not host:port, which a command
// line can say before anything starts.
func CheckAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("address %q: want host:port, e.g. %s: %w", addr, DefaultAddr, err)
	}
	return nil
}

// URL is the page's address.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Close stops serving; a page still open says so on its next poll.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("dashboard: %w", serr))
	}
	return err
}

// Add stores points; a value that is not a number (NaN, ±Inf) has no
// place on a chart or in JSON and is dropped.
func (s *Server) Add(points ...live.Point) {
	s.cpu.measure(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			k := seriesKey{p.Series, p.Path, p.Label, p.Unit}
			id, ok := s.ids[k]
			if !ok {
				id = len(s.series)
				s.ids[k] = id
				s.series = append(s.series, seriesDef{ID: id, Series: p.Series, Path: p.Path, Label: p.Label, Unit: p.Unit})
			}
			s.points = append(s.points, stored{id: id, t: p.T.UnixMilli(), v: p.V})
		}
		if n := len(s.points); n > s.maxPoints {
			half := n / 2
			s.points = append([]stored(nil), s.points[half:]...)
			s.dropped += half
		}
	})
}

// Finished adds a run whose result directory and report are written:
// the page links its report.
func (s *Server) Finished(r Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, r)
}

// End says that no run follows: the page stops expecting points.
func (s *Server) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
}

// CPU is the CPU the page and its feed have used so far: the thread time
// of every Add and every request's handler.
func (s *Server) CPU() time.Duration { return s.cpu.total() }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", http.FileServerFS(assets))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "assets/index.html")
	})
	mux.HandleFunc("GET /data", s.data)
	mux.HandleFunc("GET /runs/{n}/report", s.report)
	mux.HandleFunc("GET /runs/{n}/", s.runFiles)
	return measured(&s.cpu, mux)
}

// feed is /data's answer.
type feed struct {
	// Started is when the server started, in ms since the epoch: the
	// charts' time axis counts from it.
	Started int64       `json:"started"`
	Series  []seriesDef `json:"series"`
	// Points are [series id, ms since the epoch, value], those after the
	// request's since; Next is the since of the next request.
	Points [][3]float64 `json:"points"`
	Next   int          `json:"next"`
	Runs   []runLink    `json:"runs"`
	Ended  bool         `json:"ended"`
}

// runLink is a finished run as the page shows it.
type runLink struct {
	Dir         string `json:"dir"`
	Report      string `json:"report,omitempty"` // the page's link to it
	ReportFile  string `json:"report_file,omitempty"`
	ReportError string `json:"report_error,omitempty"`
	Files       string `json:"files"`
}

// data answers /data?since=N with the points after the N-th.
func (s *Server) data(w http.ResponseWriter, r *http.Request) {
	since := 0
	if q := r.URL.Query().Get("since"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 {
			http.Error(w, "since: want a count of points already read", http.StatusBadRequest)
			return
		}
		since = n
	}
	f := s.snapshot(since)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(f)
}

// snapshot is the feed after the since-th point.
func (s *Server) snapshot(since int) feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := min(max(since-s.dropped, 0), len(s.points))
	f := feed{Started: s.started.UnixMilli(), Series: append([]seriesDef{}, s.series...), Next: s.dropped + len(s.points), Ended: s.ended,
		Points: make([][3]float64, 0, len(s.points)-from), Runs: []runLink{}}
	for _, p := range s.points[from:] {
		f.Points = append(f.Points, [3]float64{float64(p.id), float64(p.t), p.v})
	}
	for i, r := range s.runs {
		l := runLink{Dir: r.Dir, Files: fmt.Sprintf("/runs/%d/", i), ReportFile: r.Report, ReportError: r.ReportError}
		if r.Report != "" {
			l.Report = fmt.Sprintf("/runs/%d/report", i)
		}
		f.Runs = append(f.Runs, l)
	}
	return f
}

// run returns the finished run the request's {n} names.
func (s *Server) run(r *http.Request) (Run, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || n < 0 || n >= len(s.runs) {
		return Run{}, false
	}
	return s.runs[n], true
}

// runFiles serves a finished run's result directory: result.json, the
// report's charts.
func (s *Server) runFiles(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	prefix := "/runs/" + r.PathValue("n")
	http.StripPrefix(prefix, http.FileServerFS(os.DirFS(run.Dir))).ServeHTTP(w, r)
}

// report serves a run's markdown report as HTML, its charts beside it.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(r)
	if !ok || run.Report == "" {
		http.NotFound(w, r)
		return
	}
	md, err := os.ReadFile(filepath.Join(run.Dir, run.Report))
	if err != nil {
		http.Error(w, fmt.Sprintf("report: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(reportHTML(run.Dir, "/runs/"+r.PathValue("n")+"/", md))
}
