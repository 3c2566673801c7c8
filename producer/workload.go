// Package producer drives the transactions table: a deterministic workload
// shaped like the seed's (random card transactions plus injected frauds) sent
// on an open-loop schedule over several connections, with the send and commit
// time of every batch recorded for the latency stages.
package producer

import (
	"math/rand/v2"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// FirstID is the workload's first row id. The producer assigns ids itself
// so that every path of a run sees the same ids (the oracle and the loss
// accounting key on them) and so that ids are dense: the safe polling
// cursor relies on it. The id before it is the probe's (table.ProbeID).
const FirstID = table.ProbeID + 1

// Seed's value ranges.
const (
	FirstUserID    = 1000
	minAmountCents = 500    // 5.00
	maxAmountCents = 500000 // 5000.00
	merchants      = 500
)

// WorkloadConfig shapes the rows. Users are FirstUserID.. FirstUserID+Users-1.
type WorkloadConfig struct {
	BatchSize int
	Users     int
	Conns     int
	FraudRate float64 // fraction of rows that start an injected fraud pattern
	Seed      uint64
}

// Fraud pattern sizes: a velocity burst is velocityBurst rows of one user in
// one batch, the last above the velocity agent's high amount.
const velocityBurst = 6

// Generator produces the rows of batch 0, 1, 2, ... in that order. Batch n is
// sent on connection n % Conns and holds only users of that connection, so a
// user's rows are committed in the order they were generated: the per-user
// order the agents and the oracle rely on. The same config yields the same
// rows whatever the timing, so every path of a run gets the same workload.
type Generator struct {
	cfg WorkloadConfig
	rng *rand.Rand
	// history counts the rows generated per user (index: user id minus
	// FirstUserID), for picking outlier victims; a slice, since ids are dense.
	history []int32
	n       int64
	frauds  result.FraudCounts
}

// NewGenerator returns a generator at batch 0.
func NewGenerator(cfg WorkloadConfig) *Generator {
	return &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		history: make([]int32, max(cfg.Users, cfg.Conns)),
	}
}

// Frauds returns the patterns injected so far.
func (g *Generator) Frauds() result.FraudCounts { return g.frauds }

// BatchIDs returns the first id of batch n.
func BatchIDs(n int64, batchSize int) int64 { return FirstID + n*int64(batchSize) }

// BatchOf returns the batch an id belongs to, or -1 for the probe.
func BatchOf(id int64, batchSize int) int64 {
	if id < FirstID {
		return -1
	}
	return (id - FirstID) / int64(batchSize)
}

// Next fills rows (len BatchSize) with the next batch, created at atUs (µs
// since the epoch, the batch's intended send time), and returns the batch
// number and the connection it belongs to.
func (g *Generator) Next(atUs int64, rows []txn.Row) (batch int64, conn int) {
	batch = g.n
	g.n++
	conn = int(batch % int64(g.cfg.Conns))
	id := BatchIDs(batch, g.cfg.BatchSize)
	for i := 0; i < len(rows); {
		if g.cfg.FraudRate > 0 && g.rng.Float64() < g.cfg.FraudRate {
			if g.rng.IntN(2) == 0 {
				if g.outlier(&rows[i], conn) {
					i++
					continue
				}
			} else if len(rows)-i >= velocityBurst {
				g.velocity(rows[i:i+velocityBurst], conn)
				i += velocityBurst
				continue
			}
		}
		g.normal(&rows[i], g.user(conn))
		i++
	}
	for i := range rows {
		rows[i].ID = id + int64(i)
		rows[i].CreatedAt = atUs
		g.history[rows[i].UserID-FirstUserID]++
	}
	return batch, conn
}

// user picks a random user of connection conn.
func (g *Generator) user(conn int) int32 {
	perConn := (g.cfg.Users - conn + g.cfg.Conns - 1) / g.cfg.Conns
	if perConn < 1 {
		perConn = 1
	}
	k := g.rng.IntN(perConn)
	return int32(FirstUserID + conn + k*g.cfg.Conns)
}

func (g *Generator) normal(tx *txn.Row, user int32) {
	tx.UserID = user
	tx.AmountCents = minAmountCents + g.rng.Int64N(maxAmountCents-minAmountCents+1)
	tx.Card = txn.Card(1 + g.rng.IntN(3))
	tx.MerchantID = int32(1 + g.rng.IntN(merchants))
}

// outlier writes an amount spike for a user who already has three amounts:
// 25,000.00 to 50,000.00, above 3x the mean and above mean + 3 sigma of any
// history of ordinary amounts (at most 5,000.00 each). It gives up after a
// few draws when no user of this connection has history yet.
func (g *Generator) outlier(tx *txn.Row, conn int) bool {
	for try := 0; try < 8; try++ {
		u := g.user(conn)
		if g.history[u-FirstUserID] >= 3 {
			g.normal(tx, u)
			tx.AmountCents = 2500000 + g.rng.Int64N(2500001)
			g.frauds.Outlier++
			return true
		}
	}
	return false
}

// velocity writes a card-testing burst: small amounts then one above
// 4,000.00, all for one user in one batch, so the last scores 40 + 50.
func (g *Generator) velocity(rows []txn.Row, conn int) {
	u := g.user(conn)
	for i := range rows {
		g.normal(&rows[i], u)
		rows[i].AmountCents = 100 + g.rng.Int64N(2000)
	}
	rows[len(rows)-1].AmountCents = 450000 + g.rng.Int64N(50001)
	g.frauds.Velocity++
}
