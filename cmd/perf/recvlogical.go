package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
)

// recvLogical is a running pg_recvlogical streaming a pgoutput slot to a
// pipe this process reads: PostgreSQL's own client for the job the relay
// does, minus the Kafka side.
type recvLogical struct {
	cmd  *exec.Cmd
	done chan error
}

// startRecvLogical starts pg_recvlogical on slot with pgoutput (protocol 1,
// as the relay asks for) and hands each message to onMsg with the time it was
// read. endpos, if not empty, makes pg_recvlogical exit once it has streamed
// up to that LSN. -F 0 keeps it from fsyncing its output on a timer.
func startRecvLogical(ctx context.Context, dsn, slot, pub, endpos string, onMsg func(msg []byte, at time.Time) error) (*recvLogical, error) {
	args := []string{"-d", dsn, "--slot", slot, "--start", "--no-loop", "-F", "0",
		"-o", "proto_version=1", "-o", "publication_names=" + pub, "-f", "-"}
	if endpos != "" {
		args = append(args, "--endpos", endpos)
	}
	cmd := exec.CommandContext(ctx, "pg_recvlogical", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pg_recvlogical: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pg_recvlogical: %w", err)
	}
	r := &recvLogical{cmd: cmd, done: make(chan error, 1)}
	go func() {
		rerr := readStream(out, onMsg)
		if rerr != nil {
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, out)
		}
		werr := cmd.Wait()
		var exit *exec.ExitError
		if errors.As(werr, &exit) && exit.ProcessState.Sys().(syscall.WaitStatus).Signaled() && rerr == nil {
			werr = nil // stopped by Stop
		}
		if werr != nil {
			werr = fmt.Errorf("pg_recvlogical: %w: %s", werr, strings.TrimSpace(stderr.String()))
		}
		r.done <- errors.Join(rerr, werr)
	}()
	return r, nil
}

// Stop asks pg_recvlogical to end (SIGINT, as Ctrl-C would) and waits.
func (r *recvLogical) Stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	return r.Wait()
}

// Wait waits for pg_recvlogical to exit and its output to be read.
func (r *recvLogical) Wait() error { return <-r.done }

// readStream splits pg_recvlogical's output into pgoutput messages and hands
// each to onMsg with the time the read that completed it returned.
func readStream(r io.Reader, onMsg func(msg []byte, at time.Time) error) error {
	buf := make([]byte, 0, 64<<10)
	for {
		if cap(buf)-len(buf) < 16<<10 {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		at := time.Now()
		buf = buf[:len(buf)+n]
		off := 0
		for {
			l, err := messageLen(buf[off:])
			if errors.Is(err, errShort) || (err == nil && off+l >= len(buf)) {
				break
			}
			if err != nil {
				return fmt.Errorf("pg_recvlogical output: %w", err)
			}
			if buf[off+l] != '\n' {
				return fmt.Errorf("pg_recvlogical output: message %q is not followed by a newline", buf[off])
			}
			if err := onMsg(buf[off:off+l], at); err != nil {
				return err
			}
			off += l + 1
		}
		buf = buf[:copy(buf, buf[off:])]
		if rerr == io.EOF {
			if len(buf) > 0 {
				return fmt.Errorf("pg_recvlogical output: %d bytes of an incomplete message at the end", len(buf))
			}
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("pg_recvlogical output: %w", rerr)
		}
	}
}

// commitLatencies turns a pgoutput stream into one sample per insert: the
// time its message was read minus its transaction's commit time (from the
// Begin message, which pgoutput sends only after the commit).
// It runs on the reader goroutine; samples may be read once the stream
// ended (Wait or Stop returned).
type commitLatencies struct {
	commit  time.Time
	inserts atomic.Int64
	record  atomic.Bool // whether inserts are sampled (off during warm-up)
	samples []time.Duration
}

func (c *commitLatencies) onMsg(msg []byte, at time.Time) error {
	switch msg[0] {
	case 'B':
		m, err := pglogrepl.Parse(msg)
		if err != nil {
			return fmt.Errorf("pgoutput begin: %w", err)
		}
		c.commit = m.(*pglogrepl.BeginMessage).CommitTime
	case 'I':
		c.inserts.Add(1)
		if c.record.Load() {
			c.samples = append(c.samples, at.Sub(c.commit))
		}
	}
	return nil
}
