package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/dashboard"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// dashboardFlags turn on the live page. A bool and an address flag rather
// than one flag with an optional value: urfave/cli has no optional
// values, so "--dashboard ADDR" would take the next word of the command
// line for the address whenever it was meant alone.
func dashboardFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "dashboard", Usage: "serve a live page of the run (latency per path and agent, rates, backlog, each second) at --dashboard-addr, with a link to the report when the run ends"},
		&cli.StringFlag{Name: "dashboard-addr", Value: dashboard.DefaultAddr, Usage: "host:port of the live page (implies --dashboard; port 0: any free port)"},
	}
}

// dashboardLinger is how long the page is still served once the runs
// ended: a browser polling every second has shown the end and the report's
// link by then, and someone who looked away has a minute to follow it,
// while a script that passed --dashboard is not held up for long. Ctrl-C
// ends it at once; the report stays in the result directory.
const dashboardLinger = time.Minute

// wantsDashboard reports whether the command line asks for the page.
func wantsDashboard(c *cli.Context) bool {
	return c.Bool("dashboard") || c.IsSet("dashboard-addr")
}

// checkDashboardAddr refuses an address that is no host:port before
// anything starts; a port already taken is found when the page starts
// listening, still before the stack starts.
func checkDashboardAddr(c *cli.Context) error {
	if !wantsDashboard(c) {
		return nil
	}
	if err := dashboard.CheckAddr(c.String("dashboard-addr")); err != nil {
		return fmt.Errorf("--dashboard-addr: %w", err)
	}
	return nil
}

// startDashboard starts the page when asked (nil otherwise) and says where
// it is.
func startDashboard(c *cli.Context) (*dashboard.Server, error) {
	if !wantsDashboard(c) {
		return nil, nil
	}
	d, err := dashboard.New(dashboard.Config{Addr: c.String("dashboard-addr")})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.App.ErrWriter, "dashboard: %s (while the run lasts and %v after it)\n", d.URL(), scenarios.Duration(dashboardLinger))
	return d, nil
}

// showReport writes the report of a finished run into its result
// directory, report.md and its charts in report.files/, and links it on
// the page; a report that cannot be written is said on warn and on the
// page, and the run goes on.
func showReport(d *dashboard.Server, warn io.Writer, dir string) {
	const name = "report.md"
	r := dashboard.Run{Dir: dir, Report: name}
	if err := reports.Write([]string{dir}, filepath.Join(dir, name)); err != nil {
		fmt.Fprintf(warn, "dashboard: no report for %s: %v\n", dir, err)
		r.Report, r.ReportError = "", err.Error()
	}
	d.Finished(r)
}

// closeDashboard ends the page after the runs, which returned runErr: it
// says so on the page, serves it dashboardLinger longer (or until ctx
// ends, on Ctrl-C), then stops. Runs that ended before an interrupt keep
// their own exit code.
func closeDashboard(ctx context.Context, d *dashboard.Server, log io.Writer, runErr error) error {
	d.End()
	interrupted := ctx.Err() != nil
	if !interrupted {
		fmt.Fprintf(log, "dashboard: the run ended; %s stays up for %v (Ctrl-C ends it now)\n", d.URL(), scenarios.Duration(dashboardLinger))
		t := time.NewTimer(dashboardLinger)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := d.Close(sctx); err != nil {
		fmt.Fprintf(log, "dashboard: %v\n", err)
	}
	if runErr != nil && !interrupted {
		return finishedRuns{runErr}
	}
	return runErr
}
