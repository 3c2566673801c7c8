package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Path kinds: how change events reach the agents.
const (
	// PathCDC is logical replication → Kafka → agents through the stack's
	// CDC implementation (--cdc): the built-in relay unless told otherwise.
	PathCDC = "cdc"
	// PathDebezium is logical replication → Kafka → agents through
	// Debezium's PostgreSQL connector in Kafka Connect, beside PathCDC, so
	// that one run compares the relay with the real thing.
	PathDebezium = "debezium"
	PathPoll     = "poll" // agents query the table every Interval
)

// MinPollInterval is the shortest polling interval accepted. Below it the
// poller would spin on the database, measuring its own load rather than
// the path.
const MinPollInterval = time.Millisecond

// ErrPath reports a path name that is not "cdc", "debezium" or
// "poll-<interval>".
var ErrPath = errors.New(`want "cdc", "debezium" or "poll-<interval>" such as "poll-100ms"`)

// Path is a parsed path name.
type Path struct {
	Kind     string        // PathCDC, PathDebezium or PathPoll
	Interval time.Duration // between polls; 0 for the CDC kinds
}

// ParsePath parses "cdc", "debezium" or "poll-<Go duration>" (interval at least
// MinPollInterval).
func ParsePath(name string) (Path, error) {
	if name == PathCDC || name == PathDebezium {
		return Path{Kind: name}, nil
	}
	rest, ok := strings.CutPrefix(name, PathPoll+"-")
	if !ok {
		return Path{}, fmt.Errorf("%w, got %q", ErrPath, name)
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return Path{}, fmt.Errorf("%w, got %q", ErrPath, name)
	}
	if d < MinPollInterval {
		return Path{}, fmt.Errorf("%w, got %q: the interval must be at least %v", ErrPath, name, MinPollInterval)
	}
	return Path{Kind: PathPoll, Interval: d}, nil
}

// String returns the canonical name: "cdc" or "poll-100ms".
func (p Path) String() string {
	if p.Kind == PathPoll {
		return PathPoll + "-" + Duration(p.Interval).String()
	}
	return p.Kind
}

// ParsedPaths returns s.Paths parsed, in order.
func (s Spec) ParsedPaths() ([]Path, error) {
	out := make([]Path, len(s.Paths))
	for i, name := range s.Paths {
		p, err := ParsePath(name)
		if err != nil {
			return nil, fmt.Errorf("scenarios: paths[%d]: %w", i, err)
		}
		out[i] = p
	}
	return out, nil
}
