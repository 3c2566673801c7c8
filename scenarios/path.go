package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Path kinds: how change events reach the agents.
const (
	PathCDC  = "cdc"  // logical replication → Kafka → agents
	PathPoll = "poll" // agents query the table every Interval
)

// MinPollInterval is the shortest polling interval accepted. Below it the
// poller would spin on the database, measuring its own load rather than
// the path.
const MinPollInterval = time.Millisecond

// ErrPath reports a path name that is neither "cdc" nor "poll-<interval>".
var ErrPath = errors.New(`want "cdc" or "poll-<interval>" such as "poll-100ms"`)

// Path is a parsed path name.
type Path struct {
	Kind     string        // PathCDC or PathPoll
	Interval time.Duration // between polls; 0 for PathCDC
}

// ParsePath parses "cdc" or "poll-<Go duration>" (interval at least
// MinPollInterval).
func ParsePath(name string) (Path, error) {
	if name == PathCDC {
		return Path{Kind: PathCDC}, nil
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
