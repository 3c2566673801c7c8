package relay

import "testing"

// TestAckQueueOrder pins the delivery contract: an LSN is confirmed only
// when its transaction and every earlier one are fully acknowledged by Kafka.
func TestAckQueueOrder(t *testing.T) {
	t.Parallel()
	var q ackQueue
	t1 := q.begin()
	q.add(t1)
	q.add(t1)
	q.commit(t1, 100)
	t2 := q.begin()
	q.add(t2)
	q.commit(t2, 200)
	steps := []struct {
		name string
		do   func()
		want int64
	}{
		{"later transaction acked first", func() { q.done(t2) }, 0},
		{"earlier transaction half acked", func() { q.done(t1) }, 0},
		{"earlier transaction fully acked", func() { q.done(t1) }, 200},
		{"idle confirms the server's WAL end", func() { q.idle(300) }, 300},
		{"idle never moves back", func() { q.idle(250) }, 300},
	}
	for _, s := range steps {
		s.do()
		if got := q.confirmed.Load(); got != s.want {
			t.Fatalf("%s: confirmed %d, want %d", s.name, got, s.want)
		}
	}
	t3 := q.begin()
	q.add(t3)
	q.idle(400) // records in flight: the WAL end is not ours to confirm
	if got := q.confirmed.Load(); got != 300 {
		t.Fatalf("idle with a transaction in flight confirmed %d", got)
	}
	q.commit(t3, 500)
	q.done(t3)
	if got := q.confirmed.Load(); got != 500 {
		t.Fatalf("confirmed %d, want 500", got)
	}
}
