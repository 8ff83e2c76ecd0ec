// Package proc runs the child processes of healthd's test harness and tools
// (a node, a vault, a portal): each in its own process group, so stopping it
// reaches every child it started; killed with its parent (Pdeathsig), so a
// crashed or timed-out test leaves nothing running; its output in a log file.
// testutil/network and cmd/healthd-bench both start, stop and kill nodes
// through it.
package proc

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is one running (or exited) child process.
type Proc struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// Start starts bin with args, its stdout and stderr to logPath.
func Start(bin string, args []string, logPath string) (*Proc, error) {
	return StartEnv(bin, args, nil, logPath)
}

// StartEnv is Start with env (KEY=value) added to this process's environment.
func StartEnv(bin string, args, env []string, logPath string) (*Proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	p := &Proc{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// LogPath is the file the process writes to.
func (p *Proc) LogPath() string { return p.logPath }

// Pid is the process id (and the id of its process group).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (valid once Exited is closed).
func (p *Proc) Err() error { return p.waitErr }

// Running reports whether the process has not exited (false for nil).
func (p *Proc) Running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process group (SIGSTOP and SIGCONT pause and
// resume it).
func (p *Proc) Signal(sig syscall.Signal) { _ = syscall.Kill(-p.Pid(), sig) }

// Stop sends SIGTERM to the process group, SIGKILL after grace, and waits for
// the exit of the whole group: a child may outlive the process it started
// (cosmovisor's healthd, still writing its home), and the caller may delete
// that home next.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	deadline := time.Now().Add(grace)
	if p.Running() {
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			p.Kill()
		}
	}
	killed := false
	for syscall.Kill(-p.Pid(), 0) == nil { // some process of the group is left
		switch {
		case !killed && time.Now().After(deadline):
			p.Signal(syscall.SIGKILL)
			killed, deadline = true, time.Now().Add(5*time.Second)
		case killed && time.Now().After(deadline):
			return // only unreaped zombies can be left: nothing writes any more
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill sends SIGKILL to the process group (a crash) and waits for the exit.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	p.Signal(syscall.SIGKILL)
	<-p.exited
}
