// The live page: polls /data every second for the points it has not seen
// and redraws one uPlot chart per series name, a line per path and label.
"use strict";
(() => {
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  const state = { since: 0, defs: new Map(), data: new Map(), charts: new Map(), ended: false, failures: 0, runs: 0 };

  const first = ["e2e p99", "e2e p50", "rows/s", "backlog"];
  const lineName = (d) => [d.path, d.label].filter(Boolean).join("/") || d.series;
  const byId = (id) => document.getElementById(id);

  // chartData aligns the lines of one chart on the union of their times
  // (seconds since the epoch), null where a line has no point. The lines of
  // one path share their times, and paths run one after another, so a null
  // inside a line is a gap between its runs (--repeat, a sweep's cells),
  // which the chart leaves open.
  function chartData(ids) {
    const xs = new Set();
    for (const id of ids) for (const x of state.data.get(id).xs) xs.add(x);
    const x = [...xs].sort((a, b) => a - b);
    const index = new Map(x.map((v, i) => [v, i]));
    const out = [x];
    for (const id of ids) {
      const d = state.data.get(id);
      const y = new Array(x.length).fill(null);
      d.xs.forEach((t, i) => { y[index.get(t)] = d.ys[i]; });
      out.push(y);
    }
    return out;
  }

  function render() {
    const groups = new Map();
    for (const [id, d] of state.defs) {
      if (!state.data.has(id)) continue;
      const g = groups.get(d.series) || [];
      g.push(id);
      groups.set(d.series, g);
    }
    // Latency first, then what explains it; other series (a sampler's) in
    // the order they arrived.
    const rank = (name) => { const i = first.indexOf(name); return i < 0 ? first.length : i; };
    const names = [...groups.keys()].sort((a, b) => rank(a) - rank(b));
    for (const series of names) {
      const ids = groups.get(series).sort((a, b) => a - b);
      const data = chartData(ids);
      let c = state.charts.get(series);
      if (c && c.ids.length !== ids.length) {
        c.plot.destroy();
        c.el.remove();
        c = null;
      }
      if (!c) {
        const unit = state.defs.get(ids[0]).unit || "";
        const el = document.createElement("div");
        el.className = "chart";
        el.dataset.series = series;
        el.innerHTML = "<h2></h2>";
        el.querySelector("h2").textContent = unit ? `${series} (${unit})` : series;
        const next = [...byId("charts").children].find((c) => rank(c.dataset.series) > rank(series));
        byId("charts").insertBefore(el, next || null);
        const opts = {
          width: Math.max(el.clientWidth, 520), height: 220,
          series: [{}].concat(ids.map((id, i) => ({
            label: lineName(state.defs.get(id)), stroke: palette[i % palette.length], spanGaps: false, width: 1.5,
          }))),
          axes: [{}, { label: unit, size: 60 }],
        };
        c = { ids, el, plot: new uPlot(opts, data, el) };
        state.charts.set(series, c);
      } else {
        c.plot.setData(data);
      }
    }
    renderCounts();
  }

  function renderCounts() {
    const rows = [];
    for (const [id, d] of state.defs) {
      const n = state.data.has(id) ? state.data.get(id).xs.length : 0;
      rows.push(`<tr><td>${esc(d.series)}</td><td>${esc(lineName(d))}</td><td>${n}</td></tr>`);
    }
    byId("counts").innerHTML = rows.join("");
  }

  const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);

  // renderRuns lists the finished runs, redrawn only when one is added
  // (a link redrawn under the pointer would not take a click).
  function renderRuns(runs) {
    if (runs.length === state.runs) return;
    state.runs = runs.length;
    byId("runs").innerHTML = runs.map((r) => {
      const report = r.report ? `<a class="report" href="${esc(r.report)}">report</a> (${esc(r.dir)}/${esc(r.report_file)})`
        : `no report: ${esc(r.report_error || "not written")}`;
      return `<li>run finished: ${report} · <a class="files" href="${esc(r.files)}">result files</a> ${esc(r.dir)}</li>`;
    }).join("");
  }

  async function poll() {
    try {
      const res = await fetch(`/data?since=${state.since}`, { cache: "no-store" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const f = await res.json();
      for (const d of f.series) state.defs.set(d.id, d);
      for (const [id, t, v] of f.points) {
        let d = state.data.get(id);
        if (!d) state.data.set(id, (d = { xs: [], ys: [] }));
        d.xs.push(t / 1000);
        d.ys.push(v);
      }
      state.since = f.next;
      state.ended = f.ended;
      state.failures = 0;
      render();
      renderRuns(f.runs);
      const age = Math.round((Date.now() - f.started) / 1000);
      byId("status").textContent = f.ended
        ? "the run ended: its report is linked above (the files stay in the result directory after cdcbench stops serving this page)"
        : `running, ${age} s since cdcbench started; ${state.defs.size} series, ${state.since} points`;
    } catch (e) {
      state.failures++;
      byId("status").textContent = state.ended
        ? "the run ended and cdcbench stopped serving this page; the report is in the result directory above"
        : `cannot reach cdcbench (${e.message}): it may have stopped`;
    }
    setTimeout(poll, 1000);
  }

  // For tests and the curious: each line's point count, "series path/label" -> n.
  window.cdcbench = {
    counts() {
      const out = {};
      for (const [id, d] of state.defs) out[`${d.series} ${lineName(d)}`] = state.data.has(id) ? state.data.get(id).xs.length : 0;
      return out;
    },
    charts: () => document.querySelectorAll("#charts .uplot canvas").length,
  };
  poll();
})();
