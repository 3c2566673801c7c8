package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/changeevent"
)

// Kafka reads Debezium change events from a topic in a consumer group and
// decodes them. Each agent has its own group, as in the seed's deployment, so
// each sees every event.
type Kafka struct {
	client   *kgo.Client
	dec      *changeevent.Decoder
	skips    changeevent.Counts
	assigned chan struct{}
	once     sync.Once
}

var _ Source = (*Kafka)(nil)

// KafkaConfig configures a Kafka source.
type KafkaConfig struct {
	Brokers []string
	Topic   string
	Group   string
	// Since skips records produced before it: a topic that outlives a run
	// (a stack kept up, a real cluster) still holds the previous runs'
	// events, with the same ids. Zero reads from the start.
	Since time.Time
	// Opts are extra client options (TLS, SASL, ...).
	Opts []kgo.Opt
}

// NewKafka joins the group. A new group starts at the first record
// produced at or after cfg.Since, so nothing produced after the path started
// is missed even if the group joins late, and nothing older is read.
func NewKafka(cfg KafkaConfig) (*Kafka, error) {
	start := kgo.NewOffset().AtStart()
	if !cfg.Since.IsZero() {
		start = kgo.NewOffset().AfterMilli(cfg.Since.UnixMilli())
	}
	k := &Kafka{dec: changeevent.NewDecoder(), assigned: make(chan struct{})}
	opts := append([]kgo.Opt{
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			k.once.Do(func() { close(k.assigned) })
		}),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(start),
		// A fetch returns as soon as one byte is there; waiting for more
		// would add latency the pipeline under test does not have.
		kgo.FetchMinBytes(1),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka source %s: %w", cfg.Group, err)
	}
	k.client = cl
	return k, nil
}

// Assigned is closed once the group gave this consumer partitions.
func (k *Kafka) Assigned() <-chan struct{} { return k.assigned }

// Run implements Source.
func (k *Kafka) Run(ctx context.Context, fn func(d *Delivery)) error {
	defer k.client.Close()
	var d Delivery
	var ev changeevent.Event
	var failingSince time.Time
	for {
		fetches := k.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now().UnixNano()
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				ferr = errors.Join(ferr, fmt.Errorf("kafka source: fetch %s[%d]: %w", topic, p, err))
			}
		})
		// The client retries by itself (a broker restarting, a group
		// rebalancing): fail only when errors outlast failFor.
		if ferr == nil {
			failingSince = time.Time{}
		} else if failingSince.IsZero() {
			failingSince = time.Now()
		} else if time.Since(failingSince) > failFor {
			return ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if err := k.dec.Decode(r.Value, &ev); err != nil {
				var se *changeevent.SkipError
				if errors.As(err, &se) {
					k.skips.Add(se.Reason)
				}
				return
			}
			d = Delivery{Tx: ev.Tx, ReceivedNs: now, CommitUs: ev.SourceTsUs, EventUs: ev.EventTsUs}
			if r.Attrs.TimestampType() == logAppendTime {
				d.AppendUs = r.Timestamp.UnixMicro()
			}
			fn(&d)
		})
	}
}

// logAppendTime is the record attribute saying the broker set the
// timestamp when it appended the record (0 is the producer's create time).
const logAppendTime = 1

// failFor is how long fetch errors may go on before the source gives up.
const failFor = 30 * time.Second

// Skipped implements Source.
func (k *Kafka) Skipped() map[string]int64 { return k.skips.Snapshot() }
