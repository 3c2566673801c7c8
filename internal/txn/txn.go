// Package txn holds the transactions row as every part of cdcbench sees it:
// the producer writes it, the relay and the decoders rebuild it, the agents
// judge it. It is kept free of I/O and allocation so that the hot path
// (decode, detect, record) can pass it by value.
package txn

import (
	"errors"
	"strconv"
	"time"
)

// Card is the card network of a transaction. An enum instead of a string so
// that decoding a change event allocates nothing.
type Card uint8

// Card networks the seed's producer uses; anything else decodes to CardOther.
const (
	CardOther Card = iota
	CardVisa
	CardMastercard
	CardAmex
)

var cardNames = [...]string{CardOther: "OTHER", CardVisa: "VISA", CardMastercard: "MASTERCARD", CardAmex: "AMEX"}

// String returns the name stored in the card_type column.
func (c Card) String() string {
	if int(c) < len(cardNames) {
		return cardNames[c]
	}
	return "OTHER"
}

// ParseCard maps a card_type value to a Card without allocating.
func ParseCard(b []byte) Card {
	switch string(b) {
	case "VISA":
		return CardVisa
	case "MASTERCARD":
		return CardMastercard
	case "AMEX":
		return CardAmex
	}
	return CardOther
}

// Row is one row of public.transactions.
//
// Amounts are integer cents because the column is numeric(10,2): exact, and
// comparable across paths that carry it as a double, a string or a base64
// decimal. CreatedAt is microseconds since the Unix epoch, read as UTC, the
// resolution of PostgreSQL's timestamp and of Debezium's MicroTimestamp. The
// producer sets it to the row's intended send time, so it is the start of
// every latency the harness reports.
type Row struct {
	ID          int64
	UserID      int32
	MerchantID  int32
	AmountCents int64
	CreatedAt   int64
	Card        Card
}

// Created returns CreatedAt as a time.Time in UTC.
func (t *Row) Created() time.Time { return time.UnixMicro(t.CreatedAt).UTC() }

// ErrAmount reports a numeric value that is not a valid numeric(10,2) amount.
var ErrAmount = errors.New("txn: amount is not a decimal with at most 2 fraction digits")

// ErrTimestamp reports a timestamp text that is not in PostgreSQL's output format.
var ErrTimestamp = errors.New("txn: timestamp is not YYYY-MM-DD HH:MM:SS[.ffffff]")

// ParseAmount parses a decimal text such as "2358.73", "-5", "100.5" into
// cents. More than two fraction digits is an error rather than a silent
// rounding: the column cannot hold them, so their presence means a schema change.
func ParseAmount(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, ErrAmount
	}
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		b = b[1:]
	}
	var cents int64
	digits, frac, dot := 0, 0, false
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if dot {
				frac++
				if frac > 2 {
					return 0, ErrAmount
				}
			}
			digits++
			if digits > 17 {
				return 0, ErrAmount
			}
			cents = cents*10 + int64(c-'0')
		default:
			return 0, ErrAmount
		}
	}
	if digits == 0 {
		return 0, ErrAmount
	}
	for ; frac < 2; frac++ {
		cents *= 10
	}
	if neg {
		cents = -cents
	}
	return cents, nil
}

// AppendAmount appends cents as a decimal with two fraction digits
// ("2358.73"), which is valid JSON and exact.
func AppendAmount(dst []byte, cents int64) []byte {
	if cents < 0 {
		dst = append(dst, '-')
		cents = -cents
	}
	dst = strconv.AppendInt(dst, cents/100, 10)
	f := cents % 100
	return append(dst, '.', byte('0'+f/10), byte('0'+f%10))
}

// ParseTimestamp parses PostgreSQL's text output of a timestamp without time
// zone ("2026-01-07 17:18:03.683652", fraction optional) into microseconds
// since the epoch, read as UTC. It does not allocate, unlike time.Parse with
// a layout, because the relay calls it for every row.
func ParseTimestamp(b []byte) (int64, error) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return 0, ErrTimestamp
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, ErrTimestamp
	}
	micros := 0
	rest := b[19:]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
			return 0, ErrTimestamp
		}
		f, ok := num(rest[1:])
		if !ok {
			return 0, ErrTimestamp
		}
		for i := len(rest) - 1; i < 6; i++ {
			f *= 10
		}
		micros = f
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micros*1000, time.UTC)
	return t.UnixMicro(), nil
}

// AppendTimestamp appends µs since the epoch in PostgreSQL's text format,
// the inverse of ParseTimestamp, so COPY text and the relay agree exactly.
// The producer calls it once per batch (its rows share created_at), so the
// time package's formatting costs nothing worth hand-writing.
func AppendTimestamp(dst []byte, micros int64) []byte {
	return time.UnixMicro(micros).UTC().AppendFormat(dst, "2006-01-02 15:04:05.000000")
}
