package jvmstack

import (
	"context"
	"io"
	"path/filepath"

	"github.com/cdcbench/cdcbench/internal/jmxexporter"
	"github.com/cdcbench/cdcbench/internal/jvm"
)

// MinJava is the lowest Java that Kafka 4's broker and Connect run on.
const MinJava = 17

// The stack's components, each its own pinned Maven project in its own
// cache directory (jvm.Cache).
var (
	brokerProject = jvm.Project{Name: "Kafka broker", Key: BrokerKey, Files: mavenProject, Pom: "broker/pom.xml",
		Jars: []string{"lib"}, Size: "45 MB"}
	connectProject = jvm.Project{Name: "Kafka Connect with Debezium", Key: ConnectKey, Files: mavenProject, Pom: "connect/pom.xml",
		Jars: []string{"lib", "plugins"}, Size: "55 MB"}
)

// ResolveOptions configures Resolve. The zero value uses the defaults.
type ResolveOptions struct {
	// CacheDir holds the components' cache directories; "" means
	// jvm.DefaultCacheDir().
	CacheDir string
	// Progress receives a line per step of a first download (what is being
	// fetched, files and bytes so far, the total); nil discards it.
	Progress io.Writer
	// Java and Mvn are the executables; "" searches (jvm.FindJava) and
	// means mvn on PATH.
	Java, Mvn string
	// MavenSettings is a settings.xml for mvn -s (a mirror, a local
	// repository); "" leaves Maven's own defaults (~/.m2/settings.xml).
	MavenSettings string
}

// Artifacts are the stack's verified jars and the java that runs them.
type Artifacts struct {
	Java            string
	Broker, Connect *jvm.Resolved
	BrokerLib       string // Broker.Dir/lib: kafka_2.13 and its runtime dependencies
	ConnectLib      string // Connect.Dir/lib: connect-runtime and its runtime dependencies
	PluginPath      string // Connect.Dir/plugins: the worker's plugin.path
	// Exporter is the Prometheus JMX exporter attached to each JVM.
	Exporter *jmxexporter.Exporter
}

// Resolve finds a Java 17+ and returns the broker's and the worker's
// verified jars and the JMX exporter's, each component downloaded with mvn the first time it is
// needed (jvm.Cache.Resolve: errors wrap jvm.ErrNoJava, jvm.ErrNoMaven,
// jvm.ErrOffline or jvm.ErrCorruptCache).
func Resolve(ctx context.Context, opts ResolveOptions) (*Artifacts, error) {
	java, err := jvm.FindJava(ctx, jvm.Need{Java: opts.Java, Min: MinJava, For: "Kafka " + KafkaVersion})
	if err != nil {
		return nil, err
	}
	cache := jvm.Cache{Dir: opts.CacheDir, Progress: opts.Progress, Mvn: opts.Mvn, MavenSettings: opts.MavenSettings}
	a := &Artifacts{Java: java}
	if a.Broker, err = cache.Resolve(ctx, brokerProject); err != nil {
		return nil, err
	}
	if a.Connect, err = cache.Resolve(ctx, connectProject); err != nil {
		return nil, err
	}
	if a.Exporter, err = jmxexporter.Resolve(ctx, cache); err != nil {
		return nil, err
	}
	a.BrokerLib = filepath.Join(a.Broker.Dir, "lib")
	a.ConnectLib = filepath.Join(a.Connect.Dir, "lib")
	a.PluginPath = filepath.Join(a.Connect.Dir, "plugins")
	return a, nil
}
