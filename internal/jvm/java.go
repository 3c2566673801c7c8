package jvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNoJava reports that no java of the version a program needs was found.
var ErrNoJava = errors.New("no Java runtime of the version needed")

// jvmDir is where Linux distributions install JDKs side by side
// (/usr/lib/jvm/java-17-openjdk-amd64, /usr/lib/jvm/temurin-25-jdk-amd64).
const jvmDir = "/usr/lib/jvm"

// JDKDirEnv names another directory of JDKs to search instead of jvmDir:
// where a machine keeps them elsewhere, and for tests that must not find
// this machine's.
const JDKDirEnv = "CDCBENCH_JDK_DIR"

// jdkDir is the directory of JDKs FindJava searches last.
func jdkDir() string {
	if d := os.Getenv(JDKDirEnv); d != "" {
		return d
	}
	return jvmDir
}

// Need is the Java a program needs.
type Need struct {
	// Java is the executable to use; "" searches $JAVA_HOME/bin/java, java
	// on PATH, then the JDKs in /usr/lib/jvm ($CDCBENCH_JDK_DIR), newest
	// first.
	Java string
	// Min is the lowest major version the program runs on (17, 21).
	Min int
	// For names the program in errors: "Kafka 4.3.1".
	For string
}

// FindJava returns the first java that need allows and that is at least
// need.Min, or an error wrapping ErrNoJava that says what was found and
// what to install.
func FindJava(ctx context.Context, need Need) (string, error) {
	var candidates []string
	if need.Java != "" {
		candidates = []string{need.Java}
	} else {
		if jh := os.Getenv("JAVA_HOME"); jh != "" {
			candidates = append(candidates, filepath.Join(jh, "bin", "java"))
		}
		if p, err := exec.LookPath("java"); err == nil {
			candidates = append(candidates, p)
		}
	}
	var found []string
	seen := map[string]bool{}
	try := func(java string) bool {
		real, err := filepath.EvalSymlinks(java)
		if err != nil {
			real = java
		}
		if seen[real] {
			return false
		}
		seen[real] = true
		major, err := javaVersion(ctx, java)
		if err != nil {
			found = append(found, fmt.Sprintf("%s: %v", java, err))
			return false
		}
		if major < need.Min {
			found = append(found, fmt.Sprintf("%s is Java %d", java, major))
			return false
		}
		return true
	}
	for _, j := range candidates {
		if try(j) {
			return j, nil
		}
	}
	if need.Java == "" {
		for _, j := range installedJDKs() {
			if try(j) {
				return j, nil
			}
		}
	}
	what := "no java on PATH, JAVA_HOME not set, no JDK in " + jdkDir()
	if len(found) > 0 {
		what = strings.Join(found, "; ")
	}
	return "", fmt.Errorf("jvm: %w: %s needs Java %d or later (%s): %s", ErrNoJava, need.For, need.Min, what, installHint(need.Min))
}

// installHint says what to install for Java min.
func installHint(min int) string {
	script := ""
	if min <= 17 {
		script = ", or run scripts/ensure-java.sh as root"
	}
	return fmt.Sprintf(`install a JDK %d or later (Debian/Ubuntu: "apt-get install openjdk-%d-jdk-headless"%s) or set JAVA_HOME to one`, min, min, script)
}

// installedJDKs lists the java executables under jdkDir, the highest
// version in the directory name first.
func installedJDKs() []string {
	javas, _ := filepath.Glob(filepath.Join(jdkDir(), "*", "bin", "java"))
	num := regexp.MustCompile(`\d+`)
	major := func(p string) int {
		n, _ := strconv.Atoi(num.FindString(filepath.Base(filepath.Dir(filepath.Dir(p)))))
		return n
	}
	sort.SliceStable(javas, func(i, j int) bool { return major(javas[i]) > major(javas[j]) })
	return javas
}

// javaVersion runs java -version and reads its major version.
func javaVersion(ctx context.Context, java string) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, java, "-version").CombinedOutput()
	if err != nil {
		if l := firstLine(out); l != "" {
			err = fmt.Errorf("%w: %s", err, l)
		}
		return 0, fmt.Errorf("-version failed (%v)", err)
	}
	major, ok := javaMajor(string(out))
	if !ok {
		return 0, fmt.Errorf("-version said %q", firstLine(out))
	}
	return major, nil
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

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
