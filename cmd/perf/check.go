package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// check is one figure held against its target. Every figure perf prints
// comes with the target it is judged by and the ratio the judgement rests
// on, so a reader sees how far from the line it is, not only which side.
type check struct {
	section string // "1 hot path", ...
	name    string
	figure  string // the measured figure with its unit
	target  string // as the issue states it
	// ratio is the figure relative to its reference: a PostgreSQL tool's
	// figure measured in the same run, or the target's limit. ratioOf names
	// the reference ("psql", "limit"). NaN when there is none.
	ratio   float64
	ratioOf string
	met     bool
	info    bool   // shown for context, not judged
	why     string // what stands in the way, when not met and known
}

func (c check) status() string {
	switch {
	case c.info:
		return "info"
	case c.met:
		return "met"
	default:
		return "NOT MET"
	}
}

func (c check) ratioText() string {
	if math.IsNaN(c.ratio) {
		return "-"
	}
	return fmt.Sprintf("%.2f × %s", c.ratio, c.ratioOf)
}

// atLeast judges a figure that must reach limit; the ratio is figure/limit.
func atLeast(section, name string, v, limit float64, unit string) check {
	return check{section: section, name: name, figure: num(v) + " " + unit, target: "≥ " + num(limit) + " " + unit,
		ratio: v / limit, ratioOf: "limit", met: v >= limit}
}

// below judges a figure that must stay under limit; the ratio is
// figure/limit.
func below(section, name string, v, limit float64, unit string) check {
	return check{section: section, name: name, figure: num(v) + " " + unit, target: "< " + num(limit) + " " + unit,
		ratio: v / limit, ratioOf: "limit", met: v < limit}
}

// paired judges ours against theirs, measured in pairs that ran back to
// back in this run: the ratio is the median of the pairs' ratios, which must
// reach least. On a shared machine another process's load hits both runs of a
// pair alike, so the paired ratio is steadier than a ratio of medians; the
// figure shows both tools' medians.
func paired(section, name string, ours, theirs []float64, unit, theirName string, least float64) check {
	ratios := make([]float64, min(len(ours), len(theirs)))
	for i := range ratios {
		ratios[i] = ours[i] / theirs[i]
	}
	r := median(ratios)
	return check{section: section, name: name,
		figure: num(median(ours)) + " " + unit + " (" + theirName + " " + num(median(theirs)) + ")",
		target: fmt.Sprintf("≥ %.0f%% of %s", least*100, theirName), ratio: r, ratioOf: theirName, met: r >= least}
}

// info is a figure shown for context, without a target.
func infoCheck(section, name, figure string) check {
	return check{section: section, name: name, figure: figure, target: "-", ratio: math.NaN(), info: true}
}

// failed records a measurement that could not be made: a target without a
// figure is not met.
func failed(section, name, target string, err error) check {
	return check{section: section, name: name, figure: "no figure", target: target, ratio: math.NaN(), why: err.Error()}
}

// num formats a figure with thousands separators and a precision that fits
// its size.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, d := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(d)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// printCheck prints one judged figure as it is measured.
func printCheck(w io.Writer, c check) {
	fmt.Fprintf(w, "  => %s: %s; target %s; ratio %s: %s\n", c.name, c.figure, c.target, c.ratioText(), c.status())
	if c.why != "" {
		fmt.Fprintf(w, "     %s\n", c.why)
	}
}

// printTable prints the final table and returns how many targets were not
// met.
func printTable(w io.Writer, checks []check) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "section\tmeasure\tfigure\ttarget\tratio\tstatus")
	missed := 0
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.section, c.name, c.figure, c.target, c.ratioText(), c.status())
		if !c.info && !c.met {
			missed++
		}
	}
	_ = tw.Flush()
	for _, c := range checks {
		if !c.info && !c.met && c.why != "" {
			fmt.Fprintf(w, "NOT MET %s: %s\n", c.name, c.why)
		}
	}
	return missed
}
