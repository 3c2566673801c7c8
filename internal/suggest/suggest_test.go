package suggest

import "testing"

func TestClosest(t *testing.T) {
	t.Parallel()
	settings := []string{"poll.interval.ms", "max.batch.size", "max.queue.size"}
	commands := []string{"run", "scenarios", "show", "help", "h", "stack", "up"}
	for _, tc := range []struct {
		in    string
		names []string
		want  string
	}{
		{"poll.interval.ms", settings, "poll.interval.ms"},
		{"pol.interval.ms", settings, "poll.interval.ms"},
		{"poll.intreval.ms", settings, "poll.interval.ms"}, // a swapped pair is 2 edits
		{"max.batch.sizes", settings, "max.batch.size"},
		{"max.queue", settings, ""}, // 5 edits away: no guess rather than a wild one
		{"", settings, ""},
		{"rn", commands, "run"},
		{"shwo", commands, "show"},
		{"x", commands, ""},  // one edit from "h", but nothing of it kept
		{"ab", commands, ""}, // two edits from "h" and from "up"
		{"down", commands, ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Closest(tc.in, tc.names); got != tc.want {
				t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"ab", "ba", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
