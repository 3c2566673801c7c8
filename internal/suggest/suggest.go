// Package suggest finds the name a user probably meant, so that every
// "unknown field" and "unknown setting" in cdcbench can end in "did you
// mean ...?" by the same rule.
package suggest

// Closest returns the candidate within edit distance 2 of name (a typo, a
// swapped pair), or "". Fewer edits than name has characters, too: "x" is
// one edit from the alias "h", but nothing of it is kept, so it is no
// typo of it ("rn" is one of "run").
func Closest(name string, candidates []string) string {
	best, bestD := "", min(3, len(name))
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
