package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries means that no directory holding both initdb and postgres was
// found. cdcbench cannot start its private cluster without them; the wrapped
// message says what to install. Callers test for it with errors.Is to tell
// "install PostgreSQL" apart from a cluster that failed to start.
var ErrNoBinaries = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

// installHint is appended to every ErrNoBinaries so that the person reading
// it knows the one command that fixes it.
const installHint = `install them with "apt-get install postgresql" (Debian/Ubuntu; scripts/ensure-postgres.sh does it), ` +
	`set CDCBENCH_PG_BINDIR to their directory, or point --pg-dsn at an existing server`

// binDirEnv names the environment variable that overrides the search. It is
// checked first and, when set, is the only place looked at: a wrong value is
// reported rather than silently replaced by some other installation.
const binDirEnv = "CDCBENCH_PG_BINDIR"

// debianBinGlob matches Debian/Ubuntu's per-major-version server directories,
// which are not on PATH by default.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// FindBinaries locates the directory holding initdb and postgres. It looks at
// $CDCBENCH_PG_BINDIR (when set and non-empty, exclusively), then PATH (with
// symlinks resolved, so /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin
// yields the real directory, where postgres and pg_config live too), then
// `pg_config --bindir`, then the highest /usr/lib/postgresql/*/bin. The error
// wraps ErrNoBinaries and says what to install.
func FindBinaries() (binDir string, err error) {
	if dir := os.Getenv(binDirEnv); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("%w: $%s=%q: %v; %s", ErrNoBinaries, binDirEnv, dir, err, installHint)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("pgcluster: $%s: %w", binDirEnv, err)
		}
		return abs, nil
	}
	for _, candidate := range binDirCandidates() {
		if checkBinDir(candidate) == nil {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("%w (looked in $PATH, `pg_config --bindir` and %s); %s", ErrNoBinaries, debianBinGlob, installHint)
}

// binDirCandidates lists the directories FindBinaries tries after the
// environment variable, in order. Directories that cannot be determined are
// left out.
func binDirCandidates() []string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
	}
	matches, _ := filepath.Glob(debianBinGlob) // the pattern is constant and valid
	sort.Slice(matches, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(matches[j])), filepath.Base(filepath.Dir(matches[i])))
	})
	return append(dirs, matches...)
}

// versionLess compares dotted version numbers numerically ("9.6" < "15"), so
// that the highest installed major version is preferred.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errX := strconv.Atoi(as[i])
		y, errY := strconv.Atoi(bs[i])
		if errX != nil || errY != nil {
			return a < b
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// checkBinDir reports why dir cannot serve as the server binary directory.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", filepath.Join(dir, name))
		}
	}
	return nil
}

// versionRE picks the version out of `postgres --version`, which prints e.g.
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\S+)`)

// serverVersion asks the postgres binary for its version; reports quote it so
// that results say which server they were measured on.
func serverVersion(binDir string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pgcluster: postgres --version: %w", err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pgcluster: postgres --version: unexpected output %q", out)
	}
	return string(m[1]), nil
}

// statStatementsInstalled reports whether the pg_stat_statements extension
// (postgresql-contrib) belongs to the installation in binDir. Both the
// control file and the shared library are checked: preloading a library that
// is missing would stop the server from starting at all. The directories come
// from the pg_config next to the binaries (which matches their version, unlike
// whichever pg_config is first on PATH); without one, the usual layouts next
// to binDir are tried.
func statStatementsInstalled(binDir string) bool {
	shareDirs := []string{filepath.Join(binDir, "..", "share", "postgresql"), filepath.Join(binDir, "..", "share")}
	libDirs := []string{filepath.Join(binDir, "..", "lib", "postgresql"), filepath.Join(binDir, "..", "lib")}
	pgConfig := filepath.Join(binDir, "pg_config")
	if out, err := exec.Command(pgConfig, "--sharedir", "--pkglibdir").Output(); err == nil {
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) == 2 {
			shareDirs = []string{lines[0]}
			libDirs = []string{lines[1]}
		}
	}
	return anyExists(shareDirs, "extension/pg_stat_statements.control") && anyExists(libDirs, "pg_stat_statements.so")
}

// anyExists reports whether name exists below any of dirs.
func anyExists(dirs []string, name string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return true
		}
	}
	return false
}
