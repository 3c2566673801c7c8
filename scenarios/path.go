package scenarios

import (
	"errors"
	"fmt"
	"regexp"
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

// ErrPath reports a path name that is not "cdc", "debezium",
// "debezium-<label>" or "poll-<interval>".
var ErrPath = errors.New(`want "cdc", "debezium", "debezium-<label>" such as "debezium-tuned", or "poll-<interval>" such as "poll-100ms"`)

// label is what may follow "debezium-": a name for a second Debezium path
// with settings of its own, short enough for slot and connector names.
var label = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// Path is a parsed path name.
type Path struct {
	Kind     string        // PathCDC, PathDebezium or PathPoll
	Interval time.Duration // between polls; 0 for the CDC kinds
	// Label tells Debezium paths apart ("tuned" in "debezium-tuned"), so
	// that one run compares a connector's defaults with other settings.
	Label string
}

// ParsePath parses "cdc", "debezium", "debezium-<label>" (label 1-20 of
// [a-z0-9]) or "poll-<Go duration>" (interval at least MinPollInterval).
func ParsePath(name string) (Path, error) {
	if name == PathCDC || name == PathDebezium {
		return Path{Kind: name}, nil
	}
	if l, ok := strings.CutPrefix(name, PathDebezium+"-"); ok {
		if !label.MatchString(l) {
			return Path{}, fmt.Errorf("%w, got %q: a label is 1-20 of [a-z0-9]", ErrPath, name)
		}
		return Path{Kind: PathDebezium, Label: l}, nil
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

// String returns the canonical name: "cdc", "debezium-tuned" or "poll-100ms".
func (p Path) String() string {
	switch {
	case p.Kind == PathPoll:
		return PathPoll + "-" + Duration(p.Interval).String()
	case p.Label != "":
		return p.Kind + "-" + p.Label
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
