package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

// listenerFlags are the downstream limits shared by `gatehouse run` and
// `gatehouse proxy` (see the "Limits and hostile clients" section of
// docs/reliability.md).
type listenerFlags struct {
	o              listener.Options
	escapedSlashes string
}

func (l *listenerFlags) register(f *pflag.FlagSet) {
	f.IntVar(&l.o.MaxHeaderBytes, "max-header-bytes", 64<<10, "largest request header block accepted (larger gets 431)")
	f.DurationVar(&l.o.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client has to send its request headers")
	f.DurationVar(&l.o.IdleTimeout, "idle-timeout", 120*time.Second, "how long an idle keep-alive client connection stays open")
	f.IntVar(&l.o.MaxHeaderCount, "max-header-count", 100, "most header fields a request may carry (more gets 431); -1 disables the limit")
	f.IntVar(&l.o.MinBodyRate, "min-body-rate", 256, "lowest average rate in bytes/s at which a request body must arrive after --body-rate-grace (slower gets 408); -1 disables it")
	f.DurationVar(&l.o.BodyRateGrace, "body-rate-grace", 10*time.Second, "time a request body may take before --min-body-rate applies")
	f.BoolVar(&l.o.KeepDuplicateSlashes, "keep-duplicate-slashes", false, "do not merge runs of \"/\" in request paths before routing")
	f.StringVar(&l.escapedSlashes, "escaped-slashes", string(listener.EscapedSlashesKeep), "encoded slashes (%2F, %5C) in paths: keep, reject (400) or unescape")
	f.IntVar(&l.o.MaxConcurrentStreams, "max-concurrent-streams", 100, "most HTTP/2 streams a client may have open on one connection")
}

// options returns the validated listener options.
func (l *listenerFlags) options() (listener.Options, error) {
	o := l.o
	o.EscapedSlashes = listener.EscapedSlashes(l.escapedSlashes)
	if err := (listener.Options{EscapedSlashes: o.EscapedSlashes}).Validate(); err != nil {
		return o, fmt.Errorf("--escaped-slashes: %w", err)
	}
	if err := (listener.Options{MaxConcurrentStreams: o.MaxConcurrentStreams}).Validate(); err != nil {
		return o, fmt.Errorf("--max-concurrent-streams: %w", err)
	}
	return o, nil
}
