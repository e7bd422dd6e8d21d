// Package tracing sets up OpenTelemetry tracing: exported over OTLP/gRPC
// when OTEL_EXPORTER_OTLP_ENDPOINT is set, off otherwise.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.10.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is the process's tracer; Enabled is false when nothing exports.
type Tracing struct {
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Enabled    bool
	shutdown   func(context.Context) error
}

// Setup starts an OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT (or the
// traces-specific variable) is set; the exporter reads the standard OTEL_*
// variables itself.
func Setup(ctx context.Context, service string) (*Tracing, error) {
	t := &Tracing{
		Tracer:     noop.NewTracerProvider().Tracer("onboarding"),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return t, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if name := os.Getenv("OTEL_SERVICE_NAME"); name != "" {
		service = name
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String(service))),
	)
	t.Tracer, t.Enabled, t.shutdown = tp.Tracer("onboarding"), true, tp.Shutdown
	return t, nil
}

// WithExporter traces into exp (tests use an in-memory one).
func WithExporter(exp sdktrace.SpanExporter, service string) *Tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceNameKey.String(service))))
	return &Tracing{
		Tracer:     tp.Tracer("onboarding"),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Enabled:    true,
		shutdown:   tp.Shutdown,
	}
}

// Shutdown flushes the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// StartHTTP continues the caller's trace (traceparent) or starts one for an
// HTTP request; end the span with EndHTTP. method is the request's method as
// the caller folded it (span names must not take any value a client sends).
func (t *Tracing) StartHTTP(r *http.Request, method, route string) (context.Context, trace.Span) {
	ctx := t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return t.Tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.method", method), attribute.String("http.route", route)))
}

// EndHTTP records the status and ends the span.
func EndHTTP(span trace.Span, status int) {
	span.SetAttributes(attribute.Int("http.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
