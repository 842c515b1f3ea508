package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imaging-tui/imaging-tui/supervisor"
)

// SampleEvery is how often a running Serve folds a snapshot into the
// counters between scrapes, so a stage's counts survive its restart even
// when scrapes are far apart. It matches the stages' status period.
const SampleEvery = 250 * time.Millisecond

// Handler returns an http.Handler serving c, plus the client library's Go
// runtime and process metrics, in the Prometheus exposition formats.
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

// Listen opens the TCP listener for addr (host:port; port 0 picks a free one).
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve listens on addr and serves the metrics of the snapshots snap returns
// on /metrics until ctx is done. It returns nil after a clean shutdown.
func Serve(ctx context.Context, addr string, snap func() supervisor.Snapshot) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, snap)
}

// ServeListener is Serve on a listener the caller opened (and Serve closes).
// Besides the HTTP server it runs one goroutine that samples snap every
// SampleEvery; both end before it returns.
func ServeListener(ctx context.Context, ln net.Listener, snap func() supervisor.Snapshot) error {
	c := NewCollector(snap)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(c))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>imaging-tui</title></head><body><a href="/metrics">/metrics</a></body></html>`)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	sampled := make(chan struct{})
	go func() { // the sampler: exits when sctx is done
		defer close(sampled)
		t := time.NewTicker(SampleEvery)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				c.sample()
			}
		}
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // exits on Shutdown
	var err error
	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		tctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = srv.Shutdown(tctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			// A scraper still holds a connection (one opened and not used
			// yet counts as busy for 5 s): stopping must not wait for it.
			err = srv.Close()
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	stopSampler()
	<-sampled
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// IsLoopback reports whether addr (host:port) only accepts connections from
// this machine: a loopback IP address or "localhost". An empty host (every
// interface), any other name or a malformed address is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
