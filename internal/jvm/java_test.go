package jvm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/jvm"
)

// TestFindJava checks the search order and the versions FindJava reads,
// with scripts that answer -version as a JDK does (stderr, like java).
func TestFindJava(t *testing.T) {
	tmp := t.TempDir()
	jdk := func(name, version string) string {
		java := filepath.Join(tmp, name, "bin", "java")
		if err := os.MkdirAll(filepath.Dir(java), 0o755); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf("#!/bin/sh\necho 'openjdk version \"%s\" 2025-01-01' >&2\n", version)
		if err := os.WriteFile(java, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return java
	}
	java17, java21, java8 := jdk("jdk17", "17.0.15"), jdk("jdk21", "21.0.4"), jdk("jdk8", "1.8.0_402")

	t.Run("JAVA_HOME too old for 21, the one on PATH is not", func(t *testing.T) {
		t.Setenv("JAVA_HOME", filepath.Join(tmp, "jdk17"))
		t.Setenv("PATH", filepath.Dir(java21))
		got, err := jvm.FindJava(context.Background(), jvm.Need{Min: 21, For: "Debezium Server"})
		if err != nil || got != java21 {
			t.Fatalf("FindJava = %q, %v; want %s", got, err, java21)
		}
	})
	t.Run("JAVA_HOME first when it is new enough", func(t *testing.T) {
		t.Setenv("JAVA_HOME", filepath.Join(tmp, "jdk17"))
		t.Setenv("PATH", filepath.Dir(java21))
		got, err := jvm.FindJava(context.Background(), jvm.Need{Min: 17, For: "Kafka"})
		if err != nil || got != java17 {
			t.Fatalf("FindJava = %q, %v; want %s", got, err, java17)
		}
	})
	t.Run("JAVA_HOME too old, none on PATH: the JDK directory's newest", func(t *testing.T) {
		dir := filepath.Join(tmp, "jvmdir")
		java25 := filepath.Join(dir, "temurin-25-jdk-amd64", "bin", "java")
		for _, j := range []string{java25, filepath.Join(dir, "java-21-openjdk-amd64", "bin", "java")} {
			if err := os.MkdirAll(filepath.Dir(j), 0o755); err != nil {
				t.Fatal(err)
			}
			v := "21.0.4"
			if j == java25 {
				v = "25.0.1"
			}
			if err := os.WriteFile(j, []byte(fmt.Sprintf("#!/bin/sh\necho 'openjdk version \"%s\"' >&2\n", v)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("JAVA_HOME", filepath.Join(tmp, "jdk17"))
		t.Setenv("PATH", t.TempDir())
		t.Setenv(jvm.JDKDirEnv, dir)
		got, err := jvm.FindJava(context.Background(), jvm.Need{Min: 21, For: "Debezium Server"})
		if err != nil || got != java25 {
			t.Fatalf("FindJava = %q, %v; want %s", got, err, java25)
		}
		t.Setenv(jvm.JDKDirEnv, t.TempDir())
		_, err = jvm.FindJava(context.Background(), jvm.Need{Min: 21, For: "Debezium Server"})
		if !errors.Is(err, jvm.ErrNoJava) || !strings.Contains(err.Error(), "is Java 17") || !strings.Contains(err.Error(), "openjdk-21-jdk-headless") {
			t.Fatalf("FindJava without a JDK 21 = %v; want ErrNoJava naming the Java 17 found and what to install", err)
		}
	})
	for _, tc := range []struct {
		name, java string
		min        int
		want       []string
	}{
		{"a given java too old", java17, 21, []string{"is Java 17", "Debezium Server needs Java 21", "openjdk-21-jdk-headless", "JAVA_HOME"}},
		{"Java 8's version string", java8, 17, []string{"is Java 8", "openjdk-17-jdk-headless", "scripts/ensure-java.sh"}},
		{"no such java", filepath.Join(tmp, "none"), 17, []string{"-version failed", "JAVA_HOME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jvm.FindJava(context.Background(), jvm.Need{Java: tc.java, Min: tc.min, For: "Debezium Server"})
			if !errors.Is(err, jvm.ErrNoJava) {
				t.Fatalf("FindJava = %v, want ErrNoJava", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
