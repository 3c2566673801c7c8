package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/urfave/cli/v2"
)

// README.md is the command line's manual, one section per command as
// vegeta's README has; the documentation's pages link to one another by
// file and heading. These tests keep both true as the CLI and the pages
// change: a flag added without a word in the manual, a flag the manual
// keeps after the CLI dropped it, a section moved to another page that a
// link still points at.

// heading is a markdown heading: its #s and its text.
var heading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*$`)

// commandHeading is the heading of a command's section: ### `cdcbench stack up`.
var commandHeading = regexp.MustCompile("^### `cdcbench ([a-z][a-z -]*)`$")

// commandSections maps each command's name ("stack up") to its section of
// README.md: from its heading to the next heading of level 3 or higher,
// code blocks included (without their fences).
func commandSections(t *testing.T) map[string]string {
	t.Helper()
	sections := map[string]string{}
	var name string
	var sec strings.Builder
	flush := func() {
		if name != "" {
			sections[name] = sec.String()
		}
		name = ""
		sec.Reset()
	}
	for _, l := range markdownLines(t, filepath.Join(repoRoot, "README.md")) {
		if m := heading.FindStringSubmatch(l.text); !l.code && m != nil && len(m[1]) <= 3 {
			flush()
			if c := commandHeading.FindStringSubmatch(l.text); c != nil {
				name = c[1]
			}
			continue
		}
		if name != "" {
			sec.WriteString(l.text + "\n")
		}
	}
	flush()
	return sections
}

// tableFlags are the flags a section's tables list: the `--name` codes in
// the first cell of each row.
func tableFlags(section string) []string {
	var out []string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, ""), "|")
		if len(cells) < 2 {
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(cells[1], -1) {
			if f, ok := strings.CutPrefix(m[1], "--"); ok {
				name, _, _ := strings.Cut(f, " ")
				name, _, _ = strings.Cut(name, "=")
				out = append(out, name)
			}
		}
	}
	return out
}

// TestReadmeCommands: every command that does something (not a group such
// as `stack`) has its section in README.md, headed ### `cdcbench NAME`; the
// section names each of the command's flags, and its tables list no flag
// the command lacks.
func TestReadmeCommands(t *testing.T) {
	sections := commandSections(t)
	documented := map[string]bool{}
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			walk(name, c.Subcommands)
			if c.Action == nil || c.Name == "help" {
				continue
			}
			documented[name] = true
			t.Run(name, func(t *testing.T) {
				sec, ok := sections[name]
				if !ok {
					t.Fatalf("README.md has no section headed ### `cdcbench %s`", name)
				}
				for _, f := range c.Flags {
					n := f.Names()[0]
					if n == "help" {
						continue
					}
					mention := regexp.MustCompile(`(^|[^\w-])--` + regexp.QuoteMeta(n) + `($|[^\w-])`)
					if !mention.MatchString(sec) {
						t.Errorf("README.md's section on cdcbench %s does not mention --%s", name, n)
					}
				}
				for _, n := range tableFlags(sec) {
					if !slices.ContainsFunc(c.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), n) }) {
						t.Errorf("README.md's section on cdcbench %s lists --%s, which cdcbench %s does not take", name, n, name)
					}
				}
			})
		}
	}
	walk("", newApp().Commands)
	for name := range sections {
		if !documented[name] {
			t.Errorf("README.md has a section on cdcbench %s, which is no command", name)
		}
	}
}

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
	for _, l := range markdownLines(t, file) {
		m := heading.FindStringSubmatch(l.text)
		if l.code || m == nil {
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
			for _, l := range markdownLines(t, page) {
				if l.code {
					continue
				}
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
