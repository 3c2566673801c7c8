package jvm

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
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Errors Resolve wraps, so that callers (tests, the command line) can tell
// a machine that lacks something from a bug. Each error's text already
// says what to do; these only classify it.
var (
	// ErrNoMaven: the cache is empty and there is no mvn to fill it.
	ErrNoMaven = errors.New("no Maven")
	// ErrOffline: mvn could not download from Maven Central.
	ErrOffline = errors.New("cannot reach Maven Central")
	// ErrCorruptCache: the cache has a missing, truncated or damaged jar.
	ErrCorruptCache = errors.New("JVM jar cache damaged")
)

// Project is one component's pinned Maven project: `mvn -B package
// -Dcdcbench.out=DIR` on its pom puts the component's jars under DIR.
// Nothing is compiled; the pom's versions are the only pins.
type Project struct {
	// Name names the component in progress lines and errors: "broker".
	Name string
	// Key names its cache directory and changes with every version it
	// pins ("broker-kafka-4.3.1"), so that a version bump resolves afresh
	// instead of mixing jars.
	Key string
	// Files hold the project; Pom is its pom.xml's path in Files (other
	// files, such as a parent pom, are written beside it).
	Files fs.FS
	Pom   string
	// Jars are the directories under DIR that must hold jars ("lib",
	// "plugins"): one without any means the pom copied nothing there.
	Jars []string
	// Size is about what the first download fetches, for the progress
	// line ("about 50 MB").
	Size string
	// PrivateRepository resolves with a Maven local repository of its own
	// in the staging directory, deleted once the project is in place,
	// instead of ~/.m2/repository: for a distribution archive that is only
	// unpacked (Debezium Server's 781 MB tar.gz), which would otherwise
	// stay there for good beside its unpacked copy. Maven's plugins are
	// then downloaded again (a few MB).
	PrivateRepository bool
}

// Cache is the per-user cache of resolved projects, each in a directory
// of its own named by its Key.
type Cache struct {
	// Dir holds the projects' directories; "" means DefaultCacheDir().
	Dir string
	// Progress receives a line per step of a first download (what is being
	// fetched, files and bytes so far, the total); nil discards it.
	Progress io.Writer
	// Mvn is the Maven executable; "" means mvn on PATH.
	Mvn string
	// MavenSettings is a settings.xml for mvn -s (a mirror, a local
	// repository); "" leaves Maven's own defaults (~/.m2/settings.xml).
	MavenSettings string
}

// Resolved is a verified cache directory of one project.
type Resolved struct {
	Dir string // Cache.Dir/Project.Key
	// Size is the total size of its files.
	Size int64
	// Downloaded is what mvn fetched from the network for this call (0
	// when the directory was complete), from its "Downloaded from" lines.
	Downloaded int64
	// Fresh is true when this call ran mvn.
	Fresh bool
}

// markerName is the completion file: written last, it lists every file
// with its size, so a truncated copy is noticed without reading the jars
// whole.
const markerName = ".complete.json"

type marker struct {
	Key   string           `json:"key"`
	Files map[string]int64 `json:"files"` // path relative to the dir -> size
}

// DefaultCacheDir is $XDG_CACHE_HOME/cdcbench/jvm, or
// ~/.cache/cdcbench/jvm: outside the repository, shared by every checkout
// and run.
func DefaultCacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("jvm: no cache dir: neither XDG_CACHE_HOME nor a home directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "cdcbench", "jvm"), nil
}

// Resolve returns p's verified directory, running mvn once to download it
// when it is not complete. Concurrent calls (other test binaries, other
// runs) wait for each other on a lock file next to it. A complete
// directory with a damaged jar is an error wrapping ErrCorruptCache that
// names the jar and says to delete the directory; Resolve never deletes a
// complete directory by itself.
func (c Cache) Resolve(ctx context.Context, p Project) (*Resolved, error) {
	root := c.Dir
	if root == "" {
		var err error
		if root, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("jvm: cache dir: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("jvm: cache dir: %w", err)
	}
	dir := filepath.Join(root, p.Key)
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	r := &Resolved{Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, markerName)); err == nil {
		r.Size, err = verify(dir, p)
		return r, err
	}
	progress := c.Progress
	if progress == nil {
		progress = io.Discard
	}
	if r.Downloaded, err = c.download(ctx, dir, p, progress); err != nil {
		return nil, err
	}
	r.Fresh = true
	if r.Size, err = verify(dir, p); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "jvm: %s cache %s ready: %s on disk\n", p.Name, dir, mib(r.Size))
	return r, nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can
// cancel the wait.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jvm: lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("jvm: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("jvm: waiting for another cdcbench to finish resolving into %s: %w", strings.TrimSuffix(path, ".lock"), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// download writes p's project into a staging dir, runs mvn on it,
// records the marker and moves the staging dir to dir. It returns the
// bytes mvn downloaded.
func (c Cache) download(ctx context.Context, dir string, p Project, progress io.Writer) (int64, error) {
	mvn := c.Mvn
	if mvn == "" {
		mvn = "mvn"
	}
	lp, err := exec.LookPath(mvn)
	if err != nil {
		return 0, fmt.Errorf("jvm: %w: the jar cache %s is empty and there is no %s to fill it: "+
			`install Maven (Debian/Ubuntu: "apt-get install maven", or run scripts/ensure-java.sh as root), `+
			"or copy that directory from a machine where `make jvm-deps` ran", ErrNoMaven, dir, mvn)
	}
	mvn = lp
	staging := dir + ".partial"
	if err := os.RemoveAll(staging); err != nil {
		return 0, fmt.Errorf("jvm: clear %s: %w", staging, err)
	}
	project := filepath.Join(staging, "maven")
	if err := writeProject(p.Files, project); err != nil {
		return 0, err
	}
	fmt.Fprintf(progress, "jvm: resolving %s (%s) from Maven Central with %s into %s (once; about %s)\n", p.Name, p.Key, mvn, dir, p.Size)
	start := time.Now()
	repo := ""
	if p.PrivateRepository {
		repo = filepath.Join(staging, "repository")
	}
	n, files, err := c.runMaven(ctx, mvn, filepath.Join(project, filepath.FromSlash(p.Pom)), staging, dir, repo, progress)
	if err != nil {
		return n, err
	}
	fmt.Fprintf(progress, "jvm: mvn done in %s: downloaded %d files, %s\n", time.Since(start).Round(100*time.Millisecond), files, mib(n))
	for _, d := range []string{project, repo} {
		if d == "" {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return n, fmt.Errorf("jvm: %w", err)
		}
	}
	if err := writeMarker(staging, p.Key); err != nil {
		return n, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return n, fmt.Errorf("jvm: replace %s: %w", dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return n, fmt.Errorf("jvm: %w", err)
	}
	return n, nil
}

// writeProject copies the files of a project to dir.
func writeProject(files fs.FS, dir string) error {
	return fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path.Clean(p)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("jvm: write Maven project: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("jvm: write Maven project: %w", err)
		}
		return nil
	})
}

// downloadedRE matches Maven's transfer lines in batch mode, e.g.
// "Downloaded from central: https://.../x.jar (1.2 MB at 3.4 MB/s)".
var downloadedRE = regexp.MustCompile(`Downloaded from [^:]+: (\S+) \(([\d.]+) (B|kB|MB|GB)`)

// runMaven runs `mvn -B package` on pom with its output in out/mvn.log
// (with repo as its local repository when it is not ""), reports progress
// every few seconds and returns the bytes and files downloaded. A failure is reduced to one message: Maven Central
// unreachable (ErrOffline) or the [ERROR] lines of the log.
func (c Cache) runMaven(ctx context.Context, mvn, pom, out, final, repo string, progress io.Writer) (int64, int, error) {
	logPath := filepath.Join(out, "mvn.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, 0, fmt.Errorf("jvm: %w", err)
	}
	defer logf.Close()
	args := []string{"-B", "-Dstyle.color=never", "-f", pom, "-Dcdcbench.out=" + out}
	if c.MavenSettings != "" {
		args = append(args, "-s", c.MavenSettings)
	}
	if repo != "" {
		args = append(args, "-Dmaven.repo.local="+repo)
	}
	cmd := exec.CommandContext(ctx, mvn, append(args, "package")...)
	cmd.Dir = filepath.Dir(pom)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("jvm: %w: start %s: %v", ErrNoMaven, mvn, err)
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
			fmt.Fprintf(progress, "jvm: ... %d files, %s downloaded\n", files, mib(bytes))
			last = time.Now()
		}
	}
	_, _ = io.Copy(io.Discard, pr)
	if err := <-waitErr; err != nil {
		if ctx.Err() != nil {
			return bytes, files, fmt.Errorf("jvm: mvn interrupted: %w", ctx.Err())
		}
		if offline {
			return bytes, files, fmt.Errorf("jvm: %w: mvn could not download from Maven Central (repo.maven.apache.org): %s. "+
				"Allow access to it (or set a reachable mirror in ~/.m2/settings.xml), or copy %s from a machine where `make jvm-deps` ran; mvn's log: %s",
				ErrOffline, firstOr(errLines, "no [ERROR] line"), final, logPath)
		}
		return bytes, files, fmt.Errorf("jvm: mvn failed (%v):\n%s\nmvn's log: %s", err, strings.Join(errLines, "\n"), logPath)
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
// presence means the directory is complete.
func writeMarker(dir, key string) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(marker{Key: key, Files: files}, "", "  ")
	if err != nil {
		return fmt.Errorf("jvm: marker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, markerName), b, 0o644); err != nil {
		return fmt.Errorf("jvm: marker: %w", err)
	}
	return nil
}

// listFiles maps the regular files under dir (the marker and mvn.log
// aside) to their sizes.
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
		return nil, fmt.Errorf("jvm: list %s: %w", dir, err)
	}
	return files, nil
}

// verify checks a complete directory of p: the marker's key, every listed
// file present with its recorded size, every jar's zip directory
// readable, and p's jar directories holding jars at all. It returns the
// total size.
func verify(dir string, p Project) (int64, error) {
	fix := fmt.Sprintf("delete %s and run again (make jvm-deps downloads it afresh)", dir)
	b, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return 0, fmt.Errorf("jvm: %w: %v; %s", ErrCorruptCache, err, fix)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Key != p.Key {
		return 0, fmt.Errorf("jvm: %w: %s is not a completion marker of %s; %s",
			ErrCorruptCache, filepath.Join(dir, markerName), p.Key, fix)
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
			return 0, fmt.Errorf("jvm: %w: %s: %v; %s", ErrCorruptCache, n, err, fix)
		}
		total += size
		if strings.HasSuffix(n, ".jar") {
			jars[strings.SplitN(n, string(filepath.Separator), 2)[0]]++
		}
	}
	for _, d := range p.Jars {
		if jars[d] == 0 {
			return 0, fmt.Errorf("jvm: %w: no jars under %s; %s", ErrCorruptCache, filepath.Join(dir, d), fix)
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

func firstOr(lines []string, def string) string {
	if len(lines) == 0 {
		return def
	}
	return strings.TrimSpace(strings.TrimPrefix(lines[0], "[ERROR]"))
}
