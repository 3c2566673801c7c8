package extagent

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/txn"
)

func TestCompilePattern(t *testing.T) {
	for _, tc := range []struct {
		expr, err string
	}{
		{OutlierPattern, ""},
		{VelocityPattern, ""},
		{`User (?<user_id>\d+) \$(?<amount>\S+) id=(?P<id>\d+)`, ""},
		{`ANOMALY DETECTED: User (\d+) spent \$([0-9.]+)`, "no (?P<user_id>...) or (?P<amount>...) group"},
		{`User (?P<user_id>\d+) spent`, "no (?P<amount>...) group"},
		{`User (?P<user_id>\d+`, "missing closing )"},
	} {
		_, err := CompilePattern(tc.expr)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CompilePattern(%q) = %v, want error containing %q", tc.expr, err, tc.err)
		}
	}
}

func TestParse(t *testing.T) {
	out, _ := CompilePattern(OutlierPattern)
	vel, _ := CompilePattern(VelocityPattern)
	withID, _ := CompilePattern(`tx (?P<id>\d+) user (?P<user_id>\S+) amount (?P<amount>\S+)`)
	for _, tc := range []struct {
		p     *Pattern
		line  string
		want  LineAlert
		isErr string // "" ok, "not" ErrNotAlert, else a malformed line's message
	}{
		{out, "ANOMALY DETECTED: User 8190 spent $3985.05 (Significantly higher than average)", LineAlert{UserID: 8190, AmountCents: 398505}, ""},
		{out, "ANOMALY DETECTED: User 8190 spent $1,234.5 (x)", LineAlert{UserID: 8190, AmountCents: 123450}, ""},
		{vel, "HIGH FRAUD ALERT: User 8751 | Score: 90 | Amt: 4911.75", LineAlert{UserID: 8751, AmountCents: 491175}, ""},
		{vel, "Velocity agent listening...", LineAlert{}, "not"},
		{out, "ANOMALY DETECTED: User 8190 spent $1.2.3", LineAlert{}, "not a number"},
		{out, "ANOMALY DETECTED: User 99999999999 spent $1.00", LineAlert{}, "user_id"},
		{withID, "tx 42 user 7 amount 5.00", LineAlert{ID: 42, UserID: 7, AmountCents: 500}, ""},
		{withID, "tx 42 user x7 amount 5.00", LineAlert{}, "user_id"},
	} {
		got, err := tc.p.Parse(tc.line, 0)
		switch {
		case tc.isErr == "not":
			if !errors.Is(err, ErrNotAlert) {
				t.Errorf("%q: err %v, want ErrNotAlert", tc.line, err)
			}
		case tc.isErr != "":
			if err == nil || errors.Is(err, ErrNotAlert) || !strings.Contains(err.Error(), tc.isErr) {
				t.Errorf("%q: err %v, want a malformed line (%s)", tc.line, err, tc.isErr)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q: %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

// TestMatch pins which row each line denotes, and what is counted instead
// of guessed.
func TestMatch(t *testing.T) {
	// User 7 spends 10.00 three times (ids 2, 4, 6); user 8 once 10.00 (id 3).
	truth := NewTruth()
	truth.Add([]txn.Row{
		{ID: 2, UserID: 7, AmountCents: 1000, CreatedAt: 100},
		{ID: 3, UserID: 8, AmountCents: 1000, CreatedAt: 100},
		{ID: 4, UserID: 7, AmountCents: 1000, CreatedAt: 200},
		{ID: 5, UserID: 7, AmountCents: 5000, CreatedAt: 200},
		{ID: 6, UserID: 7, AmountCents: 1000, CreatedAt: 300},
	})
	at := func(us int64) int64 { return us * 1000 }
	for _, tc := range []struct {
		name     string
		lines    []LineAlert
		expected []int64
		want     Matches
	}{
		{"unique amount", []LineAlert{{UserID: 7, AmountCents: 5000, ArrivalNs: at(250)}}, []int64{5},
			Matches{IDs: []int64{5}}},
		{"twice the same row", []LineAlert{{UserID: 8, AmountCents: 1000, ArrivalNs: at(150)}, {UserID: 8, AmountCents: 1000, ArrivalNs: at(160)}}, []int64{3},
			Matches{IDs: []int64{3}, Duplicates: 1}},
		{"no such user", []LineAlert{{UserID: 999, AmountCents: 1000, ArrivalNs: at(400)}}, nil,
			Matches{Unmatched: 1}},
		{"no such amount", []LineAlert{{UserID: 7, AmountCents: 1001, ArrivalNs: at(400)}}, nil,
			Matches{Unmatched: 1}},
		{"row not produced yet", []LineAlert{{UserID: 7, AmountCents: 5000, ArrivalNs: at(150)}}, []int64{5},
			Matches{Unmatched: 1}},
		{"before the second one exists", []LineAlert{{UserID: 7, AmountCents: 1000, ArrivalNs: at(150)}}, []int64{2},
			Matches{IDs: []int64{2}}},
		{"several, none expected", []LineAlert{{UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, nil,
			Matches{Ambiguous: 1}},
		{"several, one expected", []LineAlert{{UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, []int64{4},
			Matches{IDs: []int64{4}}},
		{"several, two expected", []LineAlert{{UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, []int64{4, 6},
			Matches{Ambiguous: 1}},
		{"in the user's order", []LineAlert{
			{UserID: 7, AmountCents: 1000, ArrivalNs: at(150)}, // only id 2 exists
			{UserID: 7, AmountCents: 5000, ArrivalNs: at(250)}, // id 5: the cursor is past 4
			{UserID: 7, AmountCents: 1000, ArrivalNs: at(350)}, // after the cursor only 6
		}, []int64{2, 5, 6}, Matches{IDs: []int64{2, 5, 6}}},
		{"by id", []LineAlert{{ID: 4, UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, []int64{4},
			Matches{IDs: []int64{4}}},
		{"id of another user", []LineAlert{{ID: 3, UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, []int64{3},
			Matches{Unmatched: 1}},
		{"id that does not exist", []LineAlert{{ID: 77, UserID: 7, AmountCents: 1000, ArrivalNs: at(400)}}, nil,
			Matches{Unmatched: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := truth.Match(tc.lines, func(id int64) bool { return slices.Contains(tc.expected, id) }, 0)
			if !slices.Equal(got.IDs, tc.want.IDs) || got.Duplicates != tc.want.Duplicates || got.Unmatched != tc.want.Unmatched || got.Ambiguous != tc.want.Ambiguous {
				t.Errorf("got ids %v dup %d unmatched %d ambiguous %d; want %+v", got.IDs, got.Duplicates, got.Unmatched, got.Ambiguous, tc.want)
			}
			if n := got.Latency.Summary().Count; n != int64(len(got.IDs)) {
				t.Errorf("latency count %d, want %d", n, len(got.IDs))
			}
		})
	}
}

func TestMatchSkipsWarmupLatency(t *testing.T) {
	truth := NewTruth()
	truth.Add([]txn.Row{{ID: 2, UserID: 7, AmountCents: 1000, CreatedAt: 100}, {ID: 3, UserID: 7, AmountCents: 2000, CreatedAt: 5000}})
	m := truth.Match([]LineAlert{{UserID: 7, AmountCents: 1000, ArrivalNs: 200_000}, {UserID: 7, AmountCents: 2000, ArrivalNs: 7_000_000}}, func(int64) bool { return true }, 1000)
	s := m.Latency.Summary()
	if len(m.IDs) != 2 || s.Count != 1 || s.Max < 1.9 || s.Max > 2.1 {
		t.Errorf("ids %v, latency %+v: want both matched and only the second timed, at 2 ms", m.IDs, s)
	}
}
