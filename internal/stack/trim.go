package stack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcbench/cdcbench/internal/wait"
)

// trimEvery is how often the in-process broker drops what every consumer
// group has read.
const trimEvery = 5 * time.Second

// alertRetention is how long the in-process broker keeps alerts: long
// enough for a collector reading them live, short enough that a long run's
// alerts (a fifth of all rows at high rates) do not pile up in memory.
const alertRetention = time.Minute

// limitAlerts gives the in-process broker's alert topic its retention.
func limitAlerts(ctx context.Context, brokers []string) error {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return err
	}
	defer adm.Close()
	ms := strconv.FormatInt(alertRetention.Milliseconds(), 10)
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &ms}}, AlertTopic)
	if err == nil {
		_, err = res.On(AlertTopic, nil)
	}
	if err != nil {
		return fmt.Errorf("stack: kfake: alert topic retention: %w", err)
	}
	return nil
}

// trimRead deletes the change topic's records that every consumer group
// has committed past, and has retain apply the topics' retention, until
// ctx ends. kfake keeps every record in memory, so without it a soak at
// 2,000 rows/s would hold gigabytes; with it the broker holds what the
// slowest group has yet to commit. A partition some group has no commit
// for is left alone: that group may still need it.
func trimRead(ctx context.Context, brokers []string, retain func()) {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return
	}
	defer adm.Close()
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if to := committedByAll(ctx, adm); len(to) > 0 {
			_, _ = adm.DeleteRecords(ctx, to)
		}
		retain()
	}
}

// committedByAll returns, per partition of the change topic, the lowest
// offset every group has committed; nil when that cannot be known.
func committedByAll(ctx context.Context, adm *kadm.Client) kadm.Offsets {
	listed, err := adm.ListGroups(ctx)
	if err != nil || len(listed) == 0 {
		return nil
	}
	fetched := adm.FetchManyOffsets(ctx, listed.Groups()...)
	low := map[int32]int64{}
	seen := map[int32]int{}
	for _, r := range fetched {
		if r.Err != nil {
			return nil
		}
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Topic != ChangeTopic || o.Err != nil || o.At < 0 {
				return
			}
			if n, ok := low[o.Partition]; !ok || o.At < n {
				low[o.Partition] = o.At
			}
			seen[o.Partition]++
		})
	}
	var out kadm.Offsets
	for p, at := range low {
		if seen[p] == len(fetched) {
			out.AddOffset(ChangeTopic, p, at, -1)
		}
	}
	return out
}

// ErrGroupsLeft marks consumer groups a run could not delete: they stay on
// the broker (which expires their offsets in time), costing nothing but
// their names; no replication slot or table is involved.
var ErrGroupsLeft = errors.New("consumer groups left on the broker")

// DeleteGroups removes the consumer groups whose names start with prefix:
// a run's groups are its own, and a real cluster should not collect them.
func DeleteGroups(ctx context.Context, brokers []string, prefix string) error {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return err
	}
	defer adm.Close()
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("stack: list groups: %w", err)
	}
	var ours []string
	for _, g := range listed.Groups() {
		if strings.HasPrefix(g, prefix) {
			ours = append(ours, g)
		}
	}
	if len(ours) == 0 {
		return nil
	}
	res, err := adm.DeleteGroups(ctx, ours...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("stack: %w (%s*): %w", ErrGroupsLeft, prefix, err)
	}
	return nil
}

// DeleteAbandonedGroup deletes group, whose consumers are known to be gone
// (their process exited). A consumer that dies without leaving its group
// (an agent with no SIGTERM handler: Python's default, and `kill`'s) stays
// a member until its session times out (kafka-python 10 s, the Java client
// 45 s), and the broker refuses to delete a group with members: each is
// removed by its member id first, with the LeaveGroup request Kafka's own
// tools use to remove members (KIP-571), and the group deleted once empty.
// An error wraps ErrGroupsLeft.
func DeleteAbandonedGroup(ctx context.Context, brokers []string, group string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("stack: kafka: %w", err)
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	fail := func(what string, err error) error {
		return fmt.Errorf("stack: %w (%s): %s: %w", ErrGroupsLeft, group, what, err)
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err == nil {
		err = described.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil
	}
	if err != nil {
		return fail("describe", err)
	}
	if members := described[group].Members; len(members) > 0 {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = group
		reason := "its consumer's process exited"
		for _, m := range members {
			lm := kmsg.NewLeaveGroupRequestMember()
			lm.MemberID, lm.InstanceID, lm.Reason = m.MemberID, m.InstanceID, &reason
			req.Members = append(req.Members, lm)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
			for _, m := range resp.Members {
				err = errors.Join(err, kerr.ErrorForCode(m.ErrorCode))
			}
		}
		if err != nil {
			return fail(fmt.Sprintf("remove its %d members", len(members)), err)
		}
	}
	// The group turns empty as the coordinator processes the removal.
	err = wait.Until(ctx, time.Now().Add(5*time.Second), 50*time.Millisecond, func() (bool, error) {
		res, err := adm.DeleteGroups(ctx, group)
		if err == nil {
			err = res.Error()
		}
		switch {
		case err == nil, errors.Is(err, kerr.GroupIDNotFound):
			return true, nil
		case errors.Is(err, kerr.NonEmptyGroup):
			return false, nil
		}
		return false, err
	})
	if errors.Is(err, wait.ErrDeadline) {
		err = kerr.NonEmptyGroup
	}
	if err != nil {
		return fail("delete", err)
	}
	return nil
}

// EndOffsets returns topic's end offset per partition as consume
// positions (kgo.ConsumePartitions): a reader that starts there reads what
// is appended from now on. Starting "after a time" instead races with an
// append to an empty partition: franz-go answers a by-time miss with the
// end offset of a later request, which can already be past the record.
func EndOffsets(ctx context.Context, brokers []string, topic string) (map[string]map[int32]kgo.Offset, error) {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ends, err := listEnds(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) { out[topic][o.Partition] = kgo.NewOffset().At(o.Offset) })
	return out, nil
}

// CommitEndOffsets commits topic's end offsets as group's, so that the
// group starts at what is appended from now on (see EndOffsets).
func CommitEndOffsets(ctx context.Context, brokers []string, group, topic string) error {
	adm, err := NewAdmin(brokers)
	if err != nil {
		return err
	}
	defer adm.Close()
	ends, err := listEnds(ctx, adm, topic)
	if err != nil {
		return err
	}
	if err := adm.CommitAllOffsets(ctx, group, ends.Offsets()); err != nil {
		return fmt.Errorf("stack: start group %s at the end of %s: %w", group, topic, cancelled(ctx, err))
	}
	return nil
}

// cancelled returns ctx's error when ctx ended, else err: kadm reports a
// request cut short by cancellation as the topic's own error
// (UNKNOWN_TOPIC_OR_PARTITION), which would read as a broken broker
// instead of an interrupted run.
func cancelled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// listEnds lists topic's end offsets on the caller's admin client.
func listEnds(ctx context.Context, adm *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("stack: end offsets of %s: %w", topic, cancelled(ctx, err))
	}
	return ends, nil
}
