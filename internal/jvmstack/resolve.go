package jvmstack

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors Resolve wraps, so that callers (tests, the command line) can tell a
// machine that lacks something from a bug. Each error's text already says
// what to do; these only classify it.
var (
	// ErrNoJava: no java 17+ runtime found.
	ErrNoJava = errors.New("no Java 17+ runtime")
	// ErrNoMaven: the cache is empty and there is no mvn to fill it.
	ErrNoMaven = errors.New("no Maven")
	// ErrOffline: mvn could not download from Maven Central.
	ErrOffline = errors.New("cannot reach Maven Central")
	// ErrCorruptCache: the cache has a missing, truncated or damaged jar.
	ErrCorruptCache = errors.New("JVM jar cache damaged")
)

// ResolveOptions configures Resolve. The zero value uses the defaults.
type ResolveOptions struct {
	// CacheDir holds the resolved jars; "" means DefaultCacheDir().
	CacheDir string
	// Progress receives a line per step of a first download (what is being
	// fetched, files and bytes so far, the total); nil discards it.
	Progress io.Writer
	// Java and Mvn are the executables; "" means $JAVA_HOME/bin/java or
	// java on PATH, and mvn on PATH.
	Java, Mvn string
	// MavenSettings is a settings.xml for mvn -s (a mirror, a local
	// repository); "" leaves Maven's own defaults (~/.m2/settings.xml).
	MavenSettings string
}

// Artifacts is a verified cache: the classpaths and plugin dir of one set of
// versions.
type Artifacts struct {
	Dir        string // the cache dir, DefaultCacheDir() or ResolveOptions.CacheDir
	BrokerLib  string // Dir/broker/lib: kafka_2.13 and its runtime dependencies
	ConnectLib string // Dir/connect/lib: connect-runtime and its runtime dependencies
	PluginPath string // Dir/plugins: the worker's plugin.path
	Java       string // the java executable that runs both
	// Downloaded is what mvn fetched from the network for this call (0 when
	// the cache was complete), from its "Downloaded from" lines.
	Downloaded int64
	// Size is the total size of the cache's files.
	Size int64
	// Fresh is true when this call ran mvn.
	Fresh bool
}

// marker is the completion file: written last, it lists every file with
// its size, so a truncated copy is noticed without reading the jars whole.
const markerName = ".complete.json"

type marker struct {
	Kafka    string           `json:"kafka"`
	Debezium string           `json:"debezium"`
	Files    map[string]int64 `json:"files"` // path relative to Dir -> size
}

// DefaultCacheDir is $XDG_CACHE_HOME/cdcbench/jvm/CacheKey, or
// ~/.cache/cdcbench/jvm/CacheKey: outside the repository, shared by every
// checkout and run of the same versions.
func DefaultCacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("jvmstack: no cache dir: neither XDG_CACHE_HOME nor a home directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "cdcbench", "jvm", CacheKey), nil
}

// Resolve returns the verified jars, running mvn once to download them when
// the cache is empty. Concurrent calls (other test binaries, other runs)
// wait for each other on a lock file next to the cache. A complete cache
// with a damaged jar is an error wrapping ErrCorruptCache that names the jar
// and says to delete the cache dir; Resolve never deletes a complete cache
// by itself.
func Resolve(ctx context.Context, opts ResolveOptions) (*Artifacts, error) {
	java, err := findJava(ctx, opts.Java)
	if err != nil {
		return nil, err
	}
	dir := opts.CacheDir
	if dir == "" {
		if dir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("jvmstack: cache dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("jvmstack: cache dir: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	a := &Artifacts{
		Dir:        dir,
		BrokerLib:  filepath.Join(dir, "broker", "lib"),
		ConnectLib: filepath.Join(dir, "connect", "lib"),
		PluginPath: filepath.Join(dir, "plugins"),
		Java:       java,
	}
	if _, err := os.Stat(filepath.Join(dir, markerName)); err == nil {
		a.Size, err = verify(dir)
		return a, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if a.Downloaded, err = download(ctx, dir, opts, progress); err != nil {
		return nil, err
	}
	a.Fresh = true
	if a.Size, err = verify(dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "jvmstack: cache %s ready: %s on disk\n", dir, mib(a.Size))
	return a, nil
}

// findJava locates java and checks it is at least Java 17, which Kafka 4's
// broker and Connect require.
func findJava(ctx context.Context, java string) (string, error) {
	const hint = `install a JDK 17 (Debian/Ubuntu: "apt-get install openjdk-17-jdk-headless", or run scripts/ensure-java.sh as root) or set JAVA_HOME`
	if java == "" {
		if jh := os.Getenv("JAVA_HOME"); jh != "" {
			java = filepath.Join(jh, "bin", "java")
		} else if p, err := exec.LookPath("java"); err == nil {
			java = p
		} else {
			return "", fmt.Errorf("jvmstack: %w: no java on PATH and JAVA_HOME is not set; Kafka %s needs Java 17 or later: %s", ErrNoJava, KafkaVersion, hint)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, java, "-version").CombinedOutput()
	if err != nil {
		if l := firstLine(out); l != "" {
			err = fmt.Errorf("%w: %s", err, l)
		}
		return "", fmt.Errorf("jvmstack: %w: %s -version failed (%v); %s", ErrNoJava, java, err, hint)
	}
	major, ok := javaMajor(string(out))
	if !ok || major < 17 {
		return "", fmt.Errorf("jvmstack: %w: %s is %q; Kafka %s needs Java 17 or later: %s", ErrNoJava, java, firstLine(out), KafkaVersion, hint)
	}
	return java, nil
}

var javaVersionRE = regexp.MustCompile(`version "(1\.)?(\d+)`)

// javaMajor reads the major version from `java -version` output:
// `openjdk version "17.0.15"` is 17, `java version "1.8.0_402"` is 8.
func javaMajor(out string) (int, bool) {
	m := javaVersionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[2])
	return n, err == nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jvmstack: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("jvmstack: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("jvmstack: waiting for another cdcbench to finish resolving into %s: %w", filepath.Dir(path), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// download writes the embedded Maven project into a staging dir, runs mvn
// on it, records the marker and moves the staging dir to dir. It returns
// the bytes mvn downloaded.
func download(ctx context.Context, dir string, opts ResolveOptions, progress io.Writer) (int64, error) {
	mvn := opts.Mvn
	if mvn == "" {
		mvn = "mvn"
	}
	{
		p, err := exec.LookPath(mvn)
		if err != nil {
			return 0, fmt.Errorf("jvmstack: %w: the jar cache %s is empty and there is no %s to fill it: "+
				`install Maven (Debian/Ubuntu: "apt-get install maven", or run scripts/ensure-java.sh as root), `+
				"or copy that directory from a machine where `make jvm-deps` ran", ErrNoMaven, dir, mvn)
		}
		mvn = p
	}
	staging := dir + ".partial"
	if err := os.RemoveAll(staging); err != nil {
		return 0, fmt.Errorf("jvmstack: clear %s: %w", staging, err)
	}
	project := filepath.Join(staging, "maven")
	if err := writeProject(project); err != nil {
		return 0, err
	}
	fmt.Fprintf(progress, "jvmstack: resolving Kafka %s and Debezium %s from Maven Central with %s into %s (once; about 100 MB)\n",
		KafkaVersion, DebeziumVersion, mvn, dir)
	start := time.Now()
	n, files, err := runMaven(ctx, mvn, opts.MavenSettings, project, staging, dir, progress)
	if err != nil {
		return n, err
	}
	fmt.Fprintf(progress, "jvmstack: mvn done in %s: downloaded %d files, %s\n", time.Since(start).Round(100*time.Millisecond), files, mib(n))
	if err := os.RemoveAll(project); err != nil {
		return n, fmt.Errorf("jvmstack: %w", err)
	}
	if err := writeMarker(staging); err != nil {
		return n, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return n, fmt.Errorf("jvmstack: replace %s: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return n, fmt.Errorf("jvmstack: %w", err)
	}
	return n, nil
}

// writeProject copies the embedded pom files to dir.
func writeProject(dir string) error {
	return fs.WalkDir(mavenProject, "maven", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := mavenProject.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(p, "maven/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("jvmstack: write Maven project: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("jvmstack: write Maven project: %w", err)
		}
		return nil
	})
}

// downloadedRE matches Maven's transfer lines in batch mode, e.g.
// "Downloaded from central: https://.../x.jar (1.2 MB at 3.4 MB/s)".
var downloadedRE = regexp.MustCompile(`Downloaded from [^:]+: (\S+) \(([\d.]+) (B|kB|MB|GB)`)

// runMaven runs `mvn -B package` on the project with its output in
// staging/mvn.log, reports progress every few seconds and returns the bytes
// and files downloaded. A failure is reduced to one message: Maven Central
// unreachable (ErrOffline) or the [ERROR] lines of the log.
func runMaven(ctx context.Context, mvn, settings, project, out, final string, progress io.Writer) (int64, int, error) {
	logPath := filepath.Join(out, "mvn.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, 0, fmt.Errorf("jvmstack: %w", err)
	}
	defer logf.Close()
	args := []string{"-B", "-Dstyle.color=never", "-f", filepath.Join(project, "pom.xml"), "-Dcdcbench.out=" + out}
	if settings != "" {
		args = append(args, "-s", settings)
	}
	cmd := exec.CommandContext(ctx, mvn, append(args, "package")...)
	cmd.Dir = project
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("jvmstack: %w: start %s: %v", ErrNoMaven, mvn, err)
	}
	waitErr := make(chan error, 1)
	go func() { err := cmd.Wait(); _ = pw.Close(); waitErr <- err }()

	var bytes int64
	var files int
	var errLines []string
	offline := false
	last := time.Now()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		if m := downloadedRE.FindStringSubmatch(line); m != nil {
			bytes += parseSize(m[2], m[3])
			files++
		}
		if strings.HasPrefix(line, "[ERROR]") && len(errLines) < 8 && strings.TrimSpace(line) != "[ERROR]" {
			errLines = append(errLines, line)
		}
		if offlineRE.MatchString(line) {
			offline = true
		}
		if time.Since(last) >= 3*time.Second {
			fmt.Fprintf(progress, "jvmstack: ... %d files, %s downloaded\n", files, mib(bytes))
			last = time.Now()
		}
	}
	_, _ = io.Copy(io.Discard, pr)
	if err := <-waitErr; err != nil {
		if ctx.Err() != nil {
			return bytes, files, fmt.Errorf("jvmstack: mvn interrupted: %w", ctx.Err())
		}
		if offline {
			return bytes, files, fmt.Errorf("jvmstack: %w: mvn could not download from Maven Central (repo.maven.apache.org): %s. "+
				"Allow access to it (or set a reachable mirror in ~/.m2/settings.xml), or copy %s from a machine where `make jvm-deps` ran; mvn's log: %s",
				ErrOffline, firstOr(errLines, "no [ERROR] line"), final, logPath)
		}
		return bytes, files, fmt.Errorf("jvmstack: mvn failed (%v):\n%s\nmvn's log: %s", err, strings.Join(errLines, "\n"), logPath)
	}
	return bytes, files, nil
}

// offlineRE recognises Maven's network failures.
var offlineRE = regexp.MustCompile(`(?i)(could not transfer|unknown ?host|connection refused|network is unreachable|connect timed out|no route to host|temporary failure in name resolution)`)

func parseSize(num, unit string) int64 {
	f, _ := strconv.ParseFloat(num, 64)
	switch unit {
	case "kB":
		f *= 1e3
	case "MB":
		f *= 1e6
	case "GB":
		f *= 1e9
	}
	return int64(f)
}

// writeMarker lists every file under dir with its size, last, so that its
// presence means the cache is complete.
func writeMarker(dir string) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(marker{Kafka: KafkaVersion, Debezium: DebeziumVersion, Files: files}, "", "  ")
	if err != nil {
		return fmt.Errorf("jvmstack: marker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, markerName), b, 0o644); err != nil {
		return fmt.Errorf("jvmstack: marker: %w", err)
	}
	return nil
}

// listFiles maps the regular files under dir (the marker and mvn.log aside)
// to their sizes.
func listFiles(dir string) (map[string]int64, error) {
	files := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == markerName || rel == "mvn.log" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files[rel] = fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jvmstack: list %s: %w", dir, err)
	}
	return files, nil
}

// verify checks a complete cache: the marker's versions, every listed file
// present with its recorded size, every jar's zip directory readable, and
// the three directories holding jars at all. It returns the total size.
func verify(dir string) (int64, error) {
	fix := fmt.Sprintf("delete %s and run again (make jvm-deps downloads it afresh)", dir)
	b, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return 0, fmt.Errorf("jvmstack: %w: %v; %s", ErrCorruptCache, err, fix)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Kafka != KafkaVersion || m.Debezium != DebeziumVersion {
		return 0, fmt.Errorf("jvmstack: %w: %s is not a completion marker for Kafka %s and Debezium %s; %s",
			ErrCorruptCache, filepath.Join(dir, markerName), KafkaVersion, DebeziumVersion, fix)
	}
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	var total int64
	jars := map[string]int{}
	for _, n := range names {
		size, err := checkFile(filepath.Join(dir, n), m.Files[n])
		if err != nil {
			return 0, fmt.Errorf("jvmstack: %w: %s: %v; %s", ErrCorruptCache, n, err, fix)
		}
		total += size
		if strings.HasSuffix(n, ".jar") {
			jars[strings.SplitN(n, string(filepath.Separator), 2)[0]]++
		}
	}
	for _, d := range []string{"broker", "connect", "plugins"} {
		if jars[d] == 0 {
			return 0, fmt.Errorf("jvmstack: %w: no jars under %s; %s", ErrCorruptCache, filepath.Join(dir, d), fix)
		}
	}
	return total, nil
}

// checkFile compares a file's size with the recorded one and, for a jar,
// reads its zip central directory (a truncated jar has none).
func checkFile(path string, want int64) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if fi.Size() != want {
		return 0, fmt.Errorf("size %d bytes, %d when downloaded (truncated or replaced)", fi.Size(), want)
	}
	if strings.HasSuffix(path, ".jar") {
		z, err := zip.OpenReader(path)
		if err != nil {
			return 0, fmt.Errorf("not a readable jar: %w", err)
		}
		n := len(z.File)
		_ = z.Close()
		if n == 0 {
			return 0, errors.New("empty jar")
		}
	}
	return fi.Size(), nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func firstOr(lines []string, def string) string {
	if len(lines) == 0 {
		return def
	}
	return strings.TrimSpace(strings.TrimPrefix(lines[0], "[ERROR]"))
}
