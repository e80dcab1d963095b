// Command dptool is the helper of test/bench/dataplane/run.sh: it hands out
// free loopback ports, turns wrk and h2load output into result rows, and
// prints the summary table with ratios against Gatehouse.
//
//	dptool ports N                      N free 127.0.0.1 ports, one a line
//	dptool wrk FILE                     "req/s p50_us p99_us" from wrk --latency output
//	dptool h2load FILE LOG              the same from h2load output and its --log-file
//	dptool summary RESULTS.tsv          the table (median over rounds per cell)
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dptool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: dptool ports|wrk|h2load|summary ...")
	}
	switch args[0] {
	case "ports":
		if len(args) != 2 {
			return fmt.Errorf("usage: dptool ports N")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 || n > 64 {
			return fmt.Errorf("ports: N must be 1-64, got %q", args[1])
		}
		return printPorts(n)
	case "wrk":
		if len(args) != 2 {
			return fmt.Errorf("usage: dptool wrk FILE")
		}
		b, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		r, err := parseWrk(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Println(r)
		return nil
	case "h2load":
		if len(args) != 3 {
			return fmt.Errorf("usage: dptool h2load FILE LOG")
		}
		out, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		log, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		r, err := parseH2load(string(out), string(log))
		if err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Println(r)
		return nil
	case "summary":
		if len(args) != 2 {
			return fmt.Errorf("usage: dptool summary RESULTS.tsv")
		}
		b, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		rows, err := parseResults(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		writeSummary(os.Stdout, rows)
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// printPorts holds n listeners open at once so the ports are distinct, then
// releases them for the proxies to bind.
func printPorts(n int) error {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}
