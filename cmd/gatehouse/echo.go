package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/spf13/cobra"
)

// echoCommand is a tiny demo upstream: it answers every request with a JSON
// description of what it received, so the quickstart needs nothing else.
func echoCommand() *cobra.Command {
	var listen, name string
	cmd := &cobra.Command{
		Use:     "echo",
		Short:   "Run a demo upstream that echoes requests as JSON",
		Example: `  gatehouse echo --listen 127.0.0.1:9090 --name demo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			slog.Info("echo server listening", "address", listen, "name", name)
			return http.ListenAndServe(listen, echoHandler(name))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9090", "address to listen on")
	cmd.Flags().StringVar(&name, "name", "echo", "name reported in every response")
	return cmd
}

func echoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			headers[k] = fmt.Sprint(r.Header.Values(k))
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"server": name, "method": r.Method, "host": r.Host, "path": r.URL.Path,
			"query": r.URL.RawQuery, "proto": r.Proto, "headers": headers,
		})
	})
}
