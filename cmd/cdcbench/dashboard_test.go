package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// screenshot saves a PNG of the live page, as the browser shows it while
// the run's second path runs, to this file: docs/dashboard.png is made by
//
//	go test ./cmd/cdcbench -run TestDashboardInBrowser -screenshot ../../docs/dashboard.png
var screenshot = flag.String("screenshot", "", "TestDashboardInBrowser: save a PNG of the live page during the run to this file")

// TestDashboardInBrowser runs a short embedded run with --dashboard and
// reads its page in a real headless Chromium: every series of both paths
// appears and grows from one read to the next, the charts are drawn, the
// report's link appears when the run ends and leads to the report, and
// Ctrl-C ends the page's grace period with the run's own exit code. The
// page's CPU, with the browser polling it every second, is in the machine
// cost.
func TestDashboardInBrowser(t *testing.T) {
	testtier.Integration(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium on PATH (%v): scripts/ensure-chromium.sh installs Debian's", err)
	}
	results := t.TempDir()
	p := startCdcbench(t, []string{"TMPDIR=" + serverTempDir(t)}, "run", "--scenario", "smoke", "--duration", "6s",
		"--results", results, "--dashboard-addr", "127.0.0.1:0")
	urlRe := regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+/)`)
	var url string
	if !eventually(30*time.Second, func() bool {
		m := urlRe.FindStringSubmatch(p.stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil || p.exited()
	}) || url == "" {
		t.Fatalf("no dashboard URL on stderr:\n%s", p.stderr.String())
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.WindowSize(1400, 1000))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root otherwise
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	counts := func() map[string]int {
		c, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`window.cdcbench.counts()`))
		if err != nil {
			t.Fatalf("read the page: %v\nstderr:\n%s", err, p.stderr.String())
		}
		return c
	}
	// waitFor polls the page until cond holds of its counts.
	waitFor := func(what string, cond func(map[string]int) bool) map[string]int {
		var c map[string]int
		if !eventually(90*time.Second, func() bool { c = counts(); return cond(c) || p.exited() }) || !cond(c) {
			t.Fatalf("the page never showed %s: %v\nstderr:\n%s", what, c, p.stderr.String())
		}
		return c
	}
	lines := []string{"e2e p50 %s/outlier", "e2e p99 %s/outlier", "e2e p50 %s/velocity", "e2e p99 %s/velocity",
		"rows/s %s/target", "rows/s %s/committed", "backlog %s/outlier", "backlog %s/velocity"}
	for _, path := range []string{"cdc", "poll-100ms"} {
		first := waitFor(path+"'s series with 2 points each", func(c map[string]int) bool {
			for _, l := range lines {
				if c[strings.Replace(l, "%s", path, 1)] < 2 {
					return false
				}
			}
			return true
		})
		later := waitFor(path+"'s series growing", func(c map[string]int) bool {
			for _, l := range lines {
				if l := strings.Replace(l, "%s", path, 1); c[l] <= first[l] {
					return false
				}
			}
			return true
		})
		t.Logf("%s: points %v, then %v", path, first, later)
	}
	if charts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.cdcbench.charts()`)); err != nil || charts < 4 {
		t.Fatalf("%d charts drawn (%v), want 4: e2e p50, e2e p99, rows/s, backlog", charts, err)
	}
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The run ends within seconds of its last path's series: bounded
	// well inside the page's grace period.
	lctx, cancelLink := context.WithTimeout(ctx, 90*time.Second)
	defer cancelLink()
	if err := chromedp.Do(lctx, chromedp.WaitVisible(chromedp.CSS("#runs a.report"))); err != nil {
		t.Fatalf("no report link on the page: %v\nstderr:\n%s", err, p.stderr.String())
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#runs a.report"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(strings.TrimSuffix(url, "/")+href.Value), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
		t.Fatalf("report %s: %v", href.Value, err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	images, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.images].filter(i => i.complete && i.naturalWidth > 0).length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(title, "cdcbench report") || images == 0 {
		t.Errorf("report %s: title %q with %d charts shown, want a cdcbench report with its charts", href.Value, title, images)
	}

	// The page outlives the run for its grace period; Ctrl-C ends it with
	// the run's exit code.
	if !strings.Contains(p.stderr.String(), "dashboard: the run ended") || p.exited() {
		t.Fatalf("the report was linked before the run ended, or cdcbench did not wait:\n%s", p.stderr.String())
	}
	p.signal(t, syscall.SIGINT, false)
	p.waitExit(t, 10*time.Second)
	if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("exit %d after Ctrl-C in the grace period of a valid run, want 0\nstderr:\n%s", code, p.stderr.String())
	}

	for _, path := range onlyRun(t, results).Paths {
		var cost *result.ComponentCost
		for i, c := range path.MachineCost.Components {
			if c.Name == "dashboard" {
				cost = &path.MachineCost.Components[i]
			}
		}
		if cost == nil || cost.CPUSeconds == nil || *cost.CPUSeconds <= 0 {
			b, _ := json.Marshal(path.MachineCost)
			t.Fatalf("%s: no dashboard CPU in the machine cost with a browser attached: %s", path.Name, b)
		}
		t.Logf("%s: the page cost %.4f CPU s over the %.1f s window (%.3f%% of a core)", path.Name, *cost.CPUSeconds,
			path.MachineCost.Seconds, 100**cost.CPUSeconds/path.MachineCost.Seconds)
	}
}
