package userspace

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// udpListener relays datagrams. Each client address gets a session: a
// connected socket to one endpoint whose replies are sent back to the
// client from the service address. A session ends after the idle timeout,
// or at once when its endpoint is removed.
type udpListener struct {
	p   *Proxier
	pc  *net.UDPConn
	svc atomic.Pointer[service]

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
	closed   bool
	wg       sync.WaitGroup
}

type udpSession struct {
	client   netip.AddrPort
	backend  string
	conn     *net.UDPConn
	lastSeen atomic.Int64 // unix nanoseconds
}

func newUDPListener(p *Proxier, pc *net.UDPConn) *udpListener {
	l := &udpListener{p: p, pc: pc, sessions: map[netip.AddrPort]*udpSession{}}
	l.wg.Add(1)
	go l.serve()
	return l
}

func (l *udpListener) setService(s *service) {
	l.svc.Store(s)
	// Drop sessions whose endpoint is gone, so that the client's next
	// datagram picks a live one.
	b := s.backends.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, sess := range l.sessions {
		if !b.has(sess.backend) {
			sess.conn.Close()
			delete(l.sessions, k)
		}
	}
}

func (l *udpListener) serve() {
	defer l.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := l.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.p.log.Warn("udp read failed", "address", l.pc.LocalAddr().String(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		sess := l.session(from)
		if sess == nil {
			continue // no endpoint: drop
		}
		sess.lastSeen.Store(time.Now().UnixNano())
		if _, err := sess.conn.Write(buf[:n]); err != nil {
			l.p.log.Debug("udp forward failed", "backend", sess.backend, "err", err)
		}
	}
}

// session returns the client's session, creating one if needed.
func (l *udpListener) session(client netip.AddrPort) *udpSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if s, ok := l.sessions[client]; ok {
		return s
	}
	svc := l.svc.Load()
	if svc == nil {
		return nil
	}
	b := svc.backends.Load()
	var failed []string
	for range len(b.addrs) {
		addr, ok := b.pick(client.Addr(), failed)
		if !ok {
			return nil
		}
		raddr, err := net.ResolveUDPAddr("udp4", addr)
		if err == nil {
			var c *net.UDPConn
			c, err = net.DialUDP("udp4", nil, raddr)
			if err == nil {
				s := &udpSession{client: client, backend: addr, conn: c}
				s.lastSeen.Store(time.Now().UnixNano())
				l.sessions[client] = s
				l.wg.Add(1)
				go l.replies(s)
				return s
			}
		}
		l.p.log.Debug("udp endpoint unusable", "backend", addr, "err", err)
		failed = append(failed, addr)
	}
	return nil
}

// replies relays the endpoint's answers to the client until the session is
// idle for the timeout or closed.
func (l *udpListener) replies(s *udpSession) {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		if l.sessions[s.client] == s {
			delete(l.sessions, s.client)
		}
		l.mu.Unlock()
		s.conn.Close()
	}()
	idle := l.p.cfg.UDPIdleTimeout
	buf := make([]byte, 65535)
	for {
		deadline := time.Unix(0, s.lastSeen.Load()).Add(idle)
		if !time.Now().Before(deadline) {
			return
		}
		s.conn.SetReadDeadline(deadline)
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // re-check: the client may have sent since
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors (endpoint gone) end the session.
			return
		}
		s.lastSeen.Store(time.Now().UnixNano())
		if _, err := l.pc.WriteToUDPAddrPort(buf[:n], s.client); err != nil {
			return
		}
	}
}

// sessionCount is the number of live client sessions.
func (l *udpListener) sessionCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

func (l *udpListener) close() {
	l.mu.Lock()
	l.closed = true
	l.pc.Close()
	for _, s := range l.sessions {
		s.conn.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
