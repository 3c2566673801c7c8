package bench

import (
	"math/bits"

	"github.com/cdcbench/cdcbench/producer"
)

// idSet is a set of the run's row ids, one bit each: ten million rows cost
// 1.25 MB, so a run's per-row bookkeeping (rows seen, alerts raised and
// expected) does not grow with its length the way a list of ids would, and
// testing for a redelivery is a shift and a mask. Ids below
// producer.FirstID (the probe, other writers' rows) are not the run's and
// are never added.
type idSet struct {
	words []uint64
	n     int64
}

// add puts id in the set and reports whether it was new.
func (s *idSet) add(id int64) bool {
	i := id - producer.FirstID
	if i < 0 {
		return false
	}
	w := int(i >> 6)
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w-len(s.words)+1+len(s.words)/2)...)
	}
	m := uint64(1) << (i & 63)
	if s.words[w]&m != 0 {
		return false
	}
	s.words[w] |= m
	s.n++
	return true
}

// len is the number of ids in the set.
func (s *idSet) len() int64 { return s.n }

// common counts the ids in both sets.
func (s *idSet) common(o *idSet) int64 {
	var n int
	for i := range min(len(s.words), len(o.words)) {
		n += bits.OnesCount64(s.words[i] & o.words[i])
	}
	return int64(n)
}

// has reports whether id is in the set.
func (s *idSet) has(id int64) bool {
	i := id - producer.FirstID
	return s.covers(id) && s.words[i>>6]&(uint64(1)<<(i&63)) != 0
}

// covers reports whether id falls in the span the set has room for: an id
// above it was never added.
func (s *idSet) covers(id int64) bool {
	i := id - producer.FirstID
	return i >= 0 && i>>6 < int64(len(s.words))
}

// and returns the ids in both sets.
func (s *idSet) and(o *idSet) *idSet {
	out := &idSet{words: make([]uint64, min(len(s.words), len(o.words)))}
	for i := range out.words {
		out.words[i] = s.words[i] & o.words[i]
		out.n += int64(bits.OnesCount64(out.words[i]))
	}
	return out
}
