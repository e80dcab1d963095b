package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a control-plane binary the harness started and owns.
type process struct {
	name    string
	bin     string
	args    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startProcess runs bin with args, output to logPath (truncated). The child
// gets SIGKILL if the harness dies (Pdeathsig), so a crashed test leaves no
// control plane behind.
func startProcess(name, bin, logPath string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return launch(&process{name: name, bin: bin, args: args, logPath: logPath}, logf)
}

// restart starts a new process with the same binary and arguments as p,
// appending to p's log after a marker line, so the log keeps the history of
// every run. p must have exited.
func (p *process) restart() (*process, error) {
	if !p.exited() {
		return nil, fmt.Errorf("restart %s: still running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n===== gatehouse cluster harness: restarting %s at %s =====\n", p.name, time.Now().UTC().Format(time.RFC3339Nano))
	return launch(&process{name: p.name, bin: p.bin, args: p.args, logPath: p.logPath}, logf)
}

func launch(p *process, logf *os.File) (*process, error) {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// pid is the process ID of the running (or exited) process.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process (by PID) and SIGKILL after timeout.
func (p *process) stop(timeout time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail returns the last lines of the process log for error messages.
func (p *process) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(bytes.TrimSpace(data))
}
