package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// pg_recvlogical writes each pgoutput message as it arrives, followed by a
// newline. pgoutput is binary, so a newline may also occur inside a message:
// the stream can only be split by knowing each message's length. That is
// what messageLen does, for the messages protocol version 1 sends; the
// messages themselves are then decoded with pglogrepl.Parse.

// errShort means the buffer does not yet hold the whole message.
var errShort = errors.New("pgoutput: message incomplete")

// errUnknownMessage means a message type protocol version 1 does not send
// (or one the perf run never asks for, such as logical decoding messages).
var errUnknownMessage = errors.New("pgoutput: unknown message type")

// messageLen returns the length of the pgoutput message at the start of b.
func messageLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errShort
	}
	r := reader{b: b, off: 1}
	switch b[0] {
	case 'B': // final LSN, commit time, xid
		r.skip(8 + 8 + 4)
	case 'C': // flags, commit LSN, end LSN, commit time
		r.skip(1 + 8 + 8 + 8)
	case 'O': // origin LSN, name
		r.skip(8)
		r.cstring()
	case 'Y': // type oid, namespace, name
		r.skip(4)
		r.cstring()
		r.cstring()
	case 'R': // relation id, namespace, name, replica identity, columns
		r.skip(4)
		r.cstring()
		r.cstring()
		r.skip(1)
		for n := r.uint16(); n > 0 && r.err == nil; n-- {
			r.skip(1) // flags
			r.cstring()
			r.skip(4 + 4) // type oid, type modifier
		}
	case 'I': // relation id, 'N', new tuple
		r.skip(4 + 1)
		r.tuple()
	case 'U': // relation id, optional 'K' or 'O' old tuple, 'N', new tuple
		r.skip(4)
		if k := r.byte(); k == 'K' || k == 'O' {
			r.tuple()
			r.skip(1)
		}
		r.tuple()
	case 'D': // relation id, 'K' or 'O', old tuple
		r.skip(4 + 1)
		r.tuple()
	case 'T': // number of relations, options, relation ids
		n := int(r.uint32())
		r.skip(1 + 4*n)
	default:
		return 0, fmt.Errorf("%w %q", errUnknownMessage, b[0])
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.off, nil
}

// reader walks a message, recording errShort instead of panicking when the
// message continues past the buffer.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int) bool {
	if r.err == nil && r.off+n > len(r.b) {
		r.err = errShort
	}
	return r.err == nil
}

func (r *reader) skip(n int) {
	if r.need(n) {
		r.off += n
	}
}

func (r *reader) byte() byte {
	if !r.need(1) {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) uint16() int {
	if !r.need(2) {
		return 0
	}
	r.off += 2
	return int(binary.BigEndian.Uint16(r.b[r.off-2:]))
}

func (r *reader) uint32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.off += 4
	return binary.BigEndian.Uint32(r.b[r.off-4:])
}

func (r *reader) cstring() {
	if r.err != nil {
		return
	}
	i := bytes.IndexByte(r.b[r.off:], 0)
	if i < 0 {
		r.err = errShort
		return
	}
	r.off += i + 1
}

// tuple skips TupleData: a column count, then per column a kind byte and,
// for text and binary values, a length-prefixed value.
func (r *reader) tuple() {
	for n := r.uint16(); n > 0 && r.err == nil; n-- {
		switch r.byte() {
		case 't', 'b':
			r.skip(int(r.uint32()))
		}
	}
}
