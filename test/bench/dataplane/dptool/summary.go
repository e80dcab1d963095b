package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// row is one cell of one round in results.tsv:
// round, scenario, proxy, req/s, p50 us, p99 us, errors, proxy CPU us/request.
type row struct {
	Round, Scenario, Proxy string
	result
	CPU float64 // proxy CPU microseconds per request; NaN when not measured
}

// baselineProxy is the proxy every ratio is taken against; directProxy is
// the no-proxy limit (client straight to the upstream).
const (
	baselineProxy = "gatehouse"
	directProxy   = "direct"
)

func parseResults(s string) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(strings.NewReader(s))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			return nil, fmt.Errorf("line %d: want 8 tab-separated fields, got %d", n, len(f))
		}
		var nums [5]float64
		for i, s := range []string{f[3], f[4], f[5], f[6], f[7]} {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) {
				if i == 4 && s == "-" {
					nums[i] = math.NaN()
					continue
				}
				return nil, fmt.Errorf("line %d: field %d: bad number %q", n, i+4, s)
			}
			nums[i] = v
		}
		rows = append(rows, row{Round: f[0], Scenario: f[1], Proxy: f[2],
			result: result{RPS: nums[0], P50: nums[1], P99: nums[2], Errors: int64(nums[3])}, CPU: nums[4]})
	}
	return rows, sc.Err()
}

// cell is the median over rounds of one scenario and proxy.
type cell struct {
	rps, p50, p99, cpu float64
	errors             int64
	rounds             int
}

func median(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// writeSummary prints one markdown table per scenario, in the order the
// scenarios first appear; the no-proxy limit first, then Gatehouse, then the
// peers in the order they appear.
func writeSummary(w io.Writer, rows []row) {
	var scenarios, proxies []string
	samples := map[[2]string][][4]float64{}
	errs := map[[2]string]int64{}
	for _, r := range rows {
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		if !slices.Contains(proxies, r.Proxy) {
			proxies = append(proxies, r.Proxy)
		}
		k := [2]string{r.Scenario, r.Proxy}
		samples[k] = append(samples[k], [4]float64{r.RPS, r.P50, r.P99, r.CPU})
		errs[k] += r.Errors
	}
	slices.SortStableFunc(proxies, func(a, b string) int { return proxyRank(a) - proxyRank(b) })
	for _, sc := range scenarios {
		cells := map[string]cell{}
		for _, p := range proxies {
			s := samples[[2]string{sc, p}]
			if len(s) == 0 {
				continue
			}
			col := func(i int) []float64 {
				out := make([]float64, len(s))
				for j := range s {
					out[j] = s[j][i]
				}
				return out
			}
			cells[p] = cell{rps: median(col(0)), p50: median(col(1)), p99: median(col(2)), cpu: median(col(3)),
				errors: errs[[2]string{sc, p}], rounds: len(s)}
		}
		base, haveBase := cells[baselineProxy]
		fmt.Fprintf(w, "\n### %s\n\n", sc)
		fmt.Fprintln(w, "| proxy | req/s | p50 | p99 | proxy CPU/req | errors | req/s vs gatehouse | p99 vs gatehouse |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, p := range proxies {
			c, ok := cells[p]
			if !ok {
				continue
			}
			rr, pr := "–", "–"
			if haveBase && base.rps > 0 && base.p99 > 0 {
				rr = fmt.Sprintf("%.2fx", c.rps/base.rps)
				pr = fmt.Sprintf("%.2fx", c.p99/base.p99)
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %d | %s | %s |\n",
				p, c.rps, fmtUS(c.p50), fmtUS(c.p99), fmtCPU(c.cpu), c.errors, rr, pr)
		}
	}
}

func proxyRank(p string) int {
	switch p {
	case directProxy:
		return 0
	case baselineProxy:
		return 1
	}
	return 2
}

func fmtUS(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f us", us)
}

func fmtCPU(us float64) string {
	if math.IsNaN(us) {
		return "–"
	}
	return fmt.Sprintf("%.1f us", us)
}
