// Package golden is the one way cdcbench's tests compare output with a file
// they keep under testdata/: a report, a gate's markdown, a command's
// table. `go test ./PKG -update` rewrites the files after a deliberate
// change, and a difference names its first differing line, which in a
// long report is where to look. Only tests import it, so the -update flag
// exists only in test binaries.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the tests produce")

// Check compares got with testdata/name, or with -update writes got there
// (making testdata/ if needed).
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (go test -update creates it)", err)
	}
	if d := diff(got, want); d != "" {
		t.Errorf("output differs from %s (go test -update rewrites it after a deliberate change): %s", path, d)
	}
}

// diff describes the first line where got and want differ, or is "" when
// they are equal.
func diff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	i := 0
	for i < len(g) && i < len(w) && bytes.Equal(g[i], w[i]) {
		i++
	}
	return fmt.Sprintf("line %d\n got: %s\nwant: %s", i+1, show(g, i), show(w, i))
}

// show quotes line i, so that a trailing space or a tab is seen, or says
// there is none: an output one line short differs from one whose last
// line is empty.
func show(lines [][]byte, i int) string {
	if i >= len(lines) {
		return "(no such line)"
	}
	return fmt.Sprintf("%q", lines[i])
}
