package main

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseWrk(t *testing.T) {
	b, err := os.ReadFile("testdata/wrk.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseWrk(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := result{RPS: 44707.33, P50: 1380, P99: 2400, Errors: 7}
	if math.Abs(r.RPS-want.RPS) > 0.01 || math.Abs(r.P50-want.P50) > 1e-6 || math.Abs(r.P99-want.P99) > 1e-6 || r.Errors != want.Errors {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	if _, err := parseWrk("Requests/sec: 10\n"); err == nil {
		t.Fatal("output without --latency accepted")
	}
}

func TestParseH2load(t *testing.T) {
	out, _ := os.ReadFile("testdata/h2load.txt")
	log, _ := os.ReadFile("testdata/h2load.log")
	r, err := parseH2load(string(out), string(log))
	if err != nil {
		t.Fatal(err)
	}
	// The failed request (502) is left out of the percentiles.
	if r.RPS != 25000.33 || r.P50 != 1000 || r.P99 != 1100 || r.Errors != 2 {
		t.Fatalf("got %+v", r)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]float64{"812.00us": 812, "1.20ms": 1200, "2.00s": 2e6, "1.00m": 60e6} {
		if got, err := parseDuration(in); err != nil || math.Abs(got-want) > 1e-6 {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "-1ms", "NaNms", "1.2xs"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSummary(t *testing.T) {
	in := "# header\n" +
		"1\th1-c64\tdirect\t60000\t900\t1500\t0\t-\n" +
		"1\th1-c64\tgatehouse\t20000\t3000\t5000\t0\t45.0\n" +
		"2\th1-c64\tgatehouse\t30000\t2000\t4000\t1\t35.0\n" +
		"1\th1-c64\tnginx\t50000\t1200\t2000\t0\t20.0\n"
	rows, err := parseResults(in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writeSummary(&buf, rows)
	out := buf.String()
	for _, want := range []string{
		"| direct | 60000 | 900 us | 1.50 ms | – | 0 | 2.40x | 0.33x |",
		"| gatehouse | 25000 | 2.50 ms | 4.50 ms | 40.0 us | 1 | 1.00x | 1.00x |",
		"| nginx | 50000 | 1.20 ms | 2.00 ms | 20.0 us | 0 | 2.00x | 0.44x |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if _, err := parseResults("1\tx\ty\t1\t2\n"); err == nil {
		t.Error("short row accepted")
	}
}

// FuzzParsers: no output of a load generator makes the parsers panic or
// return negative figures. Seeds are in testdata/fuzz.
func FuzzParsers(f *testing.F) {
	f.Add("Requests/sec: 1\n 50% 1ms\n 99% 2ms\n", "1\t200\t5\n")
	f.Fuzz(func(t *testing.T, out, log string) {
		for _, r := range []func() (result, error){
			func() (result, error) { return parseWrk(out) },
			func() (result, error) { return parseH2load(out, log) },
		} {
			res, err := r()
			if err == nil && (res.RPS < 0 || res.P50 < 0 || res.P99 < 0 || res.Errors < 0) {
				t.Fatalf("negative figures %+v", res)
			}
		}
		if rows, err := parseResults(out); err == nil {
			writeSummary(&bytes.Buffer{}, rows)
		}
	})
}
