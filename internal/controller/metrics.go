package controller

import (
	"net/http"

	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/provision"
	"gatehouse.dev/gatehouse/internal/source"
	"gatehouse.dev/gatehouse/internal/telemetry"
)

// controllerTelemetry holds the controller's metrics when Options.Metrics is
// set. The sources are read lazily (at scrape time), so they may be wired
// after the metrics are created.
type controllerTelemetry struct {
	translation *telemetry.TranslationMetrics
	controller  *telemetry.ControllerMetrics
	handler     http.Handler
}

// initMetrics registers the controller's metrics on Options.Metrics; it is a
// no-op when that is nil.
func (c *Controller) initMetrics() {
	reg := c.opts.Metrics
	if reg == nil {
		return
	}
	c.telemetry = &controllerTelemetry{
		translation: telemetry.NewTranslationMetrics(reg),
		controller: telemetry.NewControllerMetrics(reg, telemetry.ControllerSources{
			Proxies:      func() []xds.ProxyStatus { return c.XDS.Proxies() },
			HubVersion:   c.Hub.Version,
			StatusWrites: func() int64 { return c.Status.Writes() },
			StatusQueue:  func() int { return c.Status.QueueLen() },
		}),
		handler: telemetry.Handler(reg),
	}
}

// translationSink is the translator, timed when metrics are on.
func (c *Controller) translationSink() source.Sink {
	if c.telemetry == nil {
		return c.Translator
	}
	return c.telemetry.translation.WrapSink(c.Translator)
}

// onPush is the xDS push hook (nil when metrics are off).
func (c *Controller) onPush() func(xds.Push) {
	if c.telemetry == nil {
		return nil
	}
	return c.telemetry.controller.ObservePush
}

// onProvision counts provisioned objects (nil when metrics are off).
func (c *Controller) onProvision() provision.Recorder {
	if c.telemetry == nil {
		return nil
	}
	return c.telemetry.controller.ObserveProvision
}

// metricsHandler serves /metrics (nil when metrics are off).
func (c *Controller) metricsHandler() http.Handler {
	if c.telemetry == nil {
		return nil
	}
	return c.telemetry.handler
}
