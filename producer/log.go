package producer

import (
	"sync/atomic"
)

// BatchLog holds each batch's send and commit time (ns since the epoch). The
// producer writes it and the agents read it concurrently while they time an
// event's stages, so entries are atomics in fixed chunks that never move.
// It holds up to 2^28 batches, far beyond any run the schedules allow.
type BatchLog struct {
	send, commit chunks
}

const chunkBits = 12

type chunks struct {
	table [1 << 16]atomic.Pointer[[1 << chunkBits]atomic.Int64]
}

func (c *chunks) slot(n int64, create bool) *atomic.Int64 {
	if n < 0 || n>>chunkBits >= int64(len(c.table)) {
		return nil
	}
	p := &c.table[n>>chunkBits]
	ch := p.Load()
	if ch == nil {
		if !create {
			return nil
		}
		p.CompareAndSwap(nil, new([1 << chunkBits]atomic.Int64))
		ch = p.Load()
	}
	return &ch[n&(1<<chunkBits-1)]
}

func (c *chunks) set(n, v int64) {
	if s := c.slot(n, true); s != nil {
		s.Store(v)
	}
}

func (c *chunks) get(n int64) int64 {
	if s := c.slot(n, false); s != nil {
		return s.Load()
	}
	return 0
}

func (l *BatchLog) setSend(n, ns int64)   { l.send.set(n, ns) }
func (l *BatchLog) setCommit(n, ns int64) { l.commit.set(n, ns) }

// Send returns when batch n was sent, 0 if not (yet).
func (l *BatchLog) Send(n int64) int64 { return l.send.get(n) }

// Commit returns when batch n's commit was acknowledged, 0 if not (yet).
func (l *BatchLog) Commit(n int64) int64 { return l.commit.get(n) }

// LastCommit returns the latest commit time among the first n batches.
func (l *BatchLog) LastCommit(n int64) int64 {
	var last int64
	for i := int64(0); i < n; i++ {
		last = max(last, l.Commit(i))
	}
	return last
}
