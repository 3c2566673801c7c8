package agents_test

import (
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/txn"
)

type step struct {
	user   int32
	cents  int64
	atSec  int64
	card   txn.Card
	alert  bool
	scored int64 // expected score when alert (0 = don't check)
}

func run(t *testing.T, d agents.Detector, steps []step) {
	t.Helper()
	for i, s := range steps {
		tx := txn.Row{ID: int64(i + 1), UserID: s.user, AmountCents: s.cents, CreatedAt: s.atSec * 1e6, Card: s.card}
		a, got := d.Observe(&tx)
		if got != s.alert {
			t.Fatalf("step %d (%+v): alert = %v, want %v", i, s, got, s.alert)
		}
		if got && (a.TxID != tx.ID || a.UserID != s.user) {
			t.Fatalf("step %d: alert %+v does not name tx %d of user %d", i, a, tx.ID, s.user)
		}
		if got && s.scored != 0 && a.Score != s.scored {
			t.Fatalf("step %d: score %d, want %d", i, a.Score, s.scored)
		}
	}
}

func TestOutlier(t *testing.T) {
	t.Parallel()
	sigma := agents.DefaultOutlier()
	sigma.Rule = agents.RuleSigma3
	short := agents.DefaultOutlier()
	short.History = 3
	cases := []struct {
		name  string
		cfg   agents.OutlierConfig
		steps []step
	}{
		{"needs three amounts first", agents.DefaultOutlier(), []step{
			{user: 1, cents: 1000}, {user: 1, cents: 1000}, {user: 1, cents: 900000}, // only 2 known
			{user: 1, cents: 900000}, // history {10.00, 10.00, 9000.00}: 3x mean = 9020.00, not above
		}},
		{"above 3x mean and above 500", agents.DefaultOutlier(), []step{
			{user: 1, cents: 10000}, {user: 1, cents: 10000}, {user: 1, cents: 10000},
			{user: 1, cents: 30000},                            // exactly 3x: not above
			{user: 1, cents: 49000},                            // 3x mean (12500) but not above 500.00
			{user: 1, cents: 200000, alert: true},              // far above
			{user: 2, cents: 200000}, {user: 2, cents: 200000}, // other user has own history
		}},
		{"min amount is exclusive", agents.DefaultOutlier(), []step{
			{user: 1, cents: 100}, {user: 1, cents: 100}, {user: 1, cents: 100},
			{user: 1, cents: 50000},              // 500.00 is not above 500
			{user: 1, cents: 50001, alert: true}, // 500.01 is
		}},
		{"history is rolling", short, []step{
			{user: 1, cents: 100000}, {user: 1, cents: 100000}, {user: 1, cents: 100000},
			{user: 1, cents: 10000}, {user: 1, cents: 10000}, {user: 1, cents: 10000}, // big amounts rolled out
			{user: 1, cents: 60000, alert: true},
		}},
		{"sigma3 ignores a steady history's mean multiple", sigma, []step{
			{user: 1, cents: 100000}, {user: 1, cents: 100000}, {user: 1, cents: 100000},
			{user: 1, cents: 100001, alert: true}, // stddev 0: anything above the mean and 500 alerts
			{user: 2, cents: 10000}, {user: 2, cents: 500000}, {user: 2, cents: 10000},
			{user: 2, cents: 850000}, // above 3x mean (5200.00) but below mean+3 sigma (8661.54)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := agents.NewOutlier(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			run(t, d, c.steps)
		})
	}
}

func TestVelocity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		steps []step
	}{
		{"sixth in 60s with high amount", []step{
			{user: 7, cents: 100, atSec: 0}, {user: 7, cents: 100, atSec: 1}, {user: 7, cents: 100, atSec: 2},
			{user: 7, cents: 100, atSec: 3}, {user: 7, cents: 100, atSec: 4},
			{user: 7, cents: 450000, atSec: 5, alert: true, scored: 90},
		}},
		{"fifth is not enough", []step{
			{user: 7, cents: 100, atSec: 0}, {user: 7, cents: 100, atSec: 1}, {user: 7, cents: 100, atSec: 2},
			{user: 7, cents: 100, atSec: 3}, {user: 7, cents: 450000, atSec: 4, card: txn.CardAmex},
		}},
		{"window slides on event time", []step{
			{user: 7, cents: 100, atSec: 0}, {user: 7, cents: 100, atSec: 1}, {user: 7, cents: 100, atSec: 2},
			{user: 7, cents: 100, atSec: 3}, {user: 7, cents: 100, atSec: 4},
			{user: 7, cents: 450000, atSec: 61},                     // first two fell out: 4 in window
			{user: 7, cents: 450000, atSec: 62, card: txn.CardAmex}, // 4 in window (t=2 fell out too)
		}},
		{"count and amex without amount do not alert", []step{
			{user: 7, atSec: 0}, {user: 7, atSec: 0}, {user: 7, atSec: 0}, {user: 7, atSec: 0}, {user: 7, atSec: 0},
			{user: 7, cents: 400000, atSec: 0, card: txn.CardAmex}, // 4000.00 is not above 4000: 40+10
			{user: 7, cents: 400001, atSec: 0, card: txn.CardAmex, alert: true, scored: 100},
		}},
		{"users are separate", []step{
			{user: 1, atSec: 0}, {user: 2, atSec: 0}, {user: 3, atSec: 0}, {user: 4, atSec: 0}, {user: 5, atSec: 0},
			{user: 6, cents: 500000, atSec: 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := agents.NewVelocity(agents.DefaultVelocity())
			if err != nil {
				t.Fatal(err)
			}
			run(t, d, c.steps)
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	badOutlier := []agents.OutlierConfig{
		{Rule: "median", History: 50, MinHistory: 3, Factor: 3},
		{Rule: agents.RuleMean3x, History: 0, MinHistory: 3, Factor: 3},
		{Rule: agents.RuleMean3x, History: 2, MinHistory: 3, Factor: 3},
		{Rule: agents.RuleMean3x, History: 50, MinHistory: 3, Factor: 0},
		{Rule: agents.RuleMean3x, History: 50, MinHistory: 3, Factor: 3, MinAmount: -1},
	}
	for i, c := range badOutlier {
		if _, err := agents.NewOutlier(c); err == nil {
			t.Errorf("outlier config %d (%+v) accepted", i, c)
		}
	}
	if _, err := agents.NewVelocity(agents.VelocityConfig{Window: 0}); err == nil {
		t.Error("velocity with zero window accepted")
	}
	if _, err := agents.New("nope", agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()}); err == nil {
		t.Error("unknown agent accepted")
	}
	for _, name := range agents.Names {
		d, err := agents.New(name, agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()})
		if err != nil || d.Name() != name {
			t.Errorf("New(%q) = %v, %v", name, d, err)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	cfg := agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()}
	for _, name := range agents.Names {
		b.Run(name, func(b *testing.B) {
			d, _ := agents.New(name, cfg)
			tx := txn.Row{Card: txn.CardVisa}
			// Warm every user's state so the loop measures steady state.
			for u := int32(0); u < 9000; u++ {
				tx.UserID = u
				for i := 0; i < 50; i++ {
					tx.AmountCents = int64(500 + i*97)
					tx.CreatedAt = int64(i) * int64(time.Second/time.Microsecond) * 30
					d.Observe(&tx)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tx.UserID = int32(i % 9000)
				tx.AmountCents = int64(500 + i%500000)
				tx.CreatedAt += 1000
				d.Observe(&tx)
			}
		})
	}
}
