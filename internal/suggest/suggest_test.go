package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"poll.interval.ms", "max.batch.size", "max.queue.size"}
	for _, tc := range []struct{ in, want string }{
		{"poll.interval.ms", "poll.interval.ms"},
		{"pol.interval.ms", "poll.interval.ms"},
		{"poll.intreval.ms", "poll.interval.ms"}, // a swapped pair is 2 edits
		{"max.batch.sizes", "max.batch.size"},
		{"max.queue", ""}, // 5 edits away: no guess rather than a wild one
		{"", ""},
	} {
		if got := Closest(tc.in, names); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
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
