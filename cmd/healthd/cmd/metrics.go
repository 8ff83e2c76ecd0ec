package cmd

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/healthd-chain/healthd/internal/metrics"
)

const flagMetricsListen = "metrics-listen"

// metricsFlag adds --metrics-listen to a server command.
func metricsFlag(cmd *cobra.Command) {
	cmd.Flags().String(flagMetricsListen, "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; "+
		"off when empty). No identifier is ever a label (docs/operations.md, \"Metrics\")")
}

// serveMetrics serves /metrics on --metrics-listen until ctx ends and returns
// the registry to count into; with the flag empty it returns nil (the server
// then counts into a registry nobody reads).
func serveMetrics(ctx context.Context, cmd *cobra.Command, log *slog.Logger) (prometheus.Registerer, error) {
	addr, _ := cmd.Flags().GetString(flagMetricsListen)
	if addr == "" {
		return nil, nil
	}
	reg := metrics.NewRegistry()
	bound, err := metrics.Serve(ctx, addr, reg, func(err error) { log.Error("metrics server stopped", "err", err) })
	if err != nil {
		return nil, err
	}
	log.Info("metrics", "listen", bound.String())
	return reg, nil
}
