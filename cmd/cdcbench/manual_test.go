package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The documentation's pages link to one another by file and heading: a
// section moved to another page must not leave a link behind.

// proseLine is a line of a markdown page outside its code blocks.
type proseLine struct {
	n    int // 1-based
	text string
}

// proseLines reads a markdown page's lines outside fenced code blocks.
func proseLines(t *testing.T, file string) []proseLine {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []proseLine
	inBlock := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			out = append(out, proseLine{n: n, text: line})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return out
}

var heading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*$`)

// anchor is the id GitHub gives a heading: lower case, inline code and
// link syntax gone, punctuation but - and _ dropped, spaces as hyphens.
func anchor(text string) string {
	text = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the heading ids of a markdown page; a repeated heading gets
// -1, -2, ... as on GitHub.
func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range proseLines(t, file) {
		m := heading.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		id := anchor(m[2])
		if k := seen[id]; k > 0 {
			out[fmt.Sprintf("%s-%d", id, k)] = true
		} else {
			out[id] = true
		}
		seen[id]++
	}
	return out
}

// TestMarkdownLinks: every relative link of the documentation leads
// somewhere: the file or directory exists, and an anchor (#section) is a
// heading of the page it points into.
func TestMarkdownLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpan := regexp.MustCompile("`[^`]*`")
	for _, page := range markdownPages(t) {
		rel, _ := filepath.Rel(repoRoot, page)
		t.Run(rel, func(t *testing.T) {
			for _, l := range proseLines(t, page) {
				for _, m := range link.FindAllStringSubmatch(codeSpan.ReplaceAllString(l.text, ""), -1) {
					target := m[1]
					if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
						continue
					}
					file, id, _ := strings.Cut(target, "#")
					dest := page
					if file != "" {
						dest = filepath.Join(filepath.Dir(page), file)
						if _, err := os.Stat(dest); err != nil {
							t.Errorf("%s:%d: link to %s: %v", rel, l.n, target, err)
							continue
						}
					}
					if id == "" {
						continue
					}
					if !strings.HasSuffix(dest, ".md") {
						t.Errorf("%s:%d: link to %s: an anchor into a file that is not markdown", rel, l.n, target)
						continue
					}
					if !anchors(t, dest)[id] {
						t.Errorf("%s:%d: link to %s: %s has no heading #%s", rel, l.n, target, dest, id)
					}
				}
			}
		})
	}
}
