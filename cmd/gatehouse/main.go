// Command gatehouse is the Gatehouse gateway: a Kubernetes Gateway API
// implementation that also runs standalone from YAML files.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/version"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit code (e.g. translate's 1 for rejected
// objects) through cobra.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 2
}

func rootCommand() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "Gatehouse: a Gateway API gateway for web and AI traffic",
		Long: `Gatehouse implements the Kubernetes Gateway API. It runs standalone from a
directory of YAML files (gatehouse run) with the same resources you would apply
to a cluster: GatewayClass, Gateway, HTTPRoute, ReferenceGrant, Service,
EndpointSlice, Secret, plus gatehouse.dev StaticBackends.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(runCommand(), translateCommand(), controllerCommand(), proxyCommand(), versionCommand(), echoCommand(), migrateCommand())
	root.SetErr(os.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, msg: fmt.Sprintf("%v\nSee '%s --help'.", err, c.CommandPath())}
	})
	return root
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s\n", version.Version)
		},
	}
}
