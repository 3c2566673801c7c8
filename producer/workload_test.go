package producer_test

import (
	"reflect"
	"testing"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
)

func generate(cfg producer.WorkloadConfig, batches int) ([][]txn.Row, []int) {
	g := producer.NewGenerator(cfg)
	var out [][]txn.Row
	var conns []int
	for i := 0; i < batches; i++ {
		rows := make([]txn.Row, cfg.BatchSize)
		b, c := g.Next(int64(i)*1000, rows)
		if b != int64(i) {
			panic("batch numbers must count up")
		}
		out = append(out, rows)
		conns = append(conns, c)
	}
	return out, conns
}

func TestGeneratorIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := producer.WorkloadConfig{BatchSize: 50, Users: 9000, Conns: 3, FraudRate: 0.01, Seed: 42}
	a, _ := generate(cfg, 200)
	b, _ := generate(cfg, 200)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same config produced different rows")
	}
	cfg.Seed = 43
	c, _ := generate(cfg, 200)
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds produced the same rows")
	}
}

func TestGeneratorRows(t *testing.T) {
	t.Parallel()
	cfg := producer.WorkloadConfig{BatchSize: 50, Users: 9000, Conns: 3, FraudRate: 0.01, Seed: 1}
	batches, conns := generate(cfg, 300)
	next := producer.FirstID
	userConn := map[int32]int{}
	for i, rows := range batches {
		if conns[i] != i%cfg.Conns {
			t.Fatalf("batch %d on connection %d, want %d", i, conns[i], i%cfg.Conns)
		}
		for _, r := range rows {
			if r.ID != next {
				t.Fatalf("ids not dense: got %d, want %d", r.ID, next)
			}
			next++
			if producer.BatchOf(r.ID, cfg.BatchSize) != int64(i) {
				t.Fatalf("BatchOf(%d) = %d, want %d", r.ID, producer.BatchOf(r.ID, cfg.BatchSize), i)
			}
			if r.UserID < producer.FirstUserID || r.UserID >= producer.FirstUserID+int32(cfg.Users) {
				t.Fatalf("user %d out of range", r.UserID)
			}
			// A user always goes through one connection: per-user order.
			if c, ok := userConn[r.UserID]; ok && c != conns[i] {
				t.Fatalf("user %d on connections %d and %d", r.UserID, c, conns[i])
			}
			userConn[r.UserID] = conns[i]
			if r.MerchantID < 1 || r.MerchantID > 500 || r.Card == txn.CardOther || r.CreatedAt != int64(i)*1000 {
				t.Fatalf("row out of the seed's ranges: %+v", r)
			}
			if r.AmountCents < 100 || r.AmountCents > 5000000 {
				t.Fatalf("amount %d out of range", r.AmountCents)
			}
		}
	}
	if producer.BatchOf(table.ProbeID, cfg.BatchSize) != -1 {
		t.Fatal("the probe id belongs to a batch")
	}
}

// TestInjectedFraudsAlert checks that the injected patterns make both agents
// alert, so every scenario has alerts to measure.
func TestInjectedFraudsAlert(t *testing.T) {
	t.Parallel()
	cfg := producer.WorkloadConfig{BatchSize: 50, Users: 500, Conns: 2, FraudRate: 0.01, Seed: 5}
	g := producer.NewGenerator(cfg)
	out, _ := agents.NewOutlier(agents.DefaultOutlier())
	vel, _ := agents.NewVelocity(agents.DefaultVelocity())
	var outAlerts, velAlerts int
	rows := make([]txn.Row, cfg.BatchSize)
	for i := 0; i < 200; i++ {
		g.Next(int64(i)*50000, rows) // 20 batches/s
		for j := range rows {
			if _, ok := out.Observe(&rows[j]); ok {
				outAlerts++
			}
			if _, ok := vel.Observe(&rows[j]); ok {
				velAlerts++
			}
		}
	}
	f := g.Frauds()
	if f.Outlier == 0 || f.Velocity == 0 {
		t.Fatalf("no frauds injected: %+v", f)
	}
	if outAlerts < int(f.Outlier)/2 || velAlerts < int(f.Velocity) {
		t.Fatalf("alerts outlier %d velocity %d for injected %+v", outAlerts, velAlerts, f)
	}
}

func TestAppendCopyRows(t *testing.T) {
	t.Parallel()
	rows := []txn.Row{
		{ID: 7, UserID: 1001, AmountCents: 235873, Card: txn.CardAmex, MerchantID: 40, CreatedAt: 1767806283683652},
		{ID: 8, UserID: 1002, AmountCents: 5, Card: txn.CardVisa, MerchantID: 1, CreatedAt: 1767806283683652},
		{ID: 9, UserID: 1003, AmountCents: 100, Card: txn.CardMastercard, MerchantID: 2, CreatedAt: 1767806284000001},
		{ID: 10, UserID: 1001, AmountCents: 99, Card: txn.CardVisa, MerchantID: 3, CreatedAt: 1767806283683652},
	}
	got := string(producer.AppendCopyRows(nil, rows))
	want := "7\t1001\t2358.73\tAMEX\t40\t2026-01-07 17:18:03.683652\n" +
		"8\t1002\t0.05\tVISA\t1\t2026-01-07 17:18:03.683652\n" +
		"9\t1003\t1.00\tMASTERCARD\t2\t2026-01-07 17:18:04.000001\n" +
		"10\t1001\t0.99\tVISA\t3\t2026-01-07 17:18:03.683652\n"
	if got != want {
		t.Fatalf("copy rows = %q, want %q", got, want)
	}
	if sql := producer.ValuesSQL(2); sql != "INSERT INTO transactions (id, user_id, amount, card_type, merchant_id, created_at) VALUES ($1,$2,$3,$4,$5,$6),($7,$8,$9,$10,$11,$12)" {
		t.Fatalf("values sql = %s", sql)
	}
}

// BenchmarkAppendCopyRows is the producer's formatting cost for a batch of
// 500 generated rows, which perf's producer-versus-psql comparison pays on
// top of psql's; ns/row is per row.
func BenchmarkAppendCopyRows(b *testing.B) {
	g := producer.NewGenerator(producer.WorkloadConfig{BatchSize: 500, Users: 10_000, Conns: 1, FraudRate: 0.01, Seed: 1})
	rows := make([]txn.Row, 500)
	g.Next(1767806283683652, rows)
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = producer.AppendCopyRows(buf[:0], rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/row")
}
