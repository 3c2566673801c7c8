package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// The documented command lines are tests: every line of a README's (or a
// docs/ page's) code blocks that runs cdcbench, make or go run, every
// `cdcbench ...` and `make ...` written inline, the examples of every
// command's help and the Makefile's help texts. A command line that a user
// copies must work as written.

const repoRoot = "../.."

// example is one documented command line.
type example struct {
	where string // file:line
	text  string
	// inline: a synopsis in running text or a table, with placeholders
	// (NAME, DIR..., [flags]): only its command and flag names are checked.
	inline bool
}

// docsDir holds the pages the READMEs link to that belong to no package
// (docs/findings.md): they are documentation as the READMEs are, and
// their command lines are tested the same way.
const docsDir = "docs"

// markdownPages lists the repository's documentation: every README.md and
// every markdown file under docs/ (testdata holds none of ours). Reports
// that make report writes (REPORT.md, wherever -o puts one) are output,
// not documentation, and are left out.
func markdownPages(t *testing.T) []string {
	t.Helper()
	var out []string
	docs := filepath.Join(repoRoot, docsDir)
	err := filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "results" || strings.HasPrefix(d.Name(), ".")) && p != repoRoot {
			return filepath.SkipDir
		}
		inDocs := strings.HasPrefix(p, docs+string(filepath.Separator))
		if !d.IsDir() && (d.Name() == "README.md" || inDocs && strings.HasSuffix(d.Name(), ".md")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil || len(out) < 5 {
		t.Fatalf("markdown pages: %v, %v", out, err)
	}
	return out
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	envPrefix  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)+`)
)

// commandOf returns the part of s that is a command line this test checks,
// without environment assignments ahead of it, or "".
func commandOf(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "$ "))
	s = envPrefix.ReplaceAllString(s, "")
	for _, p := range []string{"cdcbench ", "bin/cdcbench ", "./bin/cdcbench ", "make ", "go run "} {
		if strings.HasPrefix(s, p) {
			return s
		}
	}
	if s == "cdcbench" || s == "bin/cdcbench" || s == "make" {
		return s
	}
	return ""
}

// shellSegments splits a shell line into its commands: at |, ||, &&, &
// and ; outside quotes, and up to a comment (a # that starts a word
// outside quotes).
func shellSegments(line string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return append(out, line[start:i])
		case c == '|' || c == ';' || c == '&':
			out = append(out, line[start:i])
			if i+1 < len(line) && (line[i+1] == '|' || line[i+1] == '&') {
				i++
			}
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// words splits a command line into words as a shell would, without
// expansion: quotes group, backslash-escaped | (markdown tables) is |.
func words(s string) []string {
	s = strings.ReplaceAll(s, `\|`, "|")
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// mdLine is a line of a markdown page: its number, its text, and whether it
// lies inside a fenced code block (the fences themselves are left out).
type mdLine struct {
	n    int // 1-based
	text string
	code bool
}

// markdownLines reads a markdown page line by line.
func markdownLines(t *testing.T, file string) []mdLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []mdLine
	inBlock := false
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		out = append(out, mdLine{n: i + 1, text: line, code: inBlock})
	}
	return out
}

// markdownExamples extracts the command lines of one markdown file.
func markdownExamples(t *testing.T, file string) []example {
	t.Helper()
	rel, _ := filepath.Rel(repoRoot, file)
	var out []example
	var cont strings.Builder
	contLine := 0
	for _, l := range markdownLines(t, file) {
		n, line := l.n, l.text
		if !l.code {
			for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
				if c := commandOf(m[1]); c != "" {
					out = append(out, example{where: fmt.Sprintf("%s:%d", rel, n), text: c, inline: true})
				}
			}
			continue
		}
		if cont.Len() == 0 {
			contLine = n
		}
		if strings.HasSuffix(line, `\`) {
			cont.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cont.WriteString(line)
		full := cont.String()
		cont.Reset()
		for _, seg := range shellSegments(full) {
			if c := commandOf(seg); c != "" {
				out = append(out, example{where: fmt.Sprintf("%s:%d", rel, contLine), text: c})
			}
		}
	}
	return out
}

// helpExamples are the example lines of every command's help.
func helpExamples() []example {
	var out []example
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, line := range strings.Split(c.Description, "\n") {
				if !strings.HasPrefix(line, "  ") {
					continue // prose; the examples are indented
				}
				for _, seg := range shellSegments(line) {
					if cmd := commandOf(seg); strings.HasPrefix(cmd, "cdcbench ") {
						out = append(out, example{where: "help of " + prefix + c.Name, text: cmd})
					}
				}
			}
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	app := newApp()
	walk("", append([]*cli.Command{{Name: "cdcbench", Description: app.Description}}, app.Commands...))
	return out
}

// makefile holds the Makefile's targets and variables.
type makefile struct {
	targets, vars map[string]bool
	help          []example // the make command lines of its ## help texts
}

func readMakefile(t *testing.T) makefile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mf := makefile{targets: map[string]bool{}, vars: map[string]bool{}}
	target := regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9_-]*):`)
	variable := regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)\s*[?:]?=`)
	helpMake := regexp.MustCompile(`make [a-z][^;,()\[]*`)
	for i, line := range strings.Split(string(b), "\n") {
		if m := target.FindStringSubmatch(line); m != nil {
			mf.targets[m[1]] = true
		}
		if m := variable.FindStringSubmatch(line); m != nil {
			mf.vars[m[1]] = true
		}
		if _, help, ok := strings.Cut(line, "## "); ok {
			for _, m := range helpMake.FindAllString(help, -1) {
				mf.help = append(mf.help, example{where: fmt.Sprintf("Makefile:%d", i+1), text: strings.TrimSpace(m), inline: true})
			}
		}
	}
	return mf
}

// parseOnly runs a command line with every action stubbed out: flags,
// arguments and each command's Before checks (scenario, overrides, the
// argument count) are checked, nothing runs.
func parseOnly(args []string) (int, string) {
	app := newApp()
	var stub func([]*cli.Command)
	stub = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Action != nil {
				c.Action = func(*cli.Context) error { return nil }
			}
			stub(c.Subcommands)
		}
	}
	stub(app.Commands)
	var stderr bytes.Buffer
	code := runApp(context.Background(), app, args, io.Discard, &stderr)
	return code, stderr.String()
}

// cheap says whether a cdcbench command line runs in well under a second
// on fixtures, so that the test runs it for real: everything but run, stack
// up, agent (which need a stack) and replay (which reads standard input);
// clean only as a dry run.
func cheap(w []string) bool {
	if len(w) < 2 {
		return true
	}
	switch w[1] {
	case "scenarios", "report", "gate", "compare", "version", "help":
		return true
	case "clean":
		return slices.Contains(w, "--dry-run")
	}
	return false
}

// placeholder is a word of a synopsis that stands for something: NAME,
// DIR..., [flags], A, "...".
func placeholder(w string) bool {
	w = strings.Trim(w, "[]().")
	return w == "" || strings.ToUpper(w) == w || strings.Contains(w, "|")
}

// TestDocumentedCommandLines checks every documented command line: cdcbench
// lines parse (commands, flags and arguments accepted), and the cheap ones
// run for real in a directory holding fixture runs under the names the
// pages use; synopses name only commands and flags that exist; make lines
// name targets and variables of the Makefile and make -n accepts them, and
// the cdcbench lines their recipes run parse too; go run names a package.
// Lines that need a stack (run, stack up, agent) or Docker are parse-checked
// only.
func TestDocumentedCommandLines(t *testing.T) {
	mf := readMakefile(t)
	var all []example
	for _, f := range markdownPages(t) {
		all = append(all, markdownExamples(t, f)...)
	}
	all = append(all, helpExamples()...)
	all = append(all, mf.help...)
	if len(all) < 40 {
		t.Fatalf("found only %d documented command lines", len(all))
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	work := fixtureDir(t, root, all)
	for _, ex := range all {
		t.Run(ex.where+" "+ex.text, func(t *testing.T) {
			w := words(ex.text)
			switch {
			case w[0] == "make":
				checkMake(t, root, work, mf, ex, w)
			case w[0] == "go":
				if len(w) < 3 || !isPackage(filepath.Join(root, w[2])) {
					t.Errorf("%s: `%s`: %s is not a package of the repository", ex.where, ex.text, w[2])
				}
			case ex.inline:
				checkSynopsis(t, ex, w)
			default:
				checkCdcbench(t, work, ex, w)
			}
		})
	}
}

func isPackage(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(m) > 0
}

// checkSynopsis checks the command and the flag names of a synopsis.
func checkSynopsis(t *testing.T, ex example, w []string) {
	t.Helper()
	args := []string{"cdcbench"}
	for _, x := range w[1:] {
		if placeholder(x) || strings.HasPrefix(strings.TrimLeft(x, "["), "-") {
			break
		}
		args = append(args, x)
	}
	inv, err := resolve(newApp(), args)
	if err != nil {
		t.Fatalf("%s: `%s`: %v", ex.where, ex.text, err)
	}
	var flags []cli.Flag
	if leaf := inv.leaf(); leaf != nil {
		flags = leaf.Flags
	}
	for _, x := range w[1:] {
		x = strings.Trim(x, "[]")
		if !strings.HasPrefix(x, "-") || x == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(x, "-"), "=")
		if name == "h" || name == "help" {
			continue
		}
		if !slices.ContainsFunc(flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) }) {
			t.Errorf("%s: `%s`: cdcbench %s has no flag --%s", ex.where, ex.text, inv.name(), name)
		}
	}
}

// checkCdcbench parses a cdcbench line and runs it when it is cheap.
func checkCdcbench(t *testing.T, work string, ex example, w []string) {
	t.Helper()
	args := append([]string{"cdcbench"}, w[1:]...)
	// The lines are typed in the repository's top directory, where the
	// files they name (agents/python/agents.yaml) are.
	t.Chdir(repoRoot)
	if code, stderr := parseOnly(args); code != exitOK {
		t.Fatalf("%s: `%s` does not parse (exit %d):\n%s", ex.where, ex.text, code, stderr)
	}
	if !cheap(args) {
		return
	}
	t.Chdir(work)
	var expanded []string
	for _, a := range args {
		if m, _ := filepath.Glob(strings.TrimSuffix(a, "/")); strings.ContainsAny(a, "*?[") && len(m) > 0 {
			expanded = append(expanded, m...)
		} else {
			expanded = append(expanded, a)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), expanded, &stdout, &stderr)
	// 1 is an outcome (the fixture runs break a gate rule): the line ran.
	if code != exitOK && code != exitFailed {
		t.Errorf("%s: `%s` exit %d:\n%s%s", ex.where, ex.text, code, stderr.String(), stdout.String())
	}
}

// checkMake checks a make line against the Makefile and make -n.
func checkMake(t *testing.T, root, work string, mf makefile, ex example, w []string) {
	t.Helper()
	var targets []string
	for _, x := range w[1:] {
		if placeholder(x) {
			break
		}
		if name, _, ok := strings.Cut(x, "="); ok {
			if !mf.vars[name] {
				t.Errorf("%s: `%s`: the Makefile has no variable %s", ex.where, ex.text, name)
			}
			continue
		}
		if !mf.targets[x] {
			t.Errorf("%s: `%s`: the Makefile has no target %s", ex.where, ex.text, x)
		}
		targets = append(targets, x)
	}
	if ex.inline || t.Failed() {
		return
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	var vars []string
	for _, x := range w[1:] {
		if strings.Contains(x, "=") {
			vars = append(vars, x)
		}
	}
	// From the fixture directory, so that the recipes see runs under
	// results/ as after a `make bench`.
	cmd := exec.Command("make", append(append([]string{"-s", "-n", "-f", filepath.Join(root, "Makefile")}, vars...), targets...)...)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: `%s`: make -n: %v\n%s", ex.where, ex.text, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "bin/cdcbench ") {
			continue
		}
		if code, stderr := parseOnly(append([]string{"cdcbench"}, words(line)[1:]...)); code != exitOK {
			t.Errorf("%s: `%s` runs `%s`, which does not parse (exit %d):\n%s", ex.where, ex.text, line, code, stderr)
		}
	}
}

// fixtureDir is a working directory for the cheap lines: every results/...
// path the examples name holds a copy of the smoke fixture run (a glob, one
// matching directory), and gates/ holds ci.yaml and a baseline recorded
// from the fixture.
func fixtureDir(t *testing.T, root string, all []example) string {
	t.Helper()
	work := t.TempDir()
	fixture := filepath.Join(root, "reports", "testdata", "smoke")
	copyRun := func(dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"result.json", "latency.hlog"} {
			b, err := os.ReadFile(filepath.Join(fixture, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ex := range all {
		for _, x := range words(ex.text) {
			if !strings.HasPrefix(x, "results/") || placeholder(strings.TrimPrefix(x, "results/")) {
				continue
			}
			name := strings.TrimSuffix(strings.ReplaceAll(x, "*", "0"), "/")
			if strings.Count(name, "/") == 1 && !strings.HasSuffix(name, ".json") {
				copyRun(filepath.Join(work, name))
			}
		}
	}
	copyRun(filepath.Join(work, "results", "smoke-00000000T000000Z"))
	// The reference Python agents' file list and requirements, which
	// `run --agent-commands` and `make python-agents` read.
	if err := os.MkdirAll(filepath.Join(work, "agents", "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"agents.yaml", "requirements.txt"} {
		b, err := os.ReadFile(filepath.Join(root, "agents", "python", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "agents", "python", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "gates"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "gates", "ci.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "gates", "ci.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	runs, _ := filepath.Glob(filepath.Join(work, "results", "smoke-*"))
	var stderr bytes.Buffer
	args := append([]string{"cdcbench", "gate", "--record-baseline", filepath.Join(work, "gates", "baseline-smoke.json")}, runs...)
	if code := run(context.Background(), args, io.Discard, &stderr); code != exitOK {
		t.Fatalf("baseline of the fixture: %s", stderr.String())
	}
	return work
}

// readmeAfter is README.md after marker, which it must hold.
func readmeAfter(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	return after
}

// TestReadmeExitCodes: README.md's exit code table is exit.go's.
func TestReadmeExitCodes(t *testing.T) {
	table := readmeAfter(t, "## Exit codes\n")
	for _, e := range exitCodes {
		row := fmt.Sprintf("| %d | %s |", e.code, e.meaning)
		if !strings.Contains(table, row) {
			t.Errorf("README.md's exit codes lack the row\n%s", row)
		}
	}
}

// TestGitignore: what the READMEs call not committed is ignored.
func TestGitignore(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "-C", repoRoot, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skip("not a git work tree")
	}
	for _, p := range []string{"gates/baseline-smoke.json", "results/smoke-20261126T082554Z/result.json", "REPORT.md", "REPORT.files/e2e.svg", "smoke.files/e2e.svg", "bin/cdcbench"} {
		if err := exec.Command("git", "-C", repoRoot, "check-ignore", "-q", p).Run(); err != nil {
			t.Errorf("%s is not ignored (git check-ignore: %v)", p, err)
		}
	}
}

// TestReadmeSmokeExample: README.md's smoke table is what a run prints
// today: the summary's columns, and the rows and target rate the seeded
// schedule offers in the measured window (the latencies are the machine's).
// It printed 6000 rows at 1000 rows/s while runs printed 5650 at 980.
func TestReadmeSmokeExample(t *testing.T) {
	_, table, _ := strings.Cut(readmeAfter(t, "bin/cdcbench run --scenario smoke`"), "```\n")
	table, _, _ = strings.Cut(table, "```")
	lines := strings.Split(strings.TrimSpace(table), "\n")

	// The header is the summary's.
	res, err := result.Read(filepath.Join(repoRoot, "reports", "testdata", "smoke"))
	if err != nil {
		t.Fatal(err)
	}
	var summary strings.Builder
	if err := reports.WriteSummary(&summary, res); err != nil {
		t.Fatal(err)
	}
	header := strings.Join(strings.Fields(lines[0]), " ")
	if !strings.Contains(summary.String(), strings.TrimSpace(lines[0])) && !slices.ContainsFunc(strings.Split(summary.String(), "\n"), func(l string) bool {
		return strings.Join(strings.Fields(l), " ") == header
	}) {
		t.Errorf("README's header\n%s\nis not the summary's:\n%s", lines[0], summary.String())
	}

	spec, err := scenarios.Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	arr := schedule.NewArrivals(spec.Schedule(), spec.Rate.Arrivals == scenarios.ArrivalsPoisson, spec.Seed)
	from, to := time.Duration(spec.Warmup), time.Duration(spec.Warmup+spec.Duration)
	// The target rate is of the measured window; events are counted, and
	// expected, over the whole schedule, the warm-up included.
	all, window := 0, 0
	for at, ok := arr.Next(); ok; at, ok = arr.Next() {
		all++
		if at >= from && at < to {
			window++
		}
	}
	rows := all * spec.BatchSize
	target := fmt.Sprintf("%.0f", float64(window*spec.BatchSize)/time.Duration(spec.Duration).Seconds())
	if len(lines) < 2 {
		t.Fatalf("no rows under the header:\n%s", table)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 6 || f[2] != target || f[5] != fmt.Sprint(rows) {
			t.Errorf("README row %q: want target %s rows/s and %d rows, as the smoke schedule offers", l, target, rows)
		}
	}
}

// TestReadmeSmallestAgent: the agent README.md shows under "Your own
// agents" is bench/testdata/plain_agent.py, the one
// TestAgentCommandWithoutSignalHandling runs, byte for byte.
func TestReadmeSmallestAgent(t *testing.T) {
	_, block, _ := strings.Cut(readmeAfter(t, "### Your own agents"), "```python\n")
	block, _, ok := strings.Cut(block, "```")
	if !ok {
		t.Fatal("README.md's \"Your own agents\" has no python block")
	}
	want, err := os.ReadFile(filepath.Join(repoRoot, "bench", "testdata", "plain_agent.py"))
	if err != nil {
		t.Fatal(err)
	}
	if block != string(want) {
		t.Errorf("README.md's agent differs from bench/testdata/plain_agent.py:\n%s", block)
	}
}
