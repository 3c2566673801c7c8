package dashboard

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuMeter adds up the CPU the page costs the cdcbench process, which
// /proc cannot split from the rest of it: the time of the OS thread that
// runs each call, read before and after it with the goroutine held on
// that thread. It counts what the calls do themselves (JSON, copies,
// writes to the socket), not the Go runtime's share around them (the
// network poller, garbage collection beyond the calls' own assists).
type cpuMeter struct{ ns atomic.Int64 }

// measure runs f and adds the thread CPU it took.
func (m *cpuMeter) measure(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadCPU()
	f()
	m.ns.Add(int64(threadCPU() - before))
}

func (m *cpuMeter) total() time.Duration { return time.Duration(m.ns.Load()) }

// measured wraps h so that every request's handler is measured.
func measured(m *cpuMeter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.measure(func() { h.ServeHTTP(w, r) })
	})
}

// threadCPU is the calling thread's user+system CPU so far (Linux's
// RUSAGE_THREAD, microsecond resolution); 0 where it cannot be read.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
