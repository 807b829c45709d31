package demo

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPort is the port the server listens on when neither --port nor PORT
// is given.
const DefaultPort = 8080

// Config configures a Server.
type Config struct {
	// Bind is the IP address to listen on; "" means all interfaces.
	Bind string
	// Port is the TCP (and UDP) port; 0 picks a free port (for tests).
	Port int
	// UDP enables the UDP echo on the same port number.
	UDP bool

	// Version, PodName, PodIP and NodeName are what GET / reports. An empty
	// PodIP is replaced by the local address the request arrived on.
	Version  string
	PodName  string
	PodIP    string
	NodeName string

	// ShutdownTimeout bounds the graceful shutdown; default 10s.
	ShutdownTimeout time.Duration
	// MaxAllocMiB bounds one /alloc request; default 65536.
	MaxAllocMiB int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Exit is called by /exit; default os.Exit.
	Exit func(code int)
}

// ParseFlags builds a Config from command-line arguments and the environment
// (getenv is os.Getenv in production). defaultVersion is used when VERSION is
// unset; the command sets it at build time with -ldflags.
func ParseFlags(args []string, getenv func(string) string, defaultVersion string) (Config, error) {
	port := DefaultPort
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return Config{}, fmt.Errorf("env PORT: invalid port %q", p)
		}
		port = n
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cfg := Config{}
	fs.IntVar(&cfg.Port, "port", port, "TCP and UDP port to listen on (env PORT)")
	fs.StringVar(&cfg.Bind, "bind", getenv("POD_IP"), "IP address to bind (env POD_IP); empty means all interfaces")
	fs.BoolVar(&cfg.UDP, "udp", true, "answer UDP datagrams on the same port with the pod name")
	if err := parseFlagSet(fs, args, "demo [flags] | demo mkimage --help"); err != nil {
		return Config{}, err
	}
	cfg.Version = getenv("VERSION")
	if cfg.Version == "" {
		cfg.Version = defaultVersion
	}
	cfg.PodName = getenv("POD_NAME")
	if cfg.PodName == "" {
		cfg.PodName, _ = os.Hostname()
	}
	cfg.PodIP = getenv("POD_IP")
	cfg.NodeName = getenv("NODE_NAME")
	return cfg, nil
}

// Info is what GET / and GET /json report.
type Info struct {
	Version  string `json:"version"`
	PodName  string `json:"podName"`
	PodIP    string `json:"podIP"`
	NodeName string `json:"nodeName"`
}

// String renders the one-line text form: "<version> <pod> <ip> <node>".
func (i Info) String() string {
	return fmt.Sprintf("%s %s %s %s", orDash(i.Version), orDash(i.PodName), orDash(i.PodIP), orDash(i.NodeName))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Server is the demo server.
type Server struct {
	cfg Config
	log *slog.Logger

	liveFail  atomic.Bool
	readyFail atomic.Bool

	allocMu  sync.Mutex
	hog      [][]byte
	hogMiB   int
	ready    chan struct{}
	tcpAddr  net.Addr
	udpAddr  net.Addr
	started  atomic.Bool
	handlers http.Handler
}

// New validates cfg and returns a Server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("port: %d is out of range 0-65535", cfg.Port)
	}
	if cfg.Bind != "" && net.ParseIP(cfg.Bind) == nil {
		return nil, fmt.Errorf("bind: %q is not an IP address", cfg.Bind)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.MaxAllocMiB <= 0 {
		cfg.MaxAllocMiB = 65536
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Exit == nil {
		cfg.Exit = os.Exit
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	s.handlers = s.routes()
	return s, nil
}

// Ready is closed once the server listens; TCPAddr and UDPAddr are valid then.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// TCPAddr is the HTTP listen address (valid after Ready).
func (s *Server) TCPAddr() net.Addr { return s.tcpAddr }

// UDPAddr is the UDP echo address, nil when UDP is off (valid after Ready).
func (s *Server) UDPAddr() net.Addr { return s.udpAddr }

// Handler returns the HTTP handler (useful with httptest).
func (s *Server) Handler() http.Handler { return s.handlers }

// Run listens and serves until ctx is cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("demo server: Run called twice")
	}
	ln, pc, err := s.listen()
	if err != nil {
		return err
	}
	s.tcpAddr = ln.Addr()
	if pc != nil {
		s.udpAddr = pc.LocalAddr()
	}
	srv := &http.Server{
		Handler:           s.handlers,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serving http on %s: %w", ln.Addr(), err)
		}
	})
	if pc != nil {
		wg.Go(func() { s.serveUDP(pc, errc) })
	}
	s.log.Info("listening", "http", s.tcpAddr.String(), "udp", addrString(s.udpAddr),
		"version", s.cfg.Version, "pod", s.cfg.PodName, "node", s.cfg.NodeName)
	close(s.ready)

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "reason", context.Cause(ctx).Error())
	case runErr = <-errc:
		s.log.Error("shutting down", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("graceful shutdown incomplete", "err", err)
		_ = srv.Close()
	}
	if pc != nil {
		_ = pc.Close()
	}
	wg.Wait()
	s.log.Info("stopped")
	return runErr
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// listen opens the TCP listener and, when enabled, the UDP socket on the same
// port number. With Port 0 it retries when the UDP twin of the chosen port is
// taken.
func (s *Server) listen() (net.Listener, net.PacketConn, error) {
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port)))
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp port %d: %w", s.cfg.Port, err)
		}
		if !s.cfg.UDP {
			return ln, nil, nil
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(port)))
		if err == nil {
			return ln, pc, nil
		}
		_ = ln.Close()
		if s.cfg.Port != 0 || attempt >= 20 {
			return nil, nil, fmt.Errorf("listen udp port %d: %w", port, err)
		}
	}
}

func (s *Server) serveUDP(pc net.PacketConn, errc chan<- error) {
	buf := make([]byte, 64*1024)
	reply := []byte(s.cfg.PodName)
	for {
		_, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			errc <- fmt.Errorf("reading udp on %s: %w", pc.LocalAddr(), err)
			return
		}
		if _, err := pc.WriteTo(reply, addr); err != nil {
			s.log.Warn("udp reply failed", "peer", addr.String(), "err", err)
		}
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, s.info(r).String()+"\n")
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.info(r))
	})
	mux.HandleFunc("GET /healthz", probe(&s.liveFail))
	mux.HandleFunc("GET /readyz", probe(&s.readyFail))
	mux.HandleFunc("POST /fail/live", s.toggle("liveness failing", &s.liveFail, true))
	mux.HandleFunc("POST /fail/ready", s.toggle("readiness failing", &s.readyFail, true))
	mux.HandleFunc("POST /recover", func(w http.ResponseWriter, r *http.Request) {
		s.liveFail.Store(false)
		s.readyFail.Store(false)
		s.log.Info("probes recovered")
		writeText(w, http.StatusOK, "recovered\n")
	})
	mux.HandleFunc("GET /hostname", func(w http.ResponseWriter, r *http.Request) {
		h, err := os.Hostname()
		if err != nil {
			writeText(w, http.StatusInternalServerError, err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, h+"\n")
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, r.URL.Query().Get("msg"))
	})
	mux.HandleFunc("/exit", s.exit)
	mux.HandleFunc("/alloc", s.alloc)
	return s.logRequests(mux)
}

func (s *Server) info(r *http.Request) Info {
	ip := s.cfg.PodIP
	if ip == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if host, _, err := net.SplitHostPort(a.String()); err == nil {
				ip = host
			}
		}
	}
	return Info{Version: s.cfg.Version, PodName: s.cfg.PodName, PodIP: ip, NodeName: s.cfg.NodeName}
}

func probe(failing *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			writeText(w, http.StatusServiceUnavailable, "failing\n")
			return
		}
		writeText(w, http.StatusOK, "ok\n")
	}
}

func (s *Server) toggle(msg string, flag *atomic.Bool, v bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		flag.Store(v)
		s.log.Info(msg)
		writeText(w, http.StatusOK, msg+"\n")
	}
}

func (s *Server) exit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeText(w, http.StatusMethodNotAllowed, "exit: use GET or POST\n")
		return
	}
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 0 || code > 255 {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("exit: code %q must be an integer 0-255\n", r.URL.Query().Get("code")))
		return
	}
	s.log.Info("exiting on request", "code", code)
	// Content-Length makes the answer complete once flushed, before the exit.
	writeText(w, http.StatusOK, fmt.Sprintf("exiting with code %d\n", code))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.cfg.Exit(code)
}

func (s *Server) alloc(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeText(w, http.StatusMethodNotAllowed, "alloc: use GET or POST\n")
		return
	}
	mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
	if err != nil || mb <= 0 || mb > s.cfg.MaxAllocMiB {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("alloc: mb %q must be an integer 1-%d\n", r.URL.Query().Get("mb"), s.cfg.MaxAllocMiB))
		return
	}
	s.allocMu.Lock()
	for range mb {
		chunk := make([]byte, 1<<20)
		// Touch every page so the memory is resident, not just reserved.
		for i := 0; i < len(chunk); i += 4096 {
			chunk[i] = 1
		}
		s.hog = append(s.hog, chunk)
	}
	s.hogMiB += mb
	total := s.hogMiB
	s.allocMu.Unlock()
	s.log.Info("allocated memory", "mib", mb, "totalMiB", total)
	writeText(w, http.StatusOK, fmt.Sprintf("allocated %d MiB, total %d MiB\n", mb, total))
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
			"remote", r.RemoteAddr, "status", rec.status)
	})
}
