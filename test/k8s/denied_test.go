package k8s

import (
	"testing"
	"time"
)

// TestDeniedBefore: denials logged (slog JSON or klog) before the apiserver
// restart count; those after it do not; a line without a time counts.
func TestDeniedBefore(t *testing.T) {
	stopped := time.Date(2026, 11, 26, 4, 18, 0, 0, time.Local)
	lines := []string{
		`{"time":"` + stopped.Add(-time.Second).UTC().Format(time.RFC3339Nano) + `","level":"WARN","msg":"x is forbidden"}`,
		`{"time":"` + stopped.Add(time.Second).UTC().Format(time.RFC3339Nano) + `","level":"WARN","msg":"y is forbidden"}`,
		`E1126 04:17:59.000001   1 reflector.go:227] "Failed to watch" err="a is forbidden"`,
		`E1126 04:18:19.562192   1 reflector.go:227] "Failed to watch" err="b is forbidden"`,
		`no time here: forbidden`,
	}
	got := deniedBefore(lines, stopped)
	if len(got) != 3 || got[0] != lines[0] || got[1] != lines[2] || got[2] != lines[4] {
		t.Errorf("deniedBefore = %q", got)
	}
	if got := deniedBefore(lines, time.Time{}); len(got) != len(lines) {
		t.Errorf("without a restart every line counts: %d of %d", len(got), len(lines))
	}
}
