package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, got, want, diff string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"a line differs", "a\nb\nc\n", "a\nB\nc\n", "line 2\n got: \"b\"\nwant: \"B\""},
		{"a line short", "a\n", "a\nb\n", "line 2\n got: \"\"\nwant: \"b\""},
		{"no final newline", "a", "a\n", "line 2\n got: (no such line)\nwant: \"\""},
		{"a space at the end", "a \n", "a\n", "line 1\n got: \"a \"\nwant: \"a\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diff([]byte(tc.got), []byte(tc.want)); got != tc.diff {
				t.Errorf("diff = %q, want %q", got, tc.diff)
			}
		})
	}
}

// TestCheckUpdate writes a golden file with -update and compares with it
// afterwards, in a directory of its own (Check resolves testdata/ from the
// working directory, as go test sets it to the package's).
func TestCheckUpdate(t *testing.T) {
	t.Chdir(t.TempDir())
	*update = true
	Check(t, "sub/out.golden", []byte("x\n"))
	*update = false
	b, err := os.ReadFile(filepath.Join("testdata", "sub", "out.golden"))
	if err != nil || string(b) != "x\n" {
		t.Fatalf("-update wrote %q, %v; want \"x\\n\"", b, err)
	}
	Check(t, "sub/out.golden", []byte("x\n"))
}
