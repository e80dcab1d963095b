package provision

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoPath is the repository root as seen from this package's directory.
const repoPath = "../.."

// document is one YAML document of a manifest file.
type document struct {
	file string // relative to the repository root
	data []byte
	// kind and apiVersion as written in the document.
	apiVersion, kind string
}

func (d document) String() string { return d.file + ": " + d.kind }

// readDocuments returns every non-empty YAML document of the .yaml files
// under dir (relative to the repository root).
func readDocuments(t *testing.T, dir string) []document {
	t.Helper()
	var docs []document
	err := filepath.WalkDir(filepath.Join(repoPath, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoPath, path)
		docs = append(docs, splitDocuments(t, rel, data)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no YAML documents under %s", dir)
	}
	return docs
}

func splitDocuments(t *testing.T, file string, data []byte) []document {
	t.Helper()
	var docs []document
	for _, part := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(part))) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(part, &head); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		docs = append(docs, document{file: file, data: part, apiVersion: head.APIVersion, kind: head.Kind})
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// decodeStrict decodes d into out, failing on fields out's type lacks, so a
// misspelt or misplaced field in a manifest fails the test instead of being
// silently dropped by the apiserver.
func decodeStrict(t *testing.T, d document, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(d.data, out); err != nil {
		t.Errorf("%s: %v", d, err)
	}
}
