// Package jmxexporter is the Prometheus JMX exporter, attached as a Java
// agent to the JVMs cdcbench starts (the local stack's broker and Connect
// worker, and any capture that runs on a JVM), so that their own metrics
// (Debezium's queue, Connect's producer, the broker's request times, GC)
// are served on a 127.0.0.1 port and sampled beside the latency.
//
// The agent's jar is its own component in jvm's cache, resolved once by
// mvn; the rules selecting what it exports are rules.yaml, embedded.
package jmxexporter

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cdcbench/cdcbench/internal/jvm"
)

// Version is the exporter's version; maven/pom.xml pins the same.
const Version = "1.0.1"

// Key names its directory in jvm's cache.
const Key = "jmx-exporter-" + Version

//go:embed maven/pom.xml
var mavenFiles embed.FS

var mavenProject, _ = fs.Sub(mavenFiles, "maven")

// Rules is the exporter's configuration: which MBeans it exports, under
// which metric names (rules.yaml; reports/README.md lists the series).
//
//go:embed rules.yaml
var Rules []byte

var project = jvm.Project{Name: "Prometheus JMX exporter", Key: Key, Files: mavenProject, Pom: "pom.xml",
	Jars: []string{"lib"}, Size: "3 MB"}

// Exporter is the resolved agent jar, and the rules file it is given.
type Exporter struct {
	Jar   string
	Rules string // set by WriteRules
}

// Resolve fetches the agent's jar through cache, once (about 3 MB).
func Resolve(ctx context.Context, cache jvm.Cache) (*Exporter, error) {
	r, err := cache.Resolve(ctx, project)
	if err != nil {
		return nil, err
	}
	jar := filepath.Join(r.Dir, "lib", "jmx_prometheus_javaagent.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("jmxexporter: %w", err)
	}
	return &Exporter{Jar: jar}, nil
}

// WriteRules writes Rules into dir, which the caller owns (a stack's temp
// dir), for the agents Agent makes.
func (e *Exporter) WriteRules(dir string) error {
	path := filepath.Join(dir, "jmx-exporter.yaml")
	if err := os.WriteFile(path, Rules, 0o644); err != nil {
		return fmt.Errorf("jmxexporter: rules: %w", err)
	}
	e.Rules = path
	return nil
}

// Agent is the exporter attached to a JVM, serving /metrics on
// 127.0.0.1:port (never on every interface).
func (e *Exporter) Agent(port int) jvm.Agent {
	return jvm.Agent{Jar: e.Jar, Args: "127.0.0.1:" + strconv.Itoa(port) + ":" + e.Rules}
}

// URL is the address Agent(port) serves its metrics on.
func URL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics" }
