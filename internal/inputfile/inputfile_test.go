package inputfile_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// TestRead: a regular file up to its bound is read whole; anything else is
// refused at once with an error naming the path, what it is and the bound.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := file("sparse", 0)
	if err := os.Truncate(sparse, 1<<40); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file("target", 10), link); err != nil {
		t.Fatal(err)
	}
	const limit = 1024
	for _, tc := range []struct {
		name, path string
		is         error
		says       string
	}{
		{"at the bound", file("at", limit), nil, ""},
		{"a symlink to a regular file", link, nil, ""},
		{"one byte over", file("over", limit+1), inputfile.ErrTooLarge, "1025 bytes, more than the 1024 bytes (1 KiB)"},
		{"a sparse terabyte", sparse, inputfile.ErrTooLarge, "1099511627776 bytes"},
		{"a FIFO", fifo, inputfile.ErrNotRegular, "(a named pipe)"},
		{"/dev/zero", "/dev/zero", inputfile.ErrNotRegular, "(a character device)"},
		{"a directory", dir, inputfile.ErrNotRegular, "(a directory)"},
		// /proc files are regular and claim size 0: the bound holds
		// while reading, as for a file that grows.
		{"a file larger than its size says", "/proc/self/cmdline", inputfile.ErrTooLarge, "grew past the 16 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := int64(limit)
			if tc.path == "/proc/self/cmdline" {
				lim = 16
			}
			done := make(chan error, 1)
			var got []byte
			go func() {
				var err error
				got, err = inputfile.Read(tc.path, lim)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second): // not a speed test: a FIFO's open blocks forever
				t.Fatalf("Read(%s) still blocked after 30 s", tc.path)
			}
			if tc.is == nil {
				if err != nil || len(got) == 0 {
					t.Fatalf("Read = %d bytes, %v; want the file", len(got), err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.path+": ") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Read = %v; want %v naming the path and saying %q", err, tc.is, tc.says)
			}
		})
	}
}
