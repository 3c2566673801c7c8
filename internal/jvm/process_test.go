package jvm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

// TestSpecValidate checks that every way a Spec cannot be started is
// refused before anything runs, naming the program and the mistake.
func TestSpecValidate(t *testing.T) {
	t.Parallel()
	probe := func(context.Context) error { return nil }
	main := jvm.Spec{Name: "Kafka broker", Java: "/usr/bin/java", Main: "kafka.Kafka", Classpath: []string{"/c/lib/*"},
		Options: []string{"-Xmx512m"}, Dir: "/tmp/x", Log: "/tmp/x/broker.log", Ready: probe, ReadyWhat: "metadata", ReadyTimeout: time.Minute}
	script := jvm.Spec{Name: "Debezium Server", Java: "/usr/bin/java", Script: "/d/run.sh", Options: []string{"-Xmx1g"},
		Dir: "/tmp/y", Log: "/tmp/y/server.log"}
	for _, tc := range []struct {
		name string
		edit func(s *jvm.Spec)
		base jvm.Spec
		want string // "" = valid
	}{
		{"main class on a classpath", func(*jvm.Spec) {}, main, ""},
		{"a distribution's start script", func(*jvm.Spec) {}, script, ""},
		{"no name", func(s *jvm.Spec) { s.Name = "" }, main, "no name"},
		{"no java", func(s *jvm.Spec) { s.Java = "" }, main, "no java executable"},
		{"neither main nor script", func(s *jvm.Spec) { s.Main, s.Classpath = "", nil }, main, "neither a main class nor a start script"},
		{"both main and script", func(s *jvm.Spec) { s.Script = "/d/run.sh" }, main, "both a main class"},
		{"main without classpath", func(s *jvm.Spec) { s.Classpath = nil }, main, "without a classpath"},
		{"script with classpath", func(s *jvm.Spec) { s.Classpath = []string{"/x/*"} }, script, "brings its own classpath"},
		{"an argument among the options", func(s *jvm.Spec) { s.Options = append(s.Options, "server.properties") }, main, `"server.properties" does not start with '-'`},
		{"a space in a script's option", func(s *jvm.Spec) { s.Options = []string{"-Dname=a b"} }, script, "JAVA_OPTS cannot carry"},
		{"a space in a script's dir", func(s *jvm.Spec) { s.Dir, s.Log = "/tmp/a b", "/tmp/a b/l" }, script, "JAVA_OPTS cannot carry"},
		{"a space in a main class's option", func(s *jvm.Spec) { s.Options = []string{"-Dname=a b"} }, main, ""},
		{"relative agent jar", func(s *jvm.Spec) { s.Agents = []jvm.Agent{{Jar: "agent.jar", Args: "127.0.0.1:1:r.yaml"}} }, main, `agent jar "agent.jar" is not an absolute path`},
		{"a space in a script's agent", func(s *jvm.Spec) { s.Agents = []jvm.Agent{{Jar: "/a b/agent.jar"}} }, script, "JAVA_OPTS cannot carry"},
		{"an agent of a main class", func(s *jvm.Spec) { s.Agents = []jvm.Agent{{Jar: "/a/agent.jar", Args: "127.0.0.1:1:/r.yaml"}} }, main, ""},
		{"relative dir", func(s *jvm.Spec) { s.Dir = "stack" }, main, `directory "stack" is not an absolute path`},
		{"relative working dir", func(s *jvm.Spec) { s.WorkDir = "dist" }, script, `working directory "dist" is not an absolute path`},
		{"no log", func(s *jvm.Spec) { s.Log = "" }, main, "no log file"},
		{"probe without timeout", func(s *jvm.Spec) { s.ReadyTimeout = 0 }, main, "without a timeout"},
		{"timeout without probe", func(s *jvm.Spec) { s.Ready = nil }, main, "without a probe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.base
			s.Options = append([]string(nil), s.Options...)
			tc.edit(&s)
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, jvm.ErrSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrSpec saying %q", err, tc.want)
			}
			if s.Name != "" && !strings.Contains(err.Error(), s.Name) {
				t.Errorf("error %q does not name %s", err, s.Name)
			}
			if _, err := jvm.Start(context.Background(), s); !errors.Is(err, jvm.ErrSpec) {
				t.Errorf("Start = %v, want the same refusal", err)
			}
		})
	}
}

// TestStartScript runs a distribution-style start script (a shell script
// standing in for Debezium Server's run.sh, which execs java): it must get
// the JDK as JAVA_HOME and the options with the mark as JAVA_OPTS, its dir
// must be claimed, the caller must get the process before its probe, and
// its deaths and start-up failures must be told apart from a stop
// cdcbench asked for, each quoting its log.
func TestStartScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	java := filepath.Join(dir, "jdk", "bin", "java")
	script := filepath.Join(dir, "dist", "run.sh") // a distribution of its own
	// It logs its environment, fails when asked to, and otherwise runs
	// until it is stopped.
	body := "#!/bin/sh\necho \"PWD=$(pwd)\"\necho \"JAVA_HOME=$JAVA_HOME\"\necho \"JAVA_OPTS=$JAVA_OPTS\"\necho \"ARGS=$*\"\n" +
		"if [ \"$1\" = fail ]; then echo 'ERROR boom: no such table'; exit 3; fi\nexec sleep 300\n"
	for path, content := range map[string]string{script: body, java: "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logged := func(log, what string) func(context.Context) error {
		return func(context.Context) error {
			b, _ := os.ReadFile(log)
			if !strings.Contains(string(b), what) {
				return errors.New("not logged yet")
			}
			return nil
		}
	}
	spec := func(name string, args ...string) jvm.Spec {
		log := filepath.Join(dir, name+".log")
		return jvm.Spec{Name: name, Java: java, Script: script, Args: args, Options: []string{"-Xmx64m"}, Dir: dir, Log: log,
			Ready: logged(log, "ARGS="), ReadyWhat: "its arguments logged", ReadyTimeout: time.Minute}
	}

	t.Run("ready, then stopped: no death", func(t *testing.T) {
		deaths := make(chan error, 1)
		s := spec("server", "conf/application.properties")
		s.Deaths, s.WorkDir = deaths, filepath.Dir(script)
		p, err := jvm.Start(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(s.Log)
		for _, want := range []string{"PWD=" + filepath.Dir(script), "JAVA_HOME=" + filepath.Join(dir, "jdk"), "JAVA_OPTS=-Xmx64m -D" + jvm.MarkProperty + "=" + dir, "ARGS=conf/application.properties"} {
			if !strings.Contains(string(b), want+"\n") {
				t.Errorf("log %q lacks %q", b, want)
			}
		}
		if state, pid := ownerpid.Check(dir); state != ownerpid.Alive || pid != os.Getpid() {
			t.Errorf("owner of %s: %v pid %d, want this process", dir, state, pid)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-deaths:
			t.Errorf("a stop cdcbench asked for was reported as a death: %v", err)
		default:
		}
	})
	t.Run("exits during start-up", func(t *testing.T) {
		s := spec("failing", "fail")
		s.Ready = logged(s.Log, "never logged")
		var kept *jvm.Process
		s.Started = func(p *jvm.Process) { kept = p }
		_, err := jvm.Start(context.Background(), s)
		if kept == nil || !kept.Exited() {
			t.Errorf("Started kept %v; want the process, handed over before the probe and reaped now", kept)
		}
		for _, want := range []string{"failing exited during start-up", "exit status 3", "first error lines", "ERROR boom: no such table", s.Log} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Start = %v, want it to say %q", err, want)
			}
		}
	})
	t.Run("dies once ready", func(t *testing.T) {
		deaths := make(chan error, 1)
		s := spec("dying")
		s.Deaths = deaths
		p, err := jvm.Start(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		// A kill from outside, as an operator's kill -9 would be.
		if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-deaths:
			if !errors.Is(err, jvm.ErrDied) || !strings.Contains(err.Error(), "dying") || !strings.Contains(err.Error(), "signal: killed") {
				t.Errorf("death %v, want ErrDied naming the program and its exit", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("no death reported a minute after the kill")
		}
	})
}
