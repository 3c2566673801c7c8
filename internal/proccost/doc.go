// Package proccost measures what the processes of a pipeline cost the
// machine over a window, from /proc: each component's CPU seconds
// (utime+stime, in ticks of 1/100 s) and its peak resident memory (VmRSS,
// sampled, because VmHWM is a process's lifetime peak, not a window's).
// A component is a name and a function that lists its processes now, so
// that a component restarted mid-window (a fault kills a JVM, the server
// drops a connection) is followed to its new process and its CPU is summed
// across both, and a figure that misses part of the window says so. It is
// the machine-side companion of package dbcost, which measures what the
// server's own statistics say; proccost knows nothing of PostgreSQL or
// Kafka, so its tests run on the test process and its children.
package proccost
