package extagent

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// Groups an alert line pattern names.
const (
	GroupUser   = "user_id" // required
	GroupAmount = "amount"  // required: dollars, "3985.05" ("$" and "," allowed)
	GroupID     = "id"      // optional: the transaction id, where the agent prints it
)

// The seed's alert lines, the default patterns of the two rules.
const (
	OutlierPattern  = `ANOMALY DETECTED: User (?P<user_id>\d+) spent \$(?P<amount>[0-9.,]+)`
	VelocityPattern = `HIGH FRAUD ALERT: User (?P<user_id>\d+) \| Score: \d+ \| Amt: \$?(?P<amount>[0-9.,]+)`
)

// Pattern recognises an agent's alert lines.
type Pattern struct {
	re                 *regexp.Regexp
	user, amount, txID int // submatch indexes; txID -1 when absent
}

// CompilePattern compiles expr (Go regexp syntax, which accepts Python's
// (?P<name>...) groups) and checks it names the groups a line needs to be
// matched to a row.
func CompilePattern(expr string) (*Pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", expr, err)
	}
	p := &Pattern{re: re, user: re.SubexpIndex(GroupUser), amount: re.SubexpIndex(GroupAmount), txID: re.SubexpIndex(GroupID)}
	var missing []string
	if p.user < 0 {
		missing = append(missing, "(?P<user_id>...)")
	}
	if p.amount < 0 {
		missing = append(missing, "(?P<amount>...)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("pattern %q has no %s group: a line is matched to its row by user and amount", expr, strings.Join(missing, " or "))
	}
	return p, nil
}

// String returns the expression.
func (p *Pattern) String() string { return p.re.String() }

// LineAlert is one alert line, as parsed.
type LineAlert struct {
	UserID      int32
	AmountCents int64
	ID          int64 // 0 when the pattern has no id group
	ArrivalNs   int64 // on cdcbench's clock
}

// ErrNotAlert reports a line the pattern does not match: log output.
var ErrNotAlert = errors.New("not an alert line")

// Parse reads one line: ErrNotAlert for other output, another error for a
// line that matches but whose groups do not parse (counted as malformed).
func (p *Pattern) Parse(line string, arrivalNs int64) (LineAlert, error) {
	m := p.re.FindStringSubmatch(line)
	if m == nil {
		return LineAlert{}, ErrNotAlert
	}
	a := LineAlert{ArrivalNs: arrivalNs}
	u, err := strconv.ParseInt(strings.TrimSpace(m[p.user]), 10, 32)
	if err != nil {
		return a, fmt.Errorf("user_id %q: %w", m[p.user], err)
	}
	a.UserID = int32(u)
	if a.AmountCents, err = parseCents(m[p.amount]); err != nil {
		return a, err
	}
	if p.txID >= 0 && m[p.txID] != "" {
		if a.ID, err = strconv.ParseInt(strings.TrimSpace(m[p.txID]), 10, 64); err != nil {
			return a, fmt.Errorf("id %q: %w", m[p.txID], err)
		}
	}
	return a, nil
}

// parseCents reads dollars as printed ("3985.05", "$1,234.5", "42.5") into
// cents, rounding as the table's numeric(10,2) does.
func parseCents(s string) (int64, error) {
	t := strings.NewReplacer("$", "", ",", "").Replace(strings.TrimSpace(s))
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return 0, fmt.Errorf("amount %q is not a number of dollars", s)
	}
	return int64(math.Round(f * 100)), nil
}

// truthRow is what matching needs of a produced row.
type truthRow struct {
	id          int64
	userID      int32
	amountCents int64
	createdAtUs int64
}

// Truth is the rows a path produced, by user in each user's order (the
// order the oracle judges them in), for telling which row an alert line
// denotes. It is filled as the producer generates rows and read once the
// agents stopped; it is not safe for concurrent use. It costs about 40
// bytes a row, kept only when a run has agents observed by their lines.
type Truth struct {
	rows   []truthRow
	byUser map[int32][]int32 // indexes into rows
	// byID finds a row by id; ids are dense and in order (the producer's),
	// so it is only needed for one that is not the next.
	byID map[int64]int32
}

// NewTruth returns an empty truth.
func NewTruth() *Truth {
	return &Truth{byUser: map[int32][]int32{}, byID: map[int64]int32{}}
}

// Add appends produced rows.
func (t *Truth) Add(rows []txn.Row) {
	for i := range rows {
		r := &rows[i]
		at := int32(len(t.rows))
		if len(t.rows) > 0 && r.ID != t.rows[0].id+int64(at) {
			t.byID[r.ID] = at
		}
		t.rows = append(t.rows, truthRow{id: r.ID, userID: r.UserID, amountCents: r.AmountCents, createdAtUs: r.CreatedAt})
		t.byUser[r.UserID] = append(t.byUser[r.UserID], at)
	}
}

// row returns the row of id.
func (t *Truth) row(id int64) (truthRow, bool) {
	if len(t.rows) == 0 {
		return truthRow{}, false
	}
	if i := id - t.rows[0].id; i >= 0 && i < int64(len(t.rows)) && t.rows[i].id == id {
		return t.rows[i], true
	}
	if i, ok := t.byID[id]; ok {
		return t.rows[i], true
	}
	return truthRow{}, false
}

// Matches is what an agent's alert lines came to.
type Matches struct {
	IDs []int64 // the rows the lines denote, once each, in arrival order
	// Duplicates are lines for a row an earlier line already denoted;
	// Unmatched lines denote no produced row (wrong user, amount or id, or
	// a row not yet produced when the line arrived); Ambiguous lines could
	// denote several rows, and are not credited to any.
	Duplicates, Unmatched, Ambiguous int64
	// Latency is arrival minus the row's intended send time, in µs, of
	// rows created at or after measureFromUs (the warm-up is not timed).
	Latency *recorder.Single
	// Timed are the same samples with their lines' arrival: the alert
	// latency over time.
	Timed []TimedAlert
}

// TimedAlert is one timed alert line: its arrival and its latency.
type TimedAlert struct{ ArrivalNs, LatencyUs int64 }

// Match decides which produced row each alert line denotes. A line with an
// id denotes that row if its user and amount agree. Otherwise its
// candidates are the user's rows with that amount created before the line
// arrived and not denoted yet; the agent reads a user's rows in order, so
// candidates after the user's last matched row come first. One candidate
// is the match; of several, the one the oracle expected to alert, if
// exactly one was; anything else is ambiguous and counted, not guessed.
func (t *Truth) Match(lines []LineAlert, expected func(id int64) bool, measureFromUs int64) Matches {
	m := Matches{Latency: recorder.NewSingle()}
	taken := map[int64]bool{}
	cursor := map[int32]int{} // per user: index after the last matched row
	take := func(r truthRow, arrivalNs int64) {
		taken[r.id] = true
		m.IDs = append(m.IDs, r.id)
		if r.createdAtUs >= measureFromUs {
			us := (arrivalNs - r.createdAtUs*1000) / 1000
			m.Latency.Record(us)
			m.Timed = append(m.Timed, TimedAlert{ArrivalNs: arrivalNs, LatencyUs: us})
		}
	}
	for _, l := range lines {
		if l.ID != 0 {
			r, ok := t.row(l.ID)
			switch {
			case !ok || r.amountCents != l.AmountCents || r.userID != l.UserID || r.createdAtUs*1000 > l.ArrivalNs:
				m.Unmatched++
			case taken[r.id]:
				m.Duplicates++
			default:
				take(r, l.ArrivalNs)
			}
			continue
		}
		rows := t.byUser[l.UserID]
		var after, before []int
		seen := false
		for i := range rows {
			r := t.rows[rows[i]]
			if r.amountCents != l.AmountCents || r.createdAtUs*1000 > l.ArrivalNs {
				continue
			}
			seen = true
			if taken[r.id] {
				continue
			}
			if i >= cursor[l.UserID] {
				after = append(after, i)
			} else {
				before = append(before, i)
			}
		}
		cands := after
		if len(cands) == 0 {
			cands = before
		}
		i, ok := t.pick(rows, cands, expected)
		switch {
		case len(cands) == 0 && seen:
			m.Duplicates++
		case len(cands) == 0:
			m.Unmatched++
		case !ok:
			m.Ambiguous++
		default:
			take(t.rows[rows[i]], l.ArrivalNs)
			cursor[l.UserID] = max(cursor[l.UserID], i+1)
		}
	}
	return m
}

// pick chooses among candidate rows (indexes into a user's rows): the only
// one, or the only expected one.
func (t *Truth) pick(rows []int32, cands []int, expected func(int64) bool) (int, bool) {
	if len(cands) == 1 {
		return cands[0], true
	}
	found, n := -1, 0
	for _, i := range cands {
		if expected(t.rows[rows[i]].id) {
			found, n = i, n+1
		}
	}
	return found, n == 1
}
