package jvmstack_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
)

// TestPomPinsTheConstants keeps the Go constants, which results report, and
// the pom, which Maven resolves, in step.
func TestPomPinsTheConstants(t *testing.T) {
	b, err := os.ReadFile("maven/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	var pom struct {
		Properties struct {
			Kafka    string `xml:"version.kafka"`
			Debezium string `xml:"version.debezium"`
			Log4j    string `xml:"version.log4j"`
			Plugin   string `xml:"version.dependency-plugin"`
		} `xml:"properties"`
	}
	if err := xml.Unmarshal(b, &pom); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, pom, goConst string }{
		{"version.kafka", pom.Properties.Kafka, jvmstack.KafkaVersion},
		{"version.debezium", pom.Properties.Debezium, jvmstack.DebeziumVersion},
		{"version.log4j", pom.Properties.Log4j, jvmstack.Log4jVersion},
		{"version.dependency-plugin", pom.Properties.Plugin, jvmstack.DependencyPluginVersion},
	} {
		if c.pom != c.goConst {
			t.Errorf("maven/pom.xml %s = %q, the Go constant says %q", c.name, c.pom, c.goConst)
		}
	}
}

// TestDamagedCache copies the real cache (hard links, so it is cheap and the
// original stays intact), damages one jar per case, and checks Resolve
// names the jar and says how to fix it instead of starting a JVM on it.
func TestDamagedCache(t *testing.T) {
	art := needJVM(t)
	jar := "kafka-clients-" + jvmstack.KafkaVersion + ".jar"
	cases := []struct {
		name   string
		damage func(path string) error
		want   string
	}{
		{"truncated", func(p string) error { return truncateCopy(p, 0.5) }, "truncated"},
		{"zeroed end, same size", zeroTail, "not a readable jar"},
		{"missing", os.Remove, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, r := range []*jvm.Resolved{art.Broker, art.Connect} {
				if err := linkTree(r.Dir, filepath.Join(root, filepath.Base(r.Dir))); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(root, jvmstack.ConnectKey)
			if err := tc.damage(filepath.Join(dir, "lib", jar)); err != nil {
				t.Fatal(err)
			}
			_, err := jvmstack.Resolve(context.Background(), jvmstack.ResolveOptions{CacheDir: root})
			if !errors.Is(err, jvm.ErrCorruptCache) {
				t.Fatalf("Resolve = %v, want ErrCorruptCache", err)
			}
			for _, w := range []string{jar, tc.want, "delete " + dir} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// TestMissingTools checks the one-message failures of a machine without
// Java, without Maven, or without Maven Central. None of them may show a
// Java stack trace.
func TestMissingTools(t *testing.T) {
	art := needJVM(t) // the cases need a working java to get past it
	tmp := t.TempDir()
	settings := filepath.Join(tmp, "settings.xml")
	// A mirror nobody listens on and an empty local repository: what a
	// machine without access to Maven Central sees, within a second.
	err := os.WriteFile(settings, []byte(`<settings><localRepository>`+filepath.Join(tmp, "m2")+`</localRepository>
<mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:9/maven2</url></mirror></mirrors></settings>`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts jvmstack.ResolveOptions
		is   error
		want []string
	}{
		{"no java", jvmstack.ResolveOptions{Java: filepath.Join(tmp, "no-java"), CacheDir: filepath.Join(tmp, "c1")},
			jvm.ErrNoJava, []string{"openjdk-17-jdk-headless", "JAVA_HOME"}},
		{"no mvn", jvmstack.ResolveOptions{Java: art.Java, Mvn: filepath.Join(tmp, "no-mvn"), CacheDir: filepath.Join(tmp, "c2")},
			jvm.ErrNoMaven, []string{"apt-get install maven", "make jvm-deps"}},
		{"Maven Central unreachable", jvmstack.ResolveOptions{Java: art.Java, MavenSettings: settings, CacheDir: filepath.Join(tmp, "c3")},
			jvm.ErrOffline, []string{"cannot reach Maven Central", "make jvm-deps", "settings.xml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, err := jvmstack.Resolve(ctx, tc.opts)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Resolve = %v, want %v", err, tc.is)
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if strings.Contains(err.Error(), "\tat ") {
				t.Errorf("error shows a Java stack trace")
			}
		})
	}
}

// linkTree recreates src under dst with hard links to its files.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return os.Link(p, target)
	})
}

// truncateCopy replaces the hard link at p with a copy cut to frac of its
// size (truncating the link itself would damage the shared cache).
func truncateCopy(p string, frac float64) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	return os.WriteFile(p, b[:int(float64(len(b))*frac)], 0o644)
}

// zeroTail replaces p with a copy of the same size whose last 4 KiB, where
// the zip central directory lives, are zeros.
func zeroTail(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	for i := max(0, len(b)-4096); i < len(b); i++ {
		b[i] = 0
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}
