package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/translate"
)

func translateCommand() *cobra.Command {
	var dir, controller string
	cmd := &cobra.Command{
		Use:   "translate -f DIR",
		Short: "Translate a config directory offline and print the IR and status",
		Long: `Translate reads DIR as 'gatehouse run' would, and prints as YAML the config
problems, the IR the proxy would receive, and the status conditions of every
object. It exits 1 if any file, object, listener or route was rejected.`,
		Example: `  gatehouse translate -f examples/quickstart`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, rejected, err := translateDir(dir, controller)
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			if rejected {
				return &exitError{code: 1, msg: "some objects were rejected: see problems and status above"}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "filename", "f", "", "directory of YAML/JSON config files (required)")
	cmd.Flags().StringVar(&controller, "controller-name", translate.DefaultControllerName, "GatewayClass controllerName to accept")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func translateDir(dir, controller string) ([]byte, bool, error) {
	tr := translate.New(controller)
	src := file.New(dir, tr, file.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	problems, err := src.Load()
	if err != nil {
		return nil, false, fmt.Errorf("-f %s: %w", dir, err)
	}
	return tr.RenderYAML(problems)
}
