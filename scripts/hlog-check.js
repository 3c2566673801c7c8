// Decodes a run's latency.hlog with hdr-histogram-js, an HdrHistogram
// implementation independent of the Go one that wrote it, and prints each
// path/agent e2e figure beside result.json's. Run it via hlog-check.sh.
const hdr = require("hdr-histogram-js");
const fs = require("fs");
const dir = process.argv[2];
const log = fs.readFileSync(dir + "/latency.hlog", "utf8");
const reader = new hdr.HistogramLogReader(log);
const merged = {};
let h;
while ((h = reader.nextIntervalHistogram()) !== null) {
  const tag = h.tag;
  if (!merged[tag]) merged[tag] = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600e6, numberOfSignificantValueDigits: 3 });
  merged[tag].add(h);
}
const res = JSON.parse(fs.readFileSync(dir + "/result.json", "utf8"));
for (const p of res.paths) for (const a of p.agents) {
  const m = merged[`${p.name}/${a.name}/e2e`];
  const got = { count: m.totalCount, p50: m.getValueAtPercentile(50) / 1000, p99: m.getValueAtPercentile(99) / 1000, max: m.maxValue / 1000 };
  console.log(`${p.name}/${a.name}: js count ${got.count} p50 ${got.p50} p99 ${got.p99} max ${got.max} | result.json count ${a.e2e_ms.count} p50 ${a.e2e_ms.p50} p99 ${a.e2e_ms.p99} max ${a.e2e_ms.max}`);
}
