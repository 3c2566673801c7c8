// Package pgtest holds what tests that start a private PostgreSQL cluster
// share. It is its own package so that test files of several packages can
// call it; nothing outside tests imports it.
package pgtest

import (
	"os"
	"testing"
)

// ServerTempDir makes a temp dir named after pattern, makes it the
// process's TMPDIR for the test (so a private cluster and what else the
// test starts live there, and nothing else does), and removes it after.
// Not t.TempDir: its parents are 0700, and the server runs as another user
// when the tests run as root.
func ServerTempDir(t *testing.T, pattern string) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	return tmp
}
