// Package spell writes values the way users write them in scenario files
// and path names, so that what cdcbench prints reads back as the same
// value: a scenario's durations and a polling path's interval share it.
package spell

import (
	"strings"
	"time"
)

// Duration writes d as Go's time.Duration does, without the zero units it
// trails: "2m", "1h", "1m30s", "250ms".
func Duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
