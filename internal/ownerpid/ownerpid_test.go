package ownerpid_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

func TestCheck(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name    string
		content string // "" = no file; "claim" = Claim
		want    ownerpid.State
	}{
		{"claimed by this process", "claim", ownerpid.Alive},
		{"owner exited", strconv.Itoa(dead.Process.Pid) + " 1\n", ownerpid.Dead},
		{"pid reused by another process", self + " 1\n", ownerpid.Dead},
		{"no owner file", "", ownerpid.Unknown},
		{"garbage", "not a pid\n", ownerpid.Unknown},
		{"negative pid", "-1 5\n", ownerpid.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			switch tc.content {
			case "":
			case "claim":
				if err := ownerpid.Claim(dir); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(filepath.Join(dir, ownerpid.File), []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := ownerpid.Check(dir); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}
