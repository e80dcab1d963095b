// Package version holds the build's version, set at link time with
// -ldflags "-X gatehouse.dev/gatehouse/internal/version.Version=v0.1.0".
package version

// Version is the release version; "dev" for local builds.
var Version = "dev"
