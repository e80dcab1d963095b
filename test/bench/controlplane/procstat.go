package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (the kernel's ABI fixes it
// independently of the scheduler's HZ).
const ClockTicks = 100

// ProcStat is what the benchmarks read from /proc/PID/stat.
type ProcStat struct {
	// UserTicks and SystemTicks are the CPU time used, in ClockTicks.
	UserTicks, SystemTicks uint64
	// Threads is the number of OS threads.
	Threads int64
	// RSSPages is the resident set size in pages, as the kernel
	// approximates it here (see ProcessSampler.Sample for the exact one).
	RSSPages int64
}

// CPUSeconds is the total CPU time, user plus system.
func (s ProcStat) CPUSeconds() float64 {
	return float64(s.UserTicks+s.SystemTicks) / ClockTicks
}

// RSSBytes is the resident set size in bytes.
func (s ProcStat) RSSBytes() int64 { return s.RSSPages * int64(os.Getpagesize()) }

// Field positions in /proc/PID/stat (proc(5)), counted from 1; the command
// name (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted after its last ')'.
const (
	fieldUtime   = 14
	fieldStime   = 15
	fieldThreads = 20
	fieldRSS     = 24
)

// ParseProcStat parses the contents of /proc/PID/stat.
func ParseProcStat(b []byte) (ProcStat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return ProcStat{}, errors.New("proc stat: no (command name)")
	}
	// After the name come fields 3 onwards.
	rest := bytes.Fields(b[end+1:])
	field := func(n int) ([]byte, error) {
		i := n - 3
		if i >= len(rest) {
			return nil, fmt.Errorf("proc stat: %d fields after the command name, need field %d", len(rest), n)
		}
		return rest[i], nil
	}
	var s ProcStat
	var err error
	for _, f := range []struct {
		n   int
		dst *uint64
	}{{fieldUtime, &s.UserTicks}, {fieldStime, &s.SystemTicks}} {
		v, ferr := field(f.n)
		if ferr != nil {
			return ProcStat{}, ferr
		}
		if *f.dst, err = strconv.ParseUint(string(v), 10, 64); err != nil {
			return ProcStat{}, fmt.Errorf("proc stat: field %d: %w", f.n, err)
		}
	}
	for _, f := range []struct {
		n   int
		dst *int64
	}{{fieldThreads, &s.Threads}, {fieldRSS, &s.RSSPages}} {
		v, ferr := field(f.n)
		if ferr != nil {
			return ProcStat{}, ferr
		}
		if *f.dst, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return ProcStat{}, fmt.Errorf("proc stat: field %d: %w", f.n, err)
		}
	}
	return s, nil
}

// ReadProcStat reads and parses /proc/PID/stat.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, err
	}
	s, err := ParseProcStat(b)
	if err != nil {
		return ProcStat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// RSSBreakdown splits the resident set (from /proc/PID/status): Anon is
// memory the process allocated (Go heap, stacks, runtime), File is mapped
// files (mostly the executable's own pages), Shmem shared memory.
type RSSBreakdown struct {
	AnonBytes, FileBytes, ShmemBytes int64
}

// Total is the resident set size (VmRSS).
func (r RSSBreakdown) Total() int64 { return r.AnonBytes + r.FileBytes + r.ShmemBytes }

// ParseProcStatus reads the RssAnon, RssFile and RssShmem lines ("RssAnon:
// 1234 kB") of /proc/PID/status; all three must be present.
func ParseProcStatus(b []byte) (RSSBreakdown, error) {
	var r RSSBreakdown
	want := map[string]*int64{"RssAnon:": &r.AnonBytes, "RssFile:": &r.FileBytes, "RssShmem:": &r.ShmemBytes}
	found := 0
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst, ok := want[string(f[0])]
		if !ok {
			continue
		}
		if len(f) != 3 || string(f[2]) != "kB" {
			return RSSBreakdown{}, fmt.Errorf("proc status: %q: want \"<name> <n> kB\"", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return RSSBreakdown{}, fmt.Errorf("proc status: %q: bad size", bytes.TrimSpace(line))
		}
		*dst = kb << 10
		delete(want, string(f[0]))
		found++
	}
	if found != 3 {
		return RSSBreakdown{}, fmt.Errorf("proc status: %d of RssAnon, RssFile, RssShmem found", found)
	}
	return r, nil
}

// ReadRSSBreakdown reads and parses /proc/PID/status.
func ReadRSSBreakdown(pid int) (RSSBreakdown, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return RSSBreakdown{}, err
	}
	r, err := ParseProcStatus(b)
	if err != nil {
		return RSSBreakdown{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return r, nil
}
