package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"gatehouse.dev/gatehouse/internal/telemetry"
)

// The operations guide must list exactly the flags, metrics and access-log
// fields the code has, so it cannot drift.

func readOperationsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text from the heading line to the next heading of the
// same or a higher level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/operations.md has no heading %q", heading)
	}
	rest := doc[i+len(heading)+2:]
	level := strings.Repeat("#", strings.Count(strings.Fields(heading)[0], "#"))
	for j := 0; j < len(rest); {
		k := strings.Index(rest[j:], "\n#")
		if k < 0 {
			break
		}
		line := rest[j+k+1:]
		hashes := len(line) - len(strings.TrimLeft(line, "#"))
		if hashes <= len(level) {
			return rest[:j+k]
		}
		j += k + 1
	}
	return rest
}

var rowKey = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|(.*)$")

// rows maps the first (backquoted) cell of each table row to the rest.
func rows(text string) map[string]string {
	out := map[string]string{}
	for _, m := range rowKey.FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestOperationsDocFlags(t *testing.T) {
	doc := readOperationsDoc(t)
	root := rootCommand()
	cmds := append([]*cobra.Command{root}, root.Commands()...)
	for _, c := range cmds {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		fs := c.LocalFlags()
		if c == root {
			fs = c.PersistentFlags()
		}
		want := map[string]string{}
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				want["--"+f.Name] = f.Usage
			}
		})
		documented := rows(section(t, doc, "### `"+c.CommandPath()+"`"))
		for name, usage := range want {
			row, ok := documented[name]
			if !ok {
				t.Errorf("%s %s is not documented in docs/operations.md", c.CommandPath(), name)
				continue
			}
			if !strings.Contains(row, usage) {
				t.Errorf("%s %s: documented as %q, the flag says %q", c.CommandPath(), name, row, usage)
			}
		}
		for name := range documented {
			if _, ok := want[name]; !ok {
				t.Errorf("docs/operations.md documents %s %s, which does not exist", c.CommandPath(), name)
			}
		}
	}
}

func TestOperationsDocMetrics(t *testing.T) {
	doc := readOperationsDoc(t)
	documented := map[string]string{}
	for name, row := range rows(section(t, doc, "## Metrics")) {
		if strings.HasPrefix(name, "gatehouse_") {
			documented[name] = row
		}
	}
	for _, s := range append(telemetry.ProxySpecs(), telemetry.ControlPlaneSpecs()...) {
		row, ok := documented[s.Name]
		if !ok {
			t.Errorf("metric %s is not documented", s.Name)
			continue
		}
		delete(documented, s.Name)
		cells := strings.Split(row, "|")
		if len(cells) < 3 || strings.TrimSpace(cells[0]) != string(s.Type) ||
			strings.TrimSpace(cells[1]) != strings.Join(s.Labels, ", ") || !strings.Contains(row, s.Help) {
			t.Errorf("metric %s: documented as %q, the code says %s [%s] %q", s.Name, row, s.Type, strings.Join(s.Labels, ", "), s.Help)
		}
	}
	for name := range documented {
		t.Errorf("docs/operations.md documents metric %s, which does not exist", name)
	}
}

func TestOperationsDocAccessLogFields(t *testing.T) {
	doc := readOperationsDoc(t)
	documented := rows(section(t, doc, "## Access logs"))
	var want, got []string
	for _, f := range telemetry.BuiltinFields() {
		want = append(want, f[0])
		if row, ok := documented[f[0]]; !ok || !strings.Contains(row, f[1]) {
			t.Errorf("access-log field %s: documented as %q, the code says %q", f[0], row, f[1])
		}
	}
	for name := range documented {
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, ",") != strings.Join(got, ",") {
		t.Errorf("documented access-log fields %v, built-in fields %v", got, want)
	}
}
