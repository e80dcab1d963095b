package controlplane

import (
	"os"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func nowAt(seconds int) time.Time { return epoch.Add(time.Duration(seconds) * time.Second) }

func selfPID() int { return os.Getpid() }

func TestDeploymentOf(t *testing.T) {
	for pod, want := range map[string]string{
		"echo-a-5d9c7b8f6-x2x9z": "echo-a",
		"flap-7f8d9-abcde":       "flap",
		"single":                 "single",
		"":                       "",
	} {
		if got := deploymentOf(pod); got != want {
			t.Errorf("deploymentOf(%q) = %q, want %q", pod, got, want)
		}
	}
}

func TestWindowOf(t *testing.T) {
	ws := []downWindow{{down: nowAt(10), up: nowAt(11)}, {down: nowAt(20), up: nowAt(22)}}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{nowAt(9), -1}, {nowAt(10), 0}, {nowAt(12), 0}, // within the grace after up
		{nowAt(11).Add(flapGrace), -1}, {nowAt(21), 1}, {nowAt(30), -1},
	} {
		if got := windowOf(ws, tc.at); got != tc.want {
			t.Errorf("windowOf(%v) = %d, want %d", tc.at.Sub(epoch), got, tc.want)
		}
	}
}

func TestJitteredStaysWithinAQuarter(t *testing.T) {
	for range 1000 {
		if d := jittered(time.Second); d < 750*time.Millisecond || d >= 1250*time.Millisecond {
			t.Fatalf("jittered(1s) = %v", d)
		}
	}
}
