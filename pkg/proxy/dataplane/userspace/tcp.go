package userspace

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpListener accepts client connections and splices each to an endpoint.
type tcpListener struct {
	p   *Proxier
	ln  *net.TCPListener
	svc atomic.Pointer[service]

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newTCPListener(p *Proxier, ln *net.TCPListener) *tcpListener {
	l := &tcpListener{p: p, ln: ln, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.serve()
	return l
}

func (l *tcpListener) setService(s *service) { l.svc.Store(s) }

func (l *tcpListener) serve() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (e.g. out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.p.log.Warn("accept failed", "address", l.ln.Addr().String(), "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !l.track(c, true) {
			c.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.track(c, false)
			l.handle(c)
		}()
	}
}

// track adds or removes a connection; it refuses new ones after close.
func (l *tcpListener) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !add {
		delete(l.conns, c)
		return true
	}
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *tcpListener) handle(client *net.TCPConn) {
	defer client.Close()
	s := l.svc.Load()
	if s == nil {
		client.SetLinger(0)
		return
	}
	backend, err := l.dial(s, client)
	if err != nil {
		// Reset, like the kernel data plane's reject.
		client.SetLinger(0)
		l.p.log.Debug("no endpoint for connection", "service", s.key, "client", client.RemoteAddr().String(), "err", err)
		return
	}
	if !l.track(backend, true) {
		backend.Close()
		return
	}
	defer l.track(backend, false)
	defer backend.Close()
	splice(client, backend)
}

// dial connects to an endpoint, trying others when one refuses.
func (l *tcpListener) dial(s *service, client net.Conn) (*net.TCPConn, error) {
	b := s.backends.Load()
	ip := clientIP(client.RemoteAddr())
	var failed []string
	var errs []error
	for range len(b.addrs) {
		addr, ok := b.pick(ip, failed)
		if !ok {
			break
		}
		c, err := net.DialTimeout("tcp4", addr, l.p.cfg.DialTimeout)
		if err == nil {
			return c.(*net.TCPConn), nil
		}
		failed = append(failed, addr)
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errNoEndpoints
	}
	return nil, errors.Join(errs...)
}

// splice copies both ways; when one side finishes sending, the other side's
// write half is closed, so half-closed connections work. It returns when
// both directions are done.
func splice(a, b *net.TCPConn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src *net.TCPConn) {
		defer wg.Done()
		_, err := io.Copy(dst, src)
		if err != nil {
			// A reset or failed write: tear both down.
			a.SetLinger(0)
			b.SetLinger(0)
			a.Close()
			b.Close()
			return
		}
		dst.CloseWrite()
	}
	go half(a, b)
	go half(b, a)
	wg.Wait()
}

func (l *tcpListener) close() {
	l.mu.Lock()
	l.closed = true
	l.ln.Close()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
