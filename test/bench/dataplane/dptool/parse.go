package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// result is one load-generator run: throughput, latency percentiles in
// microseconds, and failed requests (non-2xx/3xx and socket errors).
type result struct {
	RPS      float64
	P50, P99 float64
	Errors   int64
}

func (r result) String() string {
	return fmt.Sprintf("%.0f\t%.0f\t%.0f\t%d", r.RPS, r.P50, r.P99, r.Errors)
}

// parseWrk reads the output of `wrk --latency`.
func parseWrk(out string) (result, error) {
	var r result
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return r, fmt.Errorf("wrk: bad Requests/sec %q", f[1])
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			us, err := parseDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk: latency %s: %w", f[0], err)
			}
			if f[0] == "50%" {
				r.P50, have50 = us, true
			} else {
				r.P99, have99 = us, true
			}
		case len(f) == 5 && f[0] == "Non-2xx" && f[3] == "responses:":
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil || n < 0 {
				return r, fmt.Errorf("wrk: bad Non-2xx count %q", f[4])
			}
			r.Errors += n
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil || n < 0 {
					return r, fmt.Errorf("wrk: bad socket error count %q", f[i+1])
				}
				r.Errors += n
			}
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, errors.New("wrk: no Requests/sec or 50%/99% latency lines (was --latency given?)")
	}
	return r, nil
}

// parseDuration converts wrk's "812.00us", "1.20ms", "2.00s", "1.00m" to
// microseconds.
func parseDuration(s string) (float64, error) {
	units := []struct {
		suffix string
		us     float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return v * u.us, nil
		}
	}
	return 0, fmt.Errorf("bad duration %q: no unit", s)
}

// parseH2load reads h2load's summary (req/s and failures) and its
// --log-file (one request a line: start time, status, duration in
// microseconds) for the percentiles, which the summary does not give.
func parseH2load(out, log string) (result, error) {
	var r result
	var haveRPS bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && f[0] == "finished" && f[1] == "in":
			v, err := strconv.ParseFloat(f[3], 64)
			if err != nil || f[4] != "req/s," || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return r, fmt.Errorf("h2load: bad summary line %q", line)
			}
			r.RPS, haveRPS = v, true
		case len(f) >= 2 && f[0] == "requests:":
			// requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
			for i := 1; i+1 < len(f); i += 2 {
				if w := strings.TrimSuffix(f[i+1], ","); w == "failed" || w == "timeout" {
					n, err := strconv.ParseInt(f[i], 10, 64)
					if err != nil || n < 0 {
						return r, fmt.Errorf("h2load: bad count %q", f[i])
					}
					r.Errors += n
				}
			}
		}
	}
	if !haveRPS {
		return r, errors.New("h2load: no \"finished in\" line")
	}
	var lat []float64
	sc = bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return r, fmt.Errorf("h2load log: bad duration %q", f[2])
		}
		if code, err := strconv.Atoi(f[1]); err != nil || code < 200 || code >= 400 {
			continue // failures are counted from the summary
		}
		lat = append(lat, v)
	}
	if len(lat) == 0 {
		return r, errors.New("h2load log: no successful requests")
	}
	slices.Sort(lat)
	r.P50, r.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return r, nil
}

// percentile returns the q-quantile (nearest rank) of sorted values.
func percentile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
