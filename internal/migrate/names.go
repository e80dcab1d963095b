package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// sectionNameRE is the Gateway API SectionName pattern (listener names).
	sectionNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	invalidChars  = regexp.MustCompile(`[^a-z0-9.-]+`)
)

func isDNSLabel(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }

// maxObjectName is the longest object name (a DNS subdomain); listener
// names (SectionName) have the same limit.
const maxObjectName = 253

// hostPart turns a hostname into a name part: "*" becomes "wildcard", an
// empty host "any".
func hostPart(host string) string {
	switch {
	case host == "":
		return "any"
	case strings.HasPrefix(host, "*."):
		return "wildcard." + host[2:]
	}
	return host
}

// cleanName makes s a valid DNS subdomain (and SectionName), shortening
// long names with a hash of the full name so they stay unique.
func cleanName(s string) string {
	s = invalidChars.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-.")
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, ".-", "."), "-.", ".")
	if s == "" {
		s = "x"
	}
	if len(s) > maxObjectName {
		sum := sha256.Sum256([]byte(s))
		s = strings.Trim(s[:maxObjectName-11], "-.") + "-" + hex.EncodeToString(sum[:5])
	}
	return s
}

// uniqueNames hands out names, adding "-2", "-3", ... to repeats.
type uniqueNames map[string]bool

func (u uniqueNames) take(base string) string {
	base = cleanName(base)
	name := base
	for i := 2; u[name]; i++ {
		suffix := "-" + strconv.Itoa(i)
		name = cleanName(strings.TrimRight(base[:min(len(base), maxObjectName-len(suffix))], "-.") + suffix)
	}
	u[name] = true
	return name
}
