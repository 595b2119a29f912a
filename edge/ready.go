package edge

import (
	"fmt"
	"io"

	"github.com/switchyard/switchyard/edge/internal/ready"
	"github.com/switchyard/switchyard/edge/internal/relay"
)

// readyz is /readyz: ready while the server is started and not shutting
// down and every dependency of its source and sink (ready.Of) answered its
// last probe; the body names each one's state.
func (s *Server) readyz() (bool, []byte) {
	server := "ok"
	switch {
	case s.stopped.Load():
		server = "shutting down"
	case !s.ready.Load():
		server = "starting"
	}
	return s.probes.Report(map[string]string{"server": server})
}

// readyMetrics writes sy_edge_ready and sy_edge_dependency_up.
func (s *Server) readyMetrics(w io.Writer) {
	var deps []string
	var up []bool
	ok := s.probes.State(func(name string, u bool) { deps, up = append(deps, name), append(up, u) })
	ok = ok && s.ready.Load()
	fmt.Fprintf(w, "# HELP sy_edge_ready 1 if /readyz answers 200: serving, and every dependency answered its last probe.\n# TYPE sy_edge_ready gauge\nsy_edge_ready %d\n", b2i(ok))
	fmt.Fprintf(w, "# HELP sy_edge_dependency_up 1 if the dependency answered its last probe.\n# TYPE sy_edge_dependency_up gauge\n")
	for i, d := range deps {
		fmt.Fprintf(w, "sy_edge_dependency_up{dependency=%q} %d\n", d, b2i(up[i]))
	}
	if rs, ok := s.sink.(*relay.Sink); ok {
		n, b := rs.Pending()
		fmt.Fprintf(w, "# HELP sy_edge_relay_buffer_batches Event batches waiting in the relay's disk buffer.\n# TYPE sy_edge_relay_buffer_batches gauge\nsy_edge_relay_buffer_batches %d\n", n)
		fmt.Fprintf(w, "# HELP sy_edge_relay_buffer_bytes Bytes in the relay's disk buffer (cap: -relay-buffer-bytes).\n# TYPE sy_edge_relay_buffer_bytes gauge\nsy_edge_relay_buffer_bytes %d\n", b)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ReadyCheck is one dependency of a Source or EventSink for /readyz: a
// Source or EventSink with a method Checks() []ReadyCheck is probed every
// Config.ProbeInterval, each probe bounded by Config.ProbeTimeout.
type ReadyCheck = ready.Check
