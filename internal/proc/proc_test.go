package proc

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartStopKill(t *testing.T) {
	dir := t.TempDir()
	// a shell that logs, then waits; its child sleep is in the same group
	p, err := Start("/bin/sh", []string{"-c", "echo started; sleep 60"}, filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Running() {
		t.Fatal("not running after Start")
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if log, _ := os.ReadFile(p.LogPath()); strings.Contains(string(log), "started") {
			break
		}
	}
	p.Signal(syscall.SIGSTOP) // paused, still there
	if !p.Running() {
		t.Fatal("a paused process counts as exited")
	}
	p.Signal(syscall.SIGCONT)
	start := time.Now()
	p.Stop(5 * time.Second)
	if p.Running() || time.Since(start) > 4*time.Second {
		t.Fatalf("Stop: running %v after %s", p.Running(), time.Since(start))
	}
	if log, _ := os.ReadFile(p.LogPath()); !strings.Contains(string(log), "started") {
		t.Fatalf("the output did not reach the log: %q", log)
	}

	// a process that ignores SIGTERM is killed after the grace period
	p, err = Start("/bin/sh", []string{"-c", "trap '' TERM; sleep 60"}, filepath.Join(dir, "log2"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the shell set its trap
	p.Stop(300 * time.Millisecond)
	if p.Running() {
		t.Fatal("still running after Stop's grace")
	}
	var nilProc *Proc
	if nilProc.Running() {
		t.Fatal("a nil Proc runs")
	}
	if _, err := Start(filepath.Join(dir, "missing"), nil, filepath.Join(dir, "log3")); err == nil {
		t.Fatal("started a missing binary")
	}
}
