package relay_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestRelayEndToEnd streams real WAL from a private cluster through the
// relay into kfake and reads it back with a plain Kafka client, as kcat
// would: every insert arrives once, as a Debezium envelope with the row's
// values, other tables and updates do not, and the slot's confirmed LSN
// moves only once Kafka has the records.
func TestRelayEndToEnd(t *testing.T) {
	testtier.Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop(context.Background())
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "changes"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()

	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE TABLE transactions (id bigint PRIMARY KEY, user_id int NOT NULL, amount numeric(10,2) NOT NULL,
			card_type text NOT NULL, merchant_id int NOT NULL, created_at timestamp NOT NULL)`,
		`CREATE TABLE other (id int PRIMARY KEY)`,
		`CREATE PUBLICATION p FOR TABLE transactions, other`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if err := relay.CreateSlot(ctx, pg.ReplicationDSN(), "cdcbench_t"); err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(ctx, relay.Config{ReplicationDSN: pg.ReplicationDSN(), Slot: "cdcbench_t", Publication: "p",
		Brokers: kc.ListenAddrs(), Topic: "changes", Name: "dbserver1", Database: "postgres", Schema: "public", Table: "transactions",
		StatusTick: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()

	var before string
	if err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'cdcbench_t'").Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO transactions VALUES (1, 1001, 2358.73, 'MASTERCARD', 40, '2026-01-07 17:18:03.683652'), (2, 1002, 5.00, 'AMEX', 1, '2026-01-07 17:18:04')`,
		`INSERT INTO other VALUES (1)`,
		`UPDATE transactions SET amount = 1 WHERE id = 1`,
		`INSERT INTO transactions VALUES (3, 1003, 0.01, 'VISA', 500, '2026-01-07 17:18:05.5')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumeTopics("changes"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < 3 {
		f := cl.PollFetches(ctx)
		if err := f.Err(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, f.Records()...)
	}
	dec := changeevent.NewDecoder()
	want := []struct {
		id, cents, created int64
		user               int32
	}{{1, 235873, 1767806283683652, 1001}, {2, 500, 1767806284000000, 1002}, {3, 1, 1767806285500000, 1003}}
	for i, rec := range recs {
		var ev changeevent.Event
		if err := dec.Decode(rec.Value, &ev); err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, rec.Value)
		}
		w := want[i]
		if ev.Tx.ID != w.id || ev.Tx.AmountCents != w.cents || ev.Tx.CreatedAt != w.created || ev.Tx.UserID != w.user || ev.Op != 'c' {
			t.Errorf("record %d = %+v, want %+v", i, ev.Tx, w)
		}
		const snappy = 2 // the codec's number in a record batch's attributes
		if c := rec.Attrs.CompressionType(); c != snappy {
			t.Errorf("record %d: compression type %d, want %d (snappy)", i, c, snappy)
		}
		if ev.SourceTsUs == 0 || ev.EventTsUs < ev.SourceTsUs || ev.LSN == 0 || ev.TxID == 0 {
			t.Errorf("record %d: source block incomplete: %+v", i, ev)
		}
		var key struct {
			Payload struct{ ID int64 } `json:"payload"`
		}
		if err := json.Unmarshal(rec.Key, &key); err != nil || key.Payload.ID != w.id {
			t.Errorf("record %d key %s: %v", i, rec.Key, err)
		}
	}
	// Nothing else arrives: the update and the other table are not events.
	fctx, fcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	extra := cl.PollFetches(fctx)
	fcancel()
	if n := len(extra.Records()); n != 0 {
		t.Errorf("%d unexpected records (update or other table)", n)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		var moved bool
		if err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn > $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdcbench_t'", before).Scan(&moved); err != nil {
			t.Fatal(err)
		}
		if moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot's confirmed_flush_lsn never moved after Kafka acknowledged the records")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := r.Stats(); st.Events != 3 || st.Skipped < 2 {
		t.Errorf("stats = %+v, want 3 events and the update and other-table insert skipped", st)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("relay: %v", err)
	}
	if err := relay.DropSlot(ctx, pg.ReplicationDSN(), "cdcbench_t"); err != nil {
		t.Fatal(err)
	}
}
