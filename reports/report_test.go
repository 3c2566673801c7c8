package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cdcbench/cdcbench/internal/golden"
	"github.com/cdcbench/cdcbench/reports"
)

// The fixtures are a real smoke run (cdc, poll-100ms, poll-1s), its
// latency.hlog cut down to the e2e tags the report reads, and a copy of its
// result.json edited into an invalid run with two paths and no log.
var fixtures = []string{"testdata/smoke", "testdata/invalid"}

func TestWriteGolden(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "REPORT.md")
	if err := reports.Write(fixtures, out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "REPORT.golden.md", got)
}

func TestWriteCharts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "review.md")
	if err := reports.Write(fixtures, out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\((review\.files/[^)]+\.svg)\)`).FindAllSubmatch(md, -1)
	// smoke: rate, percentiles, one latency chart per path (3); invalid:
	// rate only, as it has no latency.hlog.
	if len(links) != 6 {
		t.Fatalf("report links %d charts, want 6", len(links))
	}
	for _, l := range links {
		b, err := os.ReadFile(filepath.Join(dir, string(l[1])))
		if err != nil {
			t.Fatalf("linked chart: %v", err)
		}
		if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("</svg>")) {
			t.Errorf("%s is not a complete SVG document", l[1])
		}
	}
	if got, want := reports.FilesDir(out), filepath.Join(dir, "review.files"); got != want {
		t.Errorf("FilesDir = %s, want %s", got, want)
	}
}

func TestWriteNotAResult(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, "result.json"), []byte(`{"paths": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	future := t.TempDir()
	if err := os.WriteFile(filepath.Join(future, "result.json"), []byte(`{"schema_version": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dirs []string
	}{
		{"none", nil},
		{"missing", []string{filepath.Join(empty, "nope")}},
		{"empty directory", []string{empty}},
		{"a file", []string{"testdata/smoke/result.json"}},
		{"garbage result.json", []string{garbage}},
		{"newer schema", []string{future}},
		{"one bad among good", []string{"testdata/smoke", empty}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "REPORT.md")
			err := reports.Write(tc.dirs, out)
			if !errors.Is(err, reports.ErrNotResult) {
				t.Fatalf("Write = %v, want an error wrapping ErrNotResult", err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed Write left %s behind (stat: %v)", out, err)
			}
		})
	}
}
