package changeevent

import (
	"encoding/base64"
	"math"

	"github.com/valyala/fastjson"

	"github.com/cdcbench/cdcbench/internal/txn"
)

// maxCents is the largest numeric(10,2) amount, 99999999.99, in cents.
const maxCents = 9_999_999_999

// amountKind is how the schema says the amount is encoded. Without a schema
// the JSON type of the value decides (amountAuto).
type amountKind uint8

const (
	amountAuto     amountKind = iota
	amountDouble              // decimal.handling.mode=double: a JSON number
	amountText                // decimal.handling.mode=string: "2358.73"
	amountPrecise             // org.apache.kafka.connect.data.Decimal: base64 unscaled bytes
	amountVariable            // io.debezium.data.VariableScaleDecimal: {"scale":2,"value":"A5lh"}
)

// timeKind is the Debezium temporal type of created_at.
type timeKind uint8

const (
	timeAuto  timeKind = iota // number = µs, string = ISO-8601 or PostgreSQL text
	timeMicro                 // io.debezium.time.MicroTimestamp
	timeMilli                 // io.debezium.time.Timestamp, org.apache.kafka.connect.data.Timestamp
	timeNano                  // io.debezium.time.NanoTimestamp
	timeZoned                 // io.debezium.time.ZonedTimestamp
)

// columns holds what the schema wrapper says about the columns whose JSON
// form depends on connector settings.
type columns struct {
	amount  amountKind
	scale   int64 // for amountPrecise
	created timeKind
}

// noSchema is what the columns are without a schema: the JSON types decide,
// and a precise decimal has numeric(10,2)'s scale.
var noSchema = columns{scale: 2}

// columnKinds walks schema.fields[field=after].fields; a nil schema says
// nothing (the JSON types decide). The Decoder keeps its result for as long
// as the schema's bytes stay the same.
func columnKinds(schema *fastjson.Value) (columns, error) {
	cols := noSchema
	if schema == nil {
		return cols, nil
	}
	for _, f := range schema.GetArray("fields") {
		if string(f.GetStringBytes("field")) != "after" {
			continue
		}
		for _, c := range f.GetArray("fields") {
			switch string(c.GetStringBytes("field")) {
			case "amount":
				if err := cols.setAmount(c); err != nil {
					return cols, err
				}
			case "created_at":
				cols.created = timeKindOf(c)
			}
		}
		break
	}
	return cols, nil
}

func (cols *columns) setAmount(c *fastjson.Value) error {
	switch string(c.GetStringBytes("name")) {
	case "org.apache.kafka.connect.data.Decimal":
		scale, ok := parseSmallInt(c.GetStringBytes("parameters", "scale"))
		if !ok {
			return skip(ReasonBadValue, "schema after.amount scale")
		}
		cols.amount, cols.scale = amountPrecise, scale
		return nil
	case "io.debezium.data.VariableScaleDecimal":
		cols.amount = amountVariable
		return nil
	}
	switch string(c.GetStringBytes("type")) {
	case "double", "float":
		cols.amount = amountDouble
	case "string":
		cols.amount = amountText
	}
	return nil
}

func timeKindOf(c *fastjson.Value) timeKind {
	switch string(c.GetStringBytes("name")) {
	case "io.debezium.time.MicroTimestamp":
		return timeMicro
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		return timeMilli
	case "io.debezium.time.NanoTimestamp":
		return timeNano
	case "io.debezium.time.ZonedTimestamp":
		return timeZoned
	}
	return timeAuto
}

// decodeAmount converts any of Debezium's decimal encodings to cents,
// exactly: a value with more precision than numeric(10,2) is a bad value,
// not something to round silently.
func decodeAmount(v *fastjson.Value, cols columns) (int64, error) {
	if isNull(v) {
		return 0, skip(ReasonMissingField, "after.amount")
	}
	cents, ok := int64(0), false
	switch v.Type() {
	case fastjson.TypeNumber:
		if cols.amount == amountAuto || cols.amount == amountDouble {
			f, err := v.Float64()
			cents, ok = doubleCents(f)
			ok = ok && err == nil
		}
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		switch cols.amount {
		case amountText:
			c, err := txn.ParseAmount(s)
			cents, ok = c, err == nil
		case amountPrecise:
			if u, uok := base64Int(s); uok {
				cents, ok = rescale(u, cols.scale)
			}
		case amountAuto:
			// Decimal text first ("1234" is also valid base64), then the
			// precise form with the column's scale.
			if c, err := txn.ParseAmount(s); err == nil {
				cents, ok = c, true
			} else if u, uok := base64Int(s); uok {
				cents, ok = rescale(u, 2)
			}
		}
	case fastjson.TypeObject:
		if cols.amount == amountAuto || cols.amount == amountVariable {
			scale, sPresent, sok := optInt64(v.Get("scale"))
			value, vok := stringBytes(v.Get("value"))
			if sPresent && sok && vok {
				if u, uok := base64Int(value); uok {
					cents, ok = rescale(u, scale)
				}
			}
		}
	}
	if !ok || cents < 0 || cents > maxCents {
		return 0, skip(ReasonBadValue, "after.amount")
	}
	return cents, nil
}

// doubleCents rounds a double to the nearest cent. For every numeric(10,2)
// value, the nearest double times 100 is within a few millionths of a cent
// of the exact value, so rounding recovers it exactly.
func doubleCents(f float64) (int64, bool) {
	if !(f >= 0) { // also rejects NaN
		return 0, false
	}
	c := math.Round(f * 100)
	if !(c <= maxCents) {
		return 0, false
	}
	return int64(c), true
}

// base64Int decodes Kafka Connect's Decimal bytes: a big-endian two's
// complement integer (Java's BigInteger.toByteArray), base64 encoded. The
// buffer lives on the stack; values beyond int64 are rejected.
func base64Int(s []byte) (int64, bool) {
	var buf [12]byte
	if len(s) == 0 || base64.StdEncoding.DecodedLen(len(s)) > len(buf) {
		return 0, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], s)
	if err != nil || n == 0 || n > 8 {
		return 0, false
	}
	v := int64(int8(buf[0]))
	for _, b := range buf[1:n] {
		v = v<<8 | int64(b)
	}
	return v, true
}

// rescale converts an unscaled value with the given scale to cents. A scale
// above 2 must divide out exactly.
func rescale(u, scale int64) (int64, bool) {
	switch {
	case u == 0 || scale == 2:
		return u, true
	case scale < 2:
		// |u| grows tenfold per step, so this ends within a dozen steps
		// whatever the scale.
		for s := scale; s < 2; s++ {
			if u > maxCents || u < -maxCents {
				return 0, false
			}
			u *= 10
		}
	default:
		// u != 0, so a non-zero last digit turns up within 19 steps.
		for s := scale; s > 2; s-- {
			if u%10 != 0 {
				return 0, false
			}
			u /= 10
		}
	}
	return u, true
}

// decodeCreatedAt converts created_at to µs since the epoch, UTC.
func decodeCreatedAt(v *fastjson.Value, kind timeKind) (int64, error) {
	if isNull(v) {
		return 0, skip(ReasonMissingField, "after.created_at")
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			break
		}
		switch kind {
		case timeAuto, timeMicro:
			return n, nil
		case timeMilli:
			if us, ok := mul1000(n); ok {
				return us, nil
			}
		case timeNano:
			return floorDiv(n, 1000), nil
		}
	case fastjson.TypeString:
		if kind == timeAuto || kind == timeZoned {
			s, _ := v.StringBytes()
			if us, ok := parseTimestampText(s); ok {
				return us, nil
			}
		}
	}
	return 0, skip(ReasonBadValue, "after.created_at")
}

// parseTimestampText parses ISO-8601 as ZonedTimestamp writes it
// ("2026-01-07T17:18:03.683652Z", any offset) and PostgreSQL's text output
// ("2026-01-07 17:18:03.683652", optionally "+00"). No offset means UTC,
// as for timestamp without time zone. Digits beyond µs are truncated.
func parseTimestampText(b []byte) (int64, bool) {
	const base = len("2006-01-02T15:04:05")
	if len(b) < base {
		return 0, false
	}
	end := base
	if end < len(b) && b[end] == '.' {
		end++
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		if digits := end - base - 1; digits == 0 || digits > 9 {
			return 0, false
		}
	}
	us, err := txn.ParseTimestamp(b[:min(end, base+len(".000000"))])
	if err != nil {
		return 0, false
	}
	off, ok := parseOffset(b[end:])
	if !ok {
		return 0, false
	}
	return us - off*1_000_000, true
}

// parseOffset parses a zone suffix: "", "Z", or ±HH, ±HHMM, ±HH:MM,
// ±HH:MM:SS. It returns the offset east of UTC in seconds.
func parseOffset(z []byte) (int64, bool) {
	switch {
	case len(z) == 0:
		return 0, true
	case len(z) == 1 && (z[0] == 'Z' || z[0] == 'z'):
		return 0, true
	case z[0] != '+' && z[0] != '-':
		return 0, false
	}
	sign := int64(1)
	if z[0] == '-' {
		sign = -1
	}
	z = z[1:]
	var parts [3]int64
	n := 0
	for n < len(parts) && len(z) >= 2 {
		d0, d1 := z[0]-'0', z[1]-'0'
		if d0 > 9 || d1 > 9 {
			return 0, false
		}
		parts[n] = int64(d0)*10 + int64(d1)
		n++
		z = z[2:]
		if len(z) > 0 && z[0] == ':' {
			z = z[1:]
			if len(z) == 0 {
				return 0, false
			}
		}
	}
	if n == 0 || len(z) != 0 || parts[0] > 18 || parts[1] > 59 || parts[2] > 59 {
		return 0, false
	}
	return sign * (parts[0]*3600 + parts[1]*60 + parts[2]), true
}

// parseSmallInt parses the decimal scale parameter ("2", "-1").
func parseSmallInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// floorDiv divides rounding toward negative infinity, so that instants
// before 1970 truncate to the earlier µs like positive ones do.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// mul1000 multiplies by 1000, reporting overflow.
func mul1000(a int64) (int64, bool) {
	if a > math.MaxInt64/1000 || a < math.MinInt64/1000 {
		return 0, false
	}
	return a * 1000, true
}
