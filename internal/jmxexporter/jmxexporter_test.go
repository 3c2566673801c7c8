package jmxexporter

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// TestRules: the embedded rules are YAML the exporter reads (an include
// list, so that a scrape reads only these MBeans, and a rule per MBean
// with the attributes internal/metrics samples), and the agent is served
// on 127.0.0.1 only.
func TestRules(t *testing.T) {
	var cfg struct {
		Include []string `yaml:"includeObjectNames"`
		Rules   []struct {
			Pattern string `yaml:"pattern"`
			Name    string `yaml:"name"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(Rules, &cfg); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	if len(cfg.Include) != len(cfg.Rules) {
		t.Errorf("%d included MBean patterns, %d rules: each rule's MBeans must be included and nothing else", len(cfg.Include), len(cfg.Rules))
	}
	all := string(Rules)
	for _, attr := range []string{"MilliSecondsBehindSource", "QueueRemainingCapacity", "QueueTotalCapacity", "TotalNumberOfEventsSeen", "CurrentQueueSizeInBytes",
		"source-record-poll-rate", "source-record-write-rate", "poll-batch-avg-time-ms",
		"record-queue-time-avg", "request-latency-avg", "batch-size-avg", "records-per-request-avg", "record-send-rate",
		"request=Produce"} {
		if !strings.Contains(all, attr) {
			t.Errorf("rules.yaml does not select %s", attr)
		}
	}
	e := &Exporter{Jar: "/c/jmx_prometheus_javaagent.jar", Rules: "/s/jmx-exporter.yaml"}
	if a := e.Agent(9404); a.Jar != e.Jar || a.Args != "127.0.0.1:9404:/s/jmx-exporter.yaml" {
		t.Errorf("Agent(9404) = %+v", a)
	}
	if got := URL(9404); got != "http://127.0.0.1:9404/metrics" {
		t.Errorf("URL = %s", got)
	}
}
