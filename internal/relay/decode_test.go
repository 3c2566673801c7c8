package relay

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/txn"
)

func TestParseInt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		bits uint
		want int64
		ok   bool
	}{
		{"0", 64, 0, true}, {"38352", 64, 38352, true}, {"-7", 32, -7, true},
		{"2147483647", 32, 2147483647, true}, {"2147483648", 32, 0, false}, {"-2147483648", 32, -2147483648, true},
		{"9223372036854775807", 64, 9223372036854775807, true}, {"9223372036854775808", 64, 0, false},
		{"99999999999999999999", 64, 0, false}, {"", 64, 0, false}, {"12a", 64, 0, false}, {"-", 64, 0, false},
	}
	for _, c := range cases {
		got, ok := parseInt([]byte(c.in), c.bits)
		if got != c.want || ok != c.ok {
			t.Errorf("parseInt(%q, %d) = %d, %v; want %d, %v", c.in, c.bits, got, ok, c.want, c.ok)
		}
	}
}

// insertMsg builds a pgoutput Insert message: text columns, nil as NULL.
func insertMsg(rel uint32, cols ...[]byte) []byte {
	b := []byte{'I', 0, 0, 0, 0, 'N', 0, 0}
	binary.BigEndian.PutUint32(b[1:], rel)
	binary.BigEndian.PutUint16(b[6:], uint16(len(cols)))
	for _, c := range cols {
		if c == nil {
			b = append(b, 'n')
			continue
		}
		b = append(b, 't', 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(c)))
		b = append(b, c...)
	}
	return b
}

func TestSplitInsert(t *testing.T) {
	t.Parallel()
	msg := insertMsg(42, []byte("1"), []byte("1001"), []byte("2358.73"), []byte("AMEX"), nil, []byte("2026-01-07 17:18:03.683652"))
	rel, cols, err := splitInsert(msg, nil)
	if err != nil || rel != 42 || len(cols) != 6 || string(cols[2]) != "2358.73" || cols[4] != nil {
		t.Fatalf("splitInsert = %d, %q, %v", rel, cols, err)
	}
	r := &relation{id: 0, user: 1, amount: 2, card: 3, merchant: 4, created: 5}
	var tx txn.Row
	if err := r.decode(cols, &tx); err == nil || !strings.Contains(err.Error(), "merchant_id") {
		t.Fatalf("a NULL merchant_id decoded: %+v, %v", tx, err)
	}
	cols[4] = []byte("40")
	if err := r.decode(cols, &tx); err != nil || tx != (txn.Row{ID: 1, UserID: 1001, MerchantID: 40, AmountCents: 235873, Card: txn.CardAmex, CreatedAt: 1767806283683652}) {
		t.Fatalf("decode = %+v, %v", tx, err)
	}
	for cut := 1; cut < len(msg); cut++ {
		if _, _, err := splitInsert(msg[:cut], nil); err == nil && cut < len(msg) {
			// A prefix may still parse if it ends on a column boundary
			// with fewer columns than announced: it must not.
			t.Fatalf("prefix of %d bytes parsed", cut)
		}
	}
}
