// Package inputfile is the one way cdcbench reads a file it is given or
// finds (a scenario, agent commands, gate rules, a result, a baseline, a
// sweep index, an interval log, an owner file in a shared temp dir): only a
// regular file, and no more of it than a bound its kind sets.
//
// Both rules exist because of what a path can name. Opening a FIFO blocks
// until a writer comes (forever, and uninterruptibly), /dev/zero never ends,
// and a huge file read whole takes its size in memory and several times that
// once decoded: --agent-commands /dev/zero grew to 23.6 GB before the kernel
// killed it.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular reports a path that is not a regular file (a FIFO, a
// device, a directory, a socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge reports a file above its kind's bound.
var ErrTooLarge = errors.New("file too large")

// Read returns the whole regular file at path, refusing at once anything
// else and a file above limit bytes. A file that grows while it is read is
// cut at limit+1 bytes and refused too.
func Read(path string, limit int64) ([]byte, error) {
	r, err := Open(path, limit)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Open opens the regular file at path for reading in a stream, refusing at
// once anything else and a file above limit bytes; the reader fails with
// ErrTooLarge once more than limit bytes were read (a file still growing).
func Open(path string, limit int64) (io.ReadCloser, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the path have become a FIFO since the Stat, the
	// open returns at once instead of waiting for a writer, and the check
	// of the opened file below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = check(path, fi, limit)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &bounded{f: f, path: path, limit: limit}, nil
}

// check refuses what is not a regular file, naming its kind, and a regular
// file above limit.
func check(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (%s): cdcbench reads only regular files", path, ErrNotRegular, kind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fmt.Errorf("%s: %w: %d bytes, more than the %s cdcbench reads from such a file", path, ErrTooLarge, fi.Size(), Size(limit))
	}
	return nil
}

// kind names a non-regular file's type for the refusal.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// Size writes a bound as bytes with its binary unit: "1048576 bytes (1 MiB)".
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d bytes (%d GiB)", n, n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d bytes (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bounded reads f and fails once more than limit bytes were read.
type bounded struct {
	f     *os.File
	path  string
	limit int64
	read  int64
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.read > b.limit {
		return 0, b.grew()
	}
	// One byte past the limit tells a file at it from a larger one
	// (written so that a limit of math.MaxInt64 does not overflow).
	if left := b.limit - b.read; int64(len(p))-1 > left {
		p = p[:left+1]
	}
	n, err := b.f.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n - 1, b.grew()
	}
	return n, err
}

func (b *bounded) grew() error {
	return fmt.Errorf("%s: %w: it grew past the %s cdcbench reads from such a file while it was read", b.path, ErrTooLarge, Size(b.limit))
}

func (b *bounded) Close() error { return b.f.Close() }
