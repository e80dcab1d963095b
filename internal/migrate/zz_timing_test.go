package migrate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZTiming(t *testing.T) {
	files, _ := filepath.Glob("/tmp/mfz/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.SplitN(string(b), "\n", 2)
		lit := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")"))
		data, err := strconv.Unquote(lit)
		if err != nil {
			t.Log(f, err)
			continue
		}
		start := time.Now()
		in, _ := DecodeInput("x", []byte(data))
		res, _, _ := Migrate(in, DefaultOptions())
		RenderYAML(res.Objects())
		t.Logf("%s %d bytes %v", filepath.Base(f), len(data), time.Since(start))
	}
}
