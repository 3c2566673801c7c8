package jvm_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cdcbench/cdcbench/internal/jvm"
)

// fakeMvn stands in for Maven in the resolver's tests (the build tool, not
// the pipeline): it appends its arguments to $FAKE_MVN_CALLS, then, as
// `mvn package` on the real poms does, fills the directories named in the
// file "dirs" beside the pom it was given with a jar under
// -Dcdcbench.out. With "offline" in that file it fails as Maven does
// without Maven Central. Given -Dmaven.repo.local, it leaves an archive
// there, as Maven leaves what it downloaded.
const fakeMvn = `#!/bin/sh
echo "$*" >> "$FAKE_MVN_CALLS"
for a in "$@"; do
  case "$a" in
    -Dcdcbench.out=*) out="${a#-Dcdcbench.out=}" ;;
    -Dmaven.repo.local=*) repo="${a#-Dmaven.repo.local=}" ;;
    *pom.xml) pom="$a" ;;
  esac
done
if [ -n "$repo" ]; then
  mkdir -p "$repo/dist" && cp "$FAKE_JAR" "$repo/dist/dist.tar.gz"
fi
for d in $(cat "$(dirname "$pom")/dirs"); do
  if [ "$d" = offline ]; then
    echo "[ERROR] Failed to execute goal: Could not transfer artifact org.apache.kafka:kafka_2.13:pom:4.3.1 from/to central: repo.maven.apache.org: Temporary failure in name resolution"
    exit 1
  fi
  mkdir -p "$out/$d" && cp "$FAKE_JAR" "$out/$d/$d.jar"
  echo "Downloaded from central: https://repo.maven.apache.org/maven2/x/$d.jar (1.5 MB at 3 MB/s)"
done
`

// TestResolveFetchesOnlyItsProject resolves one component of two into an
// empty cache: mvn must run on that component's pom alone, once, and
// leave the other component's directory unmade until it is resolved in
// turn; a complete directory is only verified.
func TestResolveFetchesOnlyItsProject(t *testing.T) {
	tmp := t.TempDir()
	calls := filepath.Join(tmp, "calls")
	bin := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "mvn"), []byte(fakeMvn), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_MVN_CALLS", calls)
	t.Setenv("FAKE_JAR", writeJar(t, filepath.Join(tmp, "a.jar")))

	files := fstest.MapFS{
		"pom.xml":             {Data: []byte("<project/>")}, // the shared parent
		"broker/pom.xml":      {Data: []byte("<project/>")},
		"broker/dirs":         {Data: []byte("lib\n")},
		"connect/pom.xml":     {Data: []byte("<project/>")},
		"connect/dirs":        {Data: []byte("lib plugins\n")},
		"unreachable/dirs":    {Data: []byte("offline\n")},
		"unreachable/pom.xml": {Data: []byte("<project/>")},
	}
	broker := jvm.Project{Name: "broker", Key: "broker-kafka-9", Files: files, Pom: "broker/pom.xml", Jars: []string{"lib"}, Size: "1 MB"}
	connect := jvm.Project{Name: "connect", Key: "connect-kafka-9", Files: files, Pom: "connect/pom.xml", Jars: []string{"lib", "plugins"}, Size: "2 MB"}
	root := filepath.Join(tmp, "cache")
	var progress bytes.Buffer
	cache := jvm.Cache{Dir: root, Progress: &progress}

	mvnCalls := func() []string {
		b, err := os.ReadFile(calls)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	for _, step := range []struct {
		name  string
		p     jvm.Project
		fresh bool
		calls int    // mvn's calls so far
		pom   string // the pom the last call was given
	}{
		{"broker into an empty cache", broker, true, 1, "broker/pom.xml"},
		{"broker again: verified only", broker, false, 1, "broker/pom.xml"},
		{"connect: its own project", connect, true, 2, "connect/pom.xml"},
		{"connect again: verified only", connect, false, 2, "connect/pom.xml"},
	} {
		t.Run(step.name, func(t *testing.T) {
			r, err := cache.Resolve(context.Background(), step.p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Fresh != step.fresh || r.Dir != filepath.Join(root, step.p.Key) {
				t.Errorf("Resolve = %+v, want fresh %v in %s", r, step.fresh, filepath.Join(root, step.p.Key))
			}
			got := mvnCalls()
			if len(got) != step.calls || !strings.Contains(got[len(got)-1], filepath.FromSlash(step.pom)+" ") {
				t.Fatalf("mvn calls %q; want %d, the last on %s", got, step.calls, step.pom)
			}
			for _, d := range step.p.Jars {
				if !exists(filepath.Join(r.Dir, d, d+".jar")) {
					t.Errorf("%s has no %s/%s.jar", r.Dir, d, d)
				}
			}
			if exists(r.Dir + ".partial") {
				t.Errorf("%s.partial left behind", r.Dir)
			}
			if step.p.Key == broker.Key && exists(filepath.Join(root, connect.Key)) {
				t.Errorf("resolving the broker made connect's directory")
			}
		})
	}
	if t.Failed() {
		return
	}
	for _, want := range []string{"resolving broker (broker-kafka-9)", "about 1 MB", "broker cache " + filepath.Join(root, "broker-kafka-9") + " ready"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress %q lacks %q", progress.String(), want)
		}
	}

	t.Run("a private repository is used and removed", func(t *testing.T) {
		p := jvm.Project{Name: "server", Key: "server-9", Files: files, Pom: "broker/pom.xml", Jars: []string{"lib"}, PrivateRepository: true}
		r, err := cache.Resolve(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		got := mvnCalls()
		if want := "-Dmaven.repo.local=" + filepath.Join(root, "server-9.partial", "repository"); !strings.Contains(got[len(got)-1], want) {
			t.Errorf("mvn call %q lacks %s", got[len(got)-1], want)
		}
		if exists(filepath.Join(r.Dir, "repository")) {
			t.Errorf("the archive Maven downloaded stayed in %s", filepath.Join(r.Dir, "repository"))
		}
		if _, err := cache.Resolve(context.Background(), p); err != nil {
			t.Errorf("the resolved directory does not verify: %v", err)
		}
	})
	t.Run("registry unreachable: one message, nothing kept", func(t *testing.T) {
		p := jvm.Project{Name: "spark", Key: "spark-9", Files: files, Pom: "unreachable/pom.xml", Jars: []string{"lib"}}
		_, err := cache.Resolve(context.Background(), p)
		if !errors.Is(err, jvm.ErrOffline) || !strings.Contains(err.Error(), "make jvm-deps") || !strings.Contains(err.Error(), "Temporary failure in name resolution") {
			t.Fatalf("Resolve = %v, want ErrOffline with Maven's reason and what to do", err)
		}
		if exists(filepath.Join(root, "spark-9")) {
			t.Error("a failed resolve left a cache directory that would pass for complete")
		}
	})
	t.Run("a missing jar is named, not re-downloaded", func(t *testing.T) {
		jar := filepath.Join(root, "connect-kafka-9", "plugins", "plugins.jar")
		if err := os.Remove(jar); err != nil {
			t.Fatal(err)
		}
		before := len(mvnCalls())
		_, err := cache.Resolve(context.Background(), connect)
		if !errors.Is(err, jvm.ErrCorruptCache) || !strings.Contains(err.Error(), filepath.Join("plugins", "plugins.jar")) {
			t.Fatalf("Resolve = %v, want ErrCorruptCache naming the jar", err)
		}
		if len(mvnCalls()) != before {
			t.Error("a damaged cache ran mvn")
		}
	})
}

// writeJar writes a one-entry jar (a zip) to path and returns path.
func writeJar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	w, err := z.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Manifest-Version: 1.0\n")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
