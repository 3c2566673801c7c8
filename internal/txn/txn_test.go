package txn_test

import (
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/txn"
)

func TestTimestampRoundTrip(t *testing.T) {
	t.Parallel()
	for _, us := range []int64{0, 1, 1767806283683652, 1767806284000000, 253402300799999999, -1234567, time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC).UnixMicro()} {
		got := string(txn.AppendTimestamp(nil, us))
		want := time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")
		if got != want {
			t.Errorf("AppendTimestamp(%d) = %q, want %q", us, got, want)
		}
		back, err := txn.ParseTimestamp([]byte(got))
		if err != nil || back != us {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", got, back, err, us)
		}
	}
	for _, bad := range []string{"", "2026-01-07", "2026-13-07 17:18:03", "2026-01-07 17:18:03.", "2026-01-07 17:18:03.1234567", "2026/01/07 17:18:03"} {
		if _, err := txn.ParseTimestamp([]byte(bad)); err == nil {
			t.Errorf("ParseTimestamp(%q) accepted", bad)
		}
	}
}

func TestAmount(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		cents int64
		ok    bool
	}{
		{"2358.73", 235873, true}, {"5", 500, true}, {"100.5", 10050, true}, {"-0.01", -1, true}, {"+7.00", 700, true},
		{"1.234", 0, false}, {"", 0, false}, {"-", 0, false}, {"1e3", 0, false}, {"1.2.3", 0, false}, {"123456789012345678", 0, false},
	}
	for _, c := range cases {
		got, err := txn.ParseAmount([]byte(c.in))
		if (err == nil) != c.ok || got != c.cents {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.cents, c.ok)
		}
		if c.ok {
			if s := string(txn.AppendAmount(nil, got)); s != trim(c.in, got) {
				t.Errorf("AppendAmount(%d) = %q", got, s)
			}
		}
	}
	for _, c := range []struct {
		in   string
		card txn.Card
	}{{"VISA", txn.CardVisa}, {"MASTERCARD", txn.CardMastercard}, {"AMEX", txn.CardAmex}, {"DINERS", txn.CardOther}} {
		if got := txn.ParseCard([]byte(c.in)); got != c.card || (c.card != txn.CardOther && got.String() != c.in) {
			t.Errorf("ParseCard(%q) = %v", c.in, got)
		}
	}
}

// trim gives the canonical two-digit form AppendAmount must produce.
func trim(_ string, cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return sign + itoa(cents/100) + "." + string(rune('0'+cents%100/10)) + string(rune('0'+cents%10))
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}
