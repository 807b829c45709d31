package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Probe types (the prober_probe_total probe_type label).
const (
	probeLiveness  = "Liveness"
	probeReadiness = "Readiness"
	probeStartup   = "Startup"
)

// action is what a probe or lifecycle hook does.
type action struct {
	exec    *corev1.ExecAction
	httpGet *corev1.HTTPGetAction
	tcp     *corev1.TCPSocketAction
}

func probeAction(p *corev1.Probe) action {
	return action{exec: p.GetExec(), httpGet: p.GetHttpGet(), tcp: p.GetTcpSocket()}
}

func handlerAction(h *corev1.LifecycleHandler) action {
	return action{exec: h.GetExec(), httpGet: h.GetHttpGet(), tcp: h.GetTcpSocket()}
}

// resolvePort turns a port number or a named container port into a number.
func resolvePort(p *metav1.IntOrString, c *corev1.Container) (int, error) {
	if p == nil {
		return 0, errors.New("port is required")
	}
	if n, ok := p.GetValue().(*metav1.IntOrString_IntVal); ok {
		if n.IntVal <= 0 || n.IntVal > 65535 {
			return 0, fmt.Errorf("port %d: out of range", n.IntVal)
		}
		return int(n.IntVal), nil
	}
	name := p.GetStrVal()
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	for _, cp := range c.GetPorts() {
		if cp.GetName() == name {
			return int(cp.GetContainerPort()), nil
		}
	}
	return 0, fmt.Errorf("port %q: no container port has that name", name)
}

// run executes the action against container cs of w; a nil error is success.
func (a *agent) runAction(ctx context.Context, w *podWorker, cs *ctrState, c *corev1.Container, act action, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w.mu.Lock()
	podIP, id := w.podIP, cs.id
	w.mu.Unlock()
	switch {
	case act.exec != nil:
		rt := a.runtime()
		if rt == nil || id == "" {
			return errors.New("container is not running")
		}
		var out bytes.Buffer
		lw := &limitedWriter{w: &out, n: 10 << 10}
		code, err := rt.Exec(ctx, id, act.exec.GetCommand(), runtime.ExecStreams{Stdout: lw, Stderr: lw})
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("command %q timed out", strings.Join(act.exec.GetCommand(), " "))
			}
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", strings.Join(act.exec.GetCommand(), " "), code, strings.TrimSpace(out.String()))
		}
		return nil
	case act.httpGet != nil:
		h := act.httpGet
		port, err := resolvePort(h.GetPort(), c)
		if err != nil {
			return err
		}
		host := h.GetHost()
		if host == "" {
			host = podIP
		}
		scheme := strings.ToLower(h.GetScheme())
		if scheme == "" {
			scheme = "http"
		}
		path := h.GetPath()
		if path == "" {
			path = "/"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/"+strings.TrimPrefix(Version, "v"))
		for _, hd := range h.GetHttpHeaders() {
			req.Header.Set(hd.GetName(), hd.GetValue())
		}
		resp, err := a.http().Do(req)
		if err != nil {
			return fmt.Errorf("Get %q: %w", url, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case act.tcp != nil:
		port, err := resolvePort(act.tcp.GetPort(), c)
		if err != nil {
			return err
		}
		host := act.tcp.GetHost()
		if host == "" {
			host = podIP
		}
		conn, err := a.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("dial tcp %s:%d: %w", host, port, err)
		}
		conn.Close()
		return nil
	}
	return errors.New("probe has no action")
}

// runHandler runs a lifecycle hook.
func (a *agent) runHandler(ctx context.Context, w *podWorker, cs *ctrState, c *corev1.Container, h *corev1.LifecycleHandler, timeout time.Duration) error {
	return a.runAction(ctx, w, cs, c, handlerAction(h), timeout)
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if l.n <= 0 {
		return n, nil
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	l.n -= len(p)
	_, err := l.w.Write(p)
	return n, err
}

// startProbes starts the probe workers of a freshly started container.
func (a *agent) startProbes(w *podWorker, cs *ctrState, c *corev1.Container) {
	if c.GetLivenessProbe() == nil && c.GetReadinessProbe() == nil && c.GetStartupProbe() == nil {
		return
	}
	ctx, cancel := context.WithCancel(a.k.runtimeCtx)
	w.mu.Lock()
	if cs.probeStop != nil {
		cs.probeStop()
	}
	cs.probeStop = cancel
	id := cs.id
	startedAt := cs.st.StartedAt
	w.mu.Unlock()
	if startedAt.IsZero() {
		startedAt = time.Now()
	}
	started := make(chan struct{})
	if c.GetStartupProbe() == nil {
		close(started)
	} else {
		go a.probeLoop(ctx, w, cs, c, id, probeStartup, c.GetStartupProbe(), startedAt, nil, started)
	}
	if p := c.GetLivenessProbe(); p != nil {
		go a.probeLoop(ctx, w, cs, c, id, probeLiveness, p, startedAt, started, nil)
	}
	if p := c.GetReadinessProbe(); p != nil {
		go a.probeLoop(ctx, w, cs, c, id, probeReadiness, p, startedAt, started, nil)
	}
}

// stopProbes stops every probe worker of a pod.
func (a *agent) stopProbes(w *podWorker) {
	w.mu.Lock()
	var cancels []context.CancelFunc
	for _, cs := range w.containers {
		if cs.probeStop != nil {
			cancels = append(cancels, cs.probeStop)
			cs.probeStop = nil
		}
	}
	w.mu.Unlock()
	for _, c := range cancels {
		c()
	}
}

func probeDuration(sec int32, def time.Duration) time.Duration {
	if sec <= 0 {
		return def
	}
	return time.Duration(sec) * time.Second
}

// probeLoop runs one probe of one container instance until ctx ends. A
// liveness or readiness probe waits for the startup probe (gate); a
// startup probe closes started on success and then stops.
func (a *agent) probeLoop(ctx context.Context, w *podWorker, cs *ctrState, c *corev1.Container, id, typ string, p *corev1.Probe,
	startedAt time.Time, gate <-chan struct{}, started chan struct{}) {
	period := probeDuration(p.GetPeriodSeconds(), 10*time.Second)
	timeout := probeDuration(p.GetTimeoutSeconds(), time.Second)
	successThreshold := max(int(p.GetSuccessThreshold()), 1)
	failureThreshold := max(int(p.GetFailureThreshold()), 1)
	if typ != probeReadiness {
		successThreshold = 1
	}
	if gate != nil {
		select {
		case <-ctx.Done():
			return
		case <-gate:
		}
	}
	if d := time.Until(startedAt.Add(time.Duration(p.GetInitialDelaySeconds()) * time.Second)); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	successes, failures := 0, 0
	result := "" // "", "success", "failure": the last reported result
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		err := a.runAction(ctx, w, cs, c, probeAction(p), timeout)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		current := cs.id == id
		pod := w.pod
		w.mu.Unlock()
		if !current {
			return
		}
		if err == nil {
			a.k.metrics.probes.WithLabelValues(typ, "successful").Inc()
			successes, failures = successes+1, 0
		} else {
			a.k.metrics.probes.WithLabelValues(typ, "failed").Inc()
			successes, failures = 0, failures+1
			a.k.recorder.Eventf(pod, record.Warning, "Unhealthy", "%s probe failed: %v", typ, err)
		}
		switch {
		case successes >= successThreshold && result != "success":
			result = "success"
			a.probeResult(w, cs, id, typ, true)
			if typ == probeStartup {
				close(started)
				return
			}
		case failures >= failureThreshold && result != "failure":
			result = "failure"
			a.probeResult(w, cs, id, typ, false)
			if typ != probeReadiness {
				return // the container gets restarted; a new instance gets new workers
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probeResult records a probe's verdict and syncs the pod.
func (a *agent) probeResult(w *podWorker, cs *ctrState, id, typ string, ok bool) {
	w.mu.Lock()
	if cs.id != id {
		w.mu.Unlock()
		return
	}
	switch typ {
	case probeReadiness:
		cs.ready = ok
	case probeStartup:
		cs.started = ok
		if !ok {
			cs.liveFailMsg = "failed startup probe"
		}
	case probeLiveness:
		if !ok {
			cs.liveFailMsg = "failed liveness probe"
		}
	}
	w.mu.Unlock()
	a.k.podCtl.Enqueue(w.key)
}
