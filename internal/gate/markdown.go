package gate

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteMarkdown writes the report as markdown: a heading with the verdict,
// what was gated, any warnings, and a table of every check. It is what the
// gate prints and what lands in a GitHub job summary.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	failed := len(r.Failed())
	var unconfirmed, skipped int
	for _, c := range r.Checks {
		switch c.Verdict {
		case Unconfirmed:
			unconfirmed++
		case Skipped:
			skipped++
		}
	}
	status := "PASS"
	if failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(bw, "## cdcbench gate: %s\n\n", status)
	runs := make([]string, len(r.Runs))
	for i, l := range r.Runs {
		runs[i] = "`" + l + "`"
	}
	fmt.Fprintf(bw, "Rules `%s` (alpha %g) on %s of %s: %s.\n", r.File, r.Alpha, plural(len(r.Runs), "run"), r.Scenario, strings.Join(runs, ", "))
	if r.Baseline != "" {
		fmt.Fprintf(bw, "Baseline `%s`: %s.\n", r.Baseline, plural(r.BaselineRuns, "run"))
	} else {
		fmt.Fprintln(bw, "No baseline: relative rules are skipped.")
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(bw, "\n> **Warning:** %s\n", cell(warn))
	}
	fmt.Fprintln(bw, "\n| line | rule | target | observed | limit | p | verdict |")
	fmt.Fprintln(bw, "| ---: | --- | --- | ---: | --- | ---: | --- |")
	for _, c := range r.Checks {
		line, rule := fmt.Sprint(c.Rule.Line), "`"+c.Rule.Text+"`"
		if c.Rule.Implied {
			line, rule = "", rule+" (implied)"
		}
		p := ""
		if !math.IsNaN(c.P) {
			p = fmt.Sprintf("%.3f (n=%d+%d)", c.P, c.N1, c.N2)
		}
		verdict := c.Verdict.String()
		if c.Verdict == Fail {
			verdict = "**FAIL**"
		}
		switch {
		case strings.HasPrefix(c.Note, "("):
			verdict += " " + c.Note
		case c.Note != "":
			verdict += ": " + c.Note
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s |\n", line, cell(rule), cell(c.Target), cell(c.Observed), cell(c.Limit), p, cell(verdict))
	}
	fmt.Fprintf(bw, "\n%s: %d failed", plural(len(r.Checks), "check"), failed)
	if unconfirmed > 0 {
		fmt.Fprintf(bw, ", %d unconfirmed", unconfirmed)
	}
	if skipped > 0 {
		fmt.Fprintf(bw, ", %d skipped", skipped)
	}
	fmt.Fprintln(bw, ".")
	return bw.Flush()
}

// cell escapes what would break a markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
