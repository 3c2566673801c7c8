package metrics

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestThreads samples this process's threads while one of them spins:
// the first sampling has no figure (no earlier ticks), the second, a
// second later, has the busiest thread's CPU within the machine's cores,
// and a per-name series only for names above the floor.
func TestThreads(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < 1e5; i++ {
				_ = i * i
			}
		}
	}()
	var got [][]Sample
	t0 := time.Now()
	s, err := New(Config{Processes: []Process{{Name: "self", PIDs: func() []int { return []int{os.Getpid()} }}}, Origin: t0,
		OnSample: func(_ time.Time, x []Sample) { got = append(got, x) }})
	if err != nil {
		t.Fatal(err)
	}
	s.sample(context.Background(), time.Now())
	time.Sleep(time.Second)
	s.sample(context.Background(), time.Now())
	if len(got) != 1 {
		t.Fatalf("OnSample called %d times, want once (none for the first sampling): %v", len(got), got)
	}
	for _, x := range got {
		busiest := -1.0
		for _, smp := range x {
			switch {
			case smp.Series == "self.busiest_thread_cores":
				busiest = smp.Value
			case !strings.HasPrefix(smp.Series, "self.thread_cores."):
				t.Errorf("unexpected series %s", smp.Series)
			case smp.Value < threadFloor:
				t.Errorf("%s = %g, under the floor %g", smp.Series, smp.Value, threadFloor)
			}
		}
		if busiest < 0 || busiest > float64(runtime.NumCPU())+0.5 {
			t.Errorf("busiest thread %g cores in %v", busiest, x)
		}
	}
}
