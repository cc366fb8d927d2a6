package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/farmwatch/farmwatch/collector/analysis"
	"github.com/farmwatch/farmwatch/collector/store"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Reasons a report batch is rejected (farmwatch_reports_rejected_total).
const (
	RejectBatchTooLarge   = "batch_too_large"  // more reports than one call may carry
	RejectInvalidReport   = "invalid_report"   // a report fails validation (sizes, formats, clock)
	RejectRateLimited     = "rate_limited"     // the device calls too often
	RejectDeviceRevoked   = "device_revoked"   // the device was revoked
	RejectMonitoringEnded = "monitoring_ended" // the hire's monitoring ended
	RejectSeqJump         = "seq_jump"         // a sequence number the agent cannot have reached
	RejectOverBudget      = "over_budget"      // the device's daily byte budget is spent
	RejectNotEnrolled     = "not_enrolled"     // the device record was deleted
	RejectUnavailable     = "unavailable"      // shutting down, or the store failed: the agent retries
)

var rejectReasons = []string{RejectBatchTooLarge, RejectInvalidReport, RejectRateLimited,
	RejectDeviceRevoked, RejectMonitoringEnded, RejectSeqJump, RejectOverBudget, RejectNotEnrolled, RejectUnavailable}

// Reasons an enrollment fails (farmwatch_enrollment_failures_total).
const (
	EnrollInvalidRequest = "invalid_request" // a missing or oversized field, a bad CSR
	EnrollInvalidToken   = "invalid_token"   // unknown, spent, expired or revoked token
	EnrollNotEnrollable  = "not_enrollable"  // the token's hire is gone or its monitoring ended
	EnrollRateLimited    = "rate_limited"    // too many attempts with a token or from an address
	EnrollInternal       = "internal"        // the collector failed
)

var enrollReasons = []string{EnrollInvalidRequest, EnrollInvalidToken, EnrollNotEnrollable, EnrollRateLimited, EnrollInternal}

// Score bands of farmwatch_alerts_open: below_review under the analysis
// config's review_threshold (0.5 by default), review from it, high from
// HighScoreBand (or the review threshold, when that is higher).
const (
	BandBelowReview = "below_review"
	BandReview      = "review"
	BandHigh        = "high"
	HighScoreBand   = 0.8
)

// Device states of farmwatch_devices.
const (
	DeviceEnrolled  = "enrolled"  // enrolled, no report yet, not yet silent
	DeviceReporting = "reporting" // reported within the silence limit
	DeviceSilent    = "silent"    // no report for the silence limit (the agent.silent rule's)
	DeviceRevoked   = "revoked"   // revoked: its reports are refused
)

var deviceStates = []string{DeviceEnrolled, DeviceReporting, DeviceSilent, DeviceRevoked}

// fleetCacheFor is how long the counts of open alerts and devices, which
// read the store, are kept between scrapes.
const fleetCacheFor = 10 * time.Second

// Metrics are the collector's Prometheus metrics, in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	ingested        prometheus.Counter
	duplicates      prometheus.Counter
	rejected        *prometheus.CounterVec
	batchReports    prometheus.Histogram
	commitSeconds   prometheus.Histogram
	enrollments     prometheus.Counter
	enrollFailures  *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	deliverySeconds *prometheus.HistogramVec
}

func newMetrics(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{Name: "farmwatch_reports_ingested_total",
			Help: "Reports stored (acknowledged and new), since the collector started."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "farmwatch_reports_duplicate_total",
			Help: "Reports acknowledged again that were already stored (an agent's retry)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "farmwatch_reports_rejected_total",
			Help: "Reports refused, by the reason their batch was refused."}, []string{"reason"}),
		batchReports: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "farmwatch_ingest_batch_reports",
			Help:    "Reports per store transaction (the writer batches concurrent calls).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096}}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "farmwatch_store_commit_seconds",
			Help:    "Duration of an ingest transaction, writes and fsync included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		enrollments: prometheus.NewCounter(prometheus.CounterOpts{Name: "farmwatch_enrollments_total",
			Help: "Devices enrolled."}),
		enrollFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "farmwatch_enrollment_failures_total",
			Help: "Enrollments refused, by reason."}, []string{"reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "farmwatch_alert_deliveries_total",
			Help: "Alert event delivery attempts to the outputs, by output, output type and outcome (delivered, failed, dead)."},
			[]string{"sink", "type", "outcome"}),
		deliverySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "farmwatch_alert_delivery_seconds",
			Help:    "Duration of an alert event delivery attempt, by output and output type.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"sink", "type"}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, r := range enrollReasons {
		m.enrollFailures.WithLabelValues(r)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "farmwatch_build_info",
		Help: "Always 1: the collector's version and the Go version it was built with."}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.ingested, m.duplicates, m.rejected, m.batchReports, m.commitSeconds, m.enrollments,
		m.enrollFailures, m.deliveries, m.deliverySeconds, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchStore adds the metrics read from the open store.
func (m *Metrics) watchStore(st *store.Store) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "farmwatch_store_retries_total",
		Help: "Store transactions run again after a conflict with a concurrent one (PostgreSQL serialization failures and deadlocks; always 0 on bbolt)."},
		func() float64 { return float64(st.Retries()) }))
}

// Registry is the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AlertDelivery records one delivery attempt of an alert event to an output:
// outcome is delivered, failed or dead (given up, in the dead letters).
func (m *Metrics) AlertDelivery(sink, sinkType, outcome string, took time.Duration) {
	m.deliveries.WithLabelValues(sink, sinkType, outcome).Inc()
	m.deliverySeconds.WithLabelValues(sink, sinkType).Observe(took.Seconds())
}

// observeCommit is the store's OnCommit hook.
func (m *Metrics) observeCommit(reports int, took time.Duration) {
	m.batchReports.Observe(float64(reports))
	m.commitSeconds.Observe(took.Seconds())
}

// reject counts a refused batch of n reports and returns err unchanged.
func (m *Metrics) reject(reason string, n int, err error) error {
	m.rejected.WithLabelValues(reason).Add(float64(n))
	return err
}

// stored counts a batch's acknowledgement.
func (m *Metrics) stored(res store.IngestResult) {
	m.ingested.Add(float64(len(res.Acknowledged) - len(res.Duplicates)))
	m.duplicates.Add(float64(len(res.Duplicates)))
}

// enrolled counts an enrollment's outcome.
func (m *Metrics) enrolled(err error) {
	if err == nil {
		m.enrollments.Inc()
		return
	}
	reason := EnrollInternal
	switch status.Code(err) {
	case codes.InvalidArgument:
		reason = EnrollInvalidRequest
	case codes.Unauthenticated:
		reason = EnrollInvalidToken
	case codes.FailedPrecondition:
		reason = EnrollNotEnrollable
	case codes.ResourceExhausted:
		reason = EnrollRateLimited
	}
	m.enrollFailures.WithLabelValues(reason).Inc()
}

// Metrics are the collector's metrics; the alert outputs report their
// deliveries to them.
func (s *Server) Metrics() *Metrics { return s.metrics }

// scoreBand names the band of farmwatch_alerts_open a score falls in.
func scoreBand(score, review float64) string {
	switch {
	case score < review:
		return BandBelowReview
	case score >= max(HighScoreBand, review):
		return BandHigh
	default:
		return BandReview
	}
}

// fleetCounts are the open alerts and the devices, counted from the store.
type fleetCounts struct {
	at      time.Time
	alerts  map[[3]string]int // kind, band, status
	devices map[string]int
}

// fleetCollector exposes what is read from the store and the files at scrape
// time: open alerts and devices (cached fleetCacheFor), the store's size and
// the geo databases' age.
type fleetCollector struct {
	s *Server

	mu     sync.Mutex
	cached *fleetCounts

	alertsOpen, devices, storeSize, geoAge, geoBuilt *prometheus.Desc
}

func newFleetCollector(s *Server) *fleetCollector {
	return &fleetCollector{s: s,
		alertsOpen: prometheus.NewDesc("farmwatch_alerts_open",
			"Open (not resolved) alerts by kind, score band and status; counted at most every 10 s.",
			[]string{"kind", "score_band", "status"}, nil),
		devices: prometheus.NewDesc("farmwatch_devices",
			"Enrolled devices by state (enrolled, reporting, silent, revoked); counted at most every 10 s.",
			[]string{"state"}, nil),
		storeSize: prometheus.NewDesc("farmwatch_store_size_bytes", "Size of the store's file.", nil, nil),
		geoAge: prometheus.NewDesc("farmwatch_geo_database_age_seconds",
			"Age of a loaded geo database (city or asn), from its build time.", []string{"db"}, nil),
		geoBuilt: prometheus.NewDesc("farmwatch_geo_database_build_timestamp_seconds",
			"Build time of a loaded geo database (city or asn), in Unix seconds.", []string{"db"}, nil),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.alertsOpen
	ch <- c.devices
	ch <- c.storeSize
	ch <- c.geoAge
	ch <- c.geoBuilt
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	now := s.cfg.Now()
	if fc, err := c.counts(now); err != nil {
		ch <- prometheus.NewInvalidMetric(c.alertsOpen, err)
		ch <- prometheus.NewInvalidMetric(c.devices, err)
	} else {
		for k, n := range fc.alerts {
			ch <- prometheus.MustNewConstMetric(c.alertsOpen, prometheus.GaugeValue, float64(n), k[0], k[1], k[2])
		}
		for _, st := range deviceStates {
			ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(fc.devices[st]), st)
		}
	}
	// A store in a database server has no file: the database reports its
	// own size, and the metric is left out.
	if path := s.store.Path(); path != "" {
		if fi, err := os.Stat(path); err == nil {
			ch <- prometheus.MustNewConstMetric(c.storeSize, prometheus.GaugeValue, float64(fi.Size()))
		} else {
			ch <- prometheus.NewInvalidMetric(c.storeSize, err)
		}
	}
	if s.geo != nil {
		for _, d := range s.geo.Databases() {
			ch <- prometheus.MustNewConstMetric(c.geoAge, prometheus.GaugeValue, d.Age(now).Seconds(), d.Role)
			ch <- prometheus.MustNewConstMetric(c.geoBuilt, prometheus.GaugeValue, float64(d.Built.Unix()), d.Role)
		}
	}
}

// counts returns the open alerts and devices, read again when the cached
// counts are fleetCacheFor old (on the collector's clock).
func (c *fleetCollector) counts(now time.Time) (*fleetCounts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fc := c.cached; fc != nil && now.Sub(fc.at) < fleetCacheFor && !now.Before(fc.at) {
		return fc, nil
	}
	s := c.s
	acfg := s.engine.Config()
	review, silentAfter := acfg.ReviewThreshold, acfg.SilenceAfter()
	fc := &fleetCounts{at: now, alerts: map[[3]string]int{}, devices: map[string]int{}}
	// Every kind, band and status a series, zero or not, so that rules
	// and dashboards see 0 rather than no data.
	for _, kind := range []string{analysis.AlertKindDevice, analysis.AlertKindFarm, analysis.KindApplicant} {
		for _, band := range []string{BandBelowReview, BandReview, BandHigh} {
			for _, st := range []string{"open", "acknowledged"} {
				fc.alerts[[3]string{kind, band, st}] = 0
			}
		}
	}
	err := s.store.View(func(tx *store.Tx) error {
		if err := tx.OpenAlerts(func(a *pb.Alert) bool {
			fc.alerts[[3]string{a.GetKind(), scoreBand(a.GetScore(), review), a.GetStatus()}]++
			return true
		}); err != nil {
			return err
		}
		devs, err := tx.Devices("")
		if err != nil {
			return err
		}
		for _, d := range devs {
			fc.devices[deviceState(d, now, silentAfter)]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count open alerts and devices: %w", err)
	}
	c.cached = fc
	return fc, nil
}

// deviceState is a device's state for farmwatch_devices: silent as the
// silence sweep judges it (no report, or since enrollment none, for the
// silence limit).
func deviceState(d *pb.Device, now time.Time, silentAfter time.Duration) string {
	if d.GetRevokedAt() != nil {
		return DeviceRevoked
	}
	last := d.GetEnrolledAt().AsTime()
	if d.GetLastSeen() != nil {
		last = d.GetLastSeen().AsTime()
	}
	if silentAfter > 0 && now.Sub(last) >= silentAfter {
		return DeviceSilent
	}
	if d.GetLastSeen() == nil {
		return DeviceEnrolled
	}
	return DeviceReporting
}

// Phases of the collector, for /readyz.
const (
	phaseStarting int32 = iota
	phaseServing
	phaseStopping
)

// readiness says whether the collector serves: the store open and the gRPC
// server accepting calls.
func (s *Server) readiness() (bool, string) {
	switch s.phase.Load() {
	case phaseStarting:
		return false, "starting: the gRPC server does not accept calls yet"
	case phaseStopping:
		return false, "shutting down: finishing in-flight calls and closing the store"
	}
	return true, "ok"
}

// metricsServer is the plain-HTTP listener of /metrics, /healthz and /readyz.
type metricsServer struct {
	lis  net.Listener
	http *http.Server
	done chan struct{}
}

// startMetrics listens on cfg.MetricsListen and serves until stopMetrics.
func (s *Server) startMetrics(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w (pick a free address, e.g. 127.0.0.1:9464, or leave the flag out to serve no metrics)", addr, err)
	}
	s.metrics.reg.MustRegister(newFleetCollector(s))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{s.log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, reason := s.readiness()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, reason)
	})
	ms := &metricsServer{lis: lis, done: make(chan struct{}), http: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}}
	s.metricsHTTP = ms
	go func() {
		defer close(ms.done)
		if err := ms.http.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "addr", lis.Addr().String(), "err", err)
		}
	}()
	s.log.Info("metrics and health over plain HTTP", "addr", lis.Addr().String(), "paths", "/metrics /healthz /readyz")
	return nil
}

// MetricsAddr is the address /metrics is served on, "" when it is off.
func (s *Server) MetricsAddr() string {
	if s.metricsHTTP == nil {
		return ""
	}
	return s.metricsHTTP.lis.Addr().String()
}

// stopMetrics closes the metrics listener, last at Stop so /readyz answers
// 503 while the collector shuts down.
func (s *Server) stopMetrics() {
	ms := s.metricsHTTP
	if ms == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ms.http.Shutdown(ctx); err != nil {
		ms.http.Close()
	}
	<-ms.done
}

// slogPrinter gives promhttp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics: " + fmt.Sprint(v...)) }
