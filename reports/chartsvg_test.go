package reports

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot/font"
)

// svgText is a <text> of a chart as a viewer places it.
type svgText struct {
	anchor string // "", "end" or "middle"
	x, y   float64
	size   float64
	s      string
}

// svgSample is a legend's line sample: a horizontal stroke legendSample
// long.
type svgSample struct {
	x1, x2, y float64
	color     string
}

var (
	svgTextRe = regexp.MustCompile(`<text (?:text-anchor="(\w+)" )?x="([^"]+)" y="([^"]+)"[^>]*?font-size:([\d.]+)px">([^<]*)</text>`)
	svgLineRe = regexp.MustCompile(`<path d="M([\d.-]+),([\d.-]+)L([\d.-]+),([\d.-]+)" style="fill:none;stroke:(#[0-9A-Fa-f]{6})`)
)

func parseChart(t *testing.T, file string) ([]svgText, []svgSample) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return v
	}
	var texts []svgText
	for _, m := range svgTextRe.FindAllStringSubmatch(string(b), -1) {
		// vgsvg flips text with scale(1, -1): the baseline is at -y.
		texts = append(texts, svgText{anchor: m[1], x: num(m[2]), y: -num(m[3]), size: num(m[4]), s: m[5]})
	}
	var samples []svgSample
	thumb := legendSample.Points()
	for _, m := range svgLineRe.FindAllStringSubmatch(string(b), -1) {
		x1, y1, x2, y2 := num(m[1]), num(m[2]), num(m[3]), num(m[4])
		if y1 == y2 && math.Abs(x2-x1-thumb) < 0.01 {
			samples = append(samples, svgSample{x1: x1, x2: x2, y: y1, color: strings.ToUpper(m[5])})
		}
	}
	return texts, samples
}

// extent is where t's text lies on the x axis when drawn with width w.
func (t svgText) extent(w float64) (lo, hi float64) {
	switch t.anchor {
	case "end":
		return t.x - w, t.x
	case "middle":
		return t.x - w/2, t.x + w/2
	}
	return t.x, t.x + w
}

// sampleOf is the legend sample on t's row, if t is a legend entry.
func sampleOf(t svgText, samples []svgSample) (svgSample, bool) {
	for _, s := range samples {
		if math.Abs(s.y-t.y) < t.size {
			return s, true
		}
	}
	return svgSample{}, false
}

// substitutes are fonts a viewer without Liberation Sans, Arial and
// Helvetica draws the charts in: DejaVu Sans (most Linux desktops; 15%
// wider), where installed, Go Regular, and a font a quarter wider than the
// one measured, for machines without DejaVu.
func substitutes(t *testing.T) map[string]func(s string, size float64) float64 {
	t.Helper()
	face := func(ttf []byte) func(string, float64) float64 {
		f, err := opentype.Parse(ttf)
		if err != nil {
			t.Fatal(err)
		}
		return func(s string, size float64) float64 {
			ff := font.Face{Font: font.Font{Size: font.Length(size)}, Face: f}
			return ff.Width(s).Points()
		}
	}
	out := map[string]func(string, float64) float64{
		"Go Regular": face(goregular.TTF),
		"125% of Liberation Sans": func(s string, size float64) float64 {
			ff := font.DefaultCache.Lookup(font.From(sans, font.Length(size)), font.Length(size))
			return 1.25 * ff.Width(s).Points()
		},
	}
	for _, p := range []string{"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"} {
		if b, err := os.ReadFile(p); err == nil {
			out["DejaVu Sans"] = face(b)
			break
		}
	}
	return out
}

// writeFixtureCharts writes the smoke fixture's report and returns its
// charts by kind ("rate", "percentiles", "latency-cdc", ...).
func writeFixtureCharts(t *testing.T) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "REPORT.md")
	if err := Write([]string{filepath.Join("testdata", "smoke")}, out); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(FilesDir(out), "*.svg"))
	charts := map[string]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".svg")
		charts[name[strings.Index(name, "-")+1:][9:]] = f // after "smoke-<run id>-"
	}
	if len(charts) != 5 {
		t.Fatalf("charts %v, want rate, percentiles and three latency charts", charts)
	}
	return charts
}

// TestLegendWithAnotherFont: no legend entry runs into its line sample when
// the viewer draws the chart in a font other than the Liberation Sans whose
// metrics gonum laid it out with. Right-aligned legend text used to start
// at a point measured in Liberation, so a wider font pushed it into the
// sample.
func TestLegendWithAnotherFont(t *testing.T) {
	t.Parallel()
	charts := writeFixtureCharts(t)
	fonts := substitutes(t)
	for kind, file := range charts {
		texts, samples := parseChart(t, file)
		entries := 0
		for _, tx := range texts {
			s, ok := sampleOf(tx, samples)
			if !ok {
				continue
			}
			entries++
			for name, width := range fonts {
				lo, hi := tx.extent(width(tx.s, tx.size))
				if hi > s.x1 && lo < s.x2 {
					t.Errorf("%s: in %s the legend entry %q spans x %.1f..%.1f, over its sample at %.1f..%.1f", kind, name, tx.s, lo, hi, s.x1, s.x2)
				}
			}
		}
		if entries < 3 {
			t.Errorf("%s: found %d legend entries; the SVG's layout changed under the test", kind, entries)
		}
	}
}

// TestChartColoursMeanPath: a colour is a path in every chart: the rate
// chart's committed line, the percentile chart's lines and the path's own
// latency chart all use the path's colour, the first agent in it and the
// next in a lighter shade.
func TestChartColoursMeanPath(t *testing.T) {
	t.Parallel()
	charts := writeFixtureCharts(t)
	legend := func(kind string) map[string]string {
		texts, samples := parseChart(t, charts[kind])
		out := map[string]string{}
		for _, tx := range texts {
			if s, ok := sampleOf(tx, samples); ok {
				out[tx.s] = s.color
			}
		}
		return out
	}
	rate, spectrum := legend("rate"), legend("percentiles")
	seen := map[string]string{}
	for _, path := range []string{"cdc", "poll-100ms", "poll-1s"} {
		lat := legend("latency-" + path)
		c := rate[path+" committed"]
		if c == "" {
			t.Fatalf("rate chart has no %s committed: %v", path, rate)
		}
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share the colour %s", path, other, c)
		}
		seen[c] = path
		for _, agent := range []string{"outlier", "velocity"} {
			want := spectrum[path+" "+agent]
			if agent == "outlier" && want != c {
				t.Errorf("percentiles: %s %s is %s, the rate chart's %s is %s", path, agent, want, path, c)
			}
			for _, stat := range []string{"p50", "p99", "max"} {
				if got := lat[agent+" "+stat]; got != want {
					t.Errorf("latency-%s: %s %s is %s, the percentile chart's %s %s is %s", path, agent, stat, got, path, agent, want)
				}
			}
		}
		if spectrum[path+" velocity"] == c {
			t.Errorf("%s: velocity has the same shade as outlier", path)
		}
	}
}
