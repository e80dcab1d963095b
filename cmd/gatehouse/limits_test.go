package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

// TestListenerFlags: the limit flags reach listener.Options, and a bad
// --escaped-slashes value is an error naming the flag.
func TestListenerFlags(t *testing.T) {
	var lf listenerFlags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	lf.register(fs)
	if err := fs.Parse([]string{"--max-header-count", "20", "--min-body-rate", "-1", "--body-rate-grace", "3s",
		"--escaped-slashes", "reject", "--keep-duplicate-slashes", "--max-concurrent-streams", "16", "--idle-timeout", "30s"}); err != nil {
		t.Fatal(err)
	}
	o, err := lf.options()
	if err != nil {
		t.Fatal(err)
	}
	want := listener.Options{MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		MaxHeaderCount: 20, MinBodyRate: -1, BodyRateGrace: 3 * time.Second, KeepDuplicateSlashes: true,
		EscapedSlashes: listener.EscapedSlashesReject, MaxConcurrentStreams: 16}
	if o.MaxHeaderBytes != want.MaxHeaderBytes || o.ReadHeaderTimeout != want.ReadHeaderTimeout || o.IdleTimeout != want.IdleTimeout ||
		o.MaxHeaderCount != want.MaxHeaderCount || o.MinBodyRate != want.MinBodyRate || o.BodyRateGrace != want.BodyRateGrace ||
		o.KeepDuplicateSlashes != want.KeepDuplicateSlashes || o.EscapedSlashes != want.EscapedSlashes ||
		o.MaxConcurrentStreams != want.MaxConcurrentStreams {
		t.Errorf("options %+v, want %+v", o, want)
	}
	lf.escapedSlashes = "drop"
	if _, err := lf.options(); err == nil || !strings.Contains(err.Error(), "--escaped-slashes") || !strings.Contains(err.Error(), "drop") {
		t.Errorf("bad --escaped-slashes: %v", err)
	}
	lf.escapedSlashes, lf.o.MaxConcurrentStreams = "keep", 1<<21
	if _, err := lf.options(); err == nil || !strings.Contains(err.Error(), "--max-concurrent-streams") {
		t.Errorf("too many streams: %v", err)
	}
}
