package controlplane

import (
	"os"
	"strings"
	"testing"
)

// A real line with a command name holding spaces and parentheses.
const sampleStat = "4242 (gate (house) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 17 0 123456 1234567890 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseProcStat(t *testing.T) {
	s, err := ParseProcStat([]byte(sampleStat))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStat{UserTicks: 250, SystemTicks: 75, Threads: 17, RSSPages: 3000}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if got := s.CPUSeconds(); got != 3.25 {
		t.Errorf("CPUSeconds = %v, want 3.25", got)
	}
	if got := s.RSSBytes(); got != 3000*int64(os.Getpagesize()) {
		t.Errorf("RSSBytes = %d", got)
	}
}

func TestParseProcStatErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"no name":       "1 S 2 3",
		"truncated":     "1 (x) S 1 1 1 0 -1 0 0 0 0 0 5",
		"utime not int": strings.Replace(sampleStat, " 250 ", " x ", 1),
		"rss not int":   strings.Replace(sampleStat, " 3000 ", " 3k ", 1),
	} {
		if _, err := ParseProcStat([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "proc stat") {
			t.Errorf("%s: error %q does not say what it parsed", name, err)
		}
	}
}

func TestReadProcStatOfSelf(t *testing.T) {
	s, err := ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.Threads < 1 || s.RSSPages < 1 {
		t.Errorf("implausible stat of this process: %+v", s)
	}
	if _, err := ReadProcStat(-1); err == nil {
		t.Error("pid -1: no error")
	}
}

// FuzzParseProcStat: any input gives a value or an error, never a panic,
// and a parsed value survives being written back in the same layout.
func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte(sampleStat))
	f.Add([]byte("1 ((()) R"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseProcStat(b)
		if err != nil {
			return
		}
		if s.UserTicks > 0 && s.CPUSeconds() <= 0 {
			t.Errorf("CPU seconds %v from %d ticks", s.CPUSeconds(), s.UserTicks)
		}
	})
}

const sampleStatus = "Name:\tgatehouse\nVmRSS:\t   98000 kB\nRssAnon:\t   60000 kB\nRssFile:\t   38000 kB\nRssShmem:\t       0 kB\nThreads:\t9\n"

func TestParseProcStatus(t *testing.T) {
	r, err := ParseProcStatus([]byte(sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	if r != (RSSBreakdown{AnonBytes: 60000 << 10, FileBytes: 38000 << 10}) || r.Total() != 98000<<10 {
		t.Errorf("got %+v", r)
	}
	for name, in := range map[string]string{
		"missing line": strings.Replace(sampleStatus, "RssShmem:\t       0 kB\n", "", 1),
		"bad unit":     strings.Replace(sampleStatus, "60000 kB", "60000 MB", 1),
		"bad number":   strings.Replace(sampleStatus, "60000 kB", "6e4 kB", 1),
		"negative":     strings.Replace(sampleStatus, "60000 kB", "-1 kB", 1),
	} {
		if _, err := ParseProcStatus([]byte(in)); err == nil || !strings.Contains(err.Error(), "proc status") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	self, err := ReadRSSBreakdown(os.Getpid())
	if err != nil || self.AnonBytes <= 0 || self.FileBytes <= 0 {
		t.Errorf("this process: %+v %v", self, err)
	}
}

func FuzzParseProcStatus(f *testing.F) {
	f.Add([]byte(sampleStatus))
	f.Add([]byte("RssAnon: 1 kB\nRssFile: 2 kB\nRssShmem: 3 kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseProcStatus(b)
		if err == nil && (r.AnonBytes < 0 || r.FileBytes < 0 || r.ShmemBytes < 0) {
			t.Errorf("negative size without an error: %+v", r)
		}
	})
}
