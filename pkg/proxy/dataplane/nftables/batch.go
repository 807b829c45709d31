package nftables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// This file holds the netlink transport: a batch of nf_tables messages built
// into one buffer and sent with a single sendmsg, committed by the kernel as
// one transaction. Expressions are encoded by github.com/google/nftables
// (expr.Marshal); only the message framing is done here, because the
// library's Conn.Flush asks the kernel for an ACK and an ECHO of every
// message and reads them back one recvmsg at a time, which does not scale to
// the hundreds of thousands of messages of a 10k-service full sync (see
// doc.go for the figures).

const (
	nlmsgHdrLen  = 16
	nfgenHdrLen  = 4
	nlaHdrLen    = 4
	nlaFNested   = unix.NLA_F_NESTED
	familyIPv4   = unix.NFPROTO_IPV4
	maxAttrBytes = 60000 // nested attributes carry a u16 length
)

// msgDesc describes a message of a batch for error reports.
type msgDesc struct {
	op   string
	name string
}

// batch accumulates nf_tables messages for one table.
type batch struct {
	table string
	buf   []byte
	descs []msgDesc // index = sequence - 1 (begin is sequence 0)
	// stack of nested attribute start offsets
	nest []int
	// msgStart is the offset of the message being built.
	msgStart int
	count    int
	setIDs   uint32
}

// newBatch starts a batch of messages about table; sizeHint is the expected
// size in bytes.
func newBatch(table string, sizeHint, msgHint int) *batch {
	b := &batch{table: table, buf: make([]byte, 0, max(sizeHint, 1<<12)), descs: make([]msgDesc, 0, msgHint)}
	b.begin(unix.NFNL_MSG_BATCH_BEGIN, 0, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	binary.NativeEndian.PutUint32(b.buf[8:], 0) // the begin marker is sequence 0
	b.end()
	return b
}

// begin starts a message; its sequence number is its index in descs + 1.
func (b *batch) begin(typ uint16, flags uint16, family uint8, resID uint16) {
	b.msgStart = len(b.buf)
	var h [nlmsgHdrLen + nfgenHdrLen]byte
	binary.NativeEndian.PutUint16(h[4:], typ)
	binary.NativeEndian.PutUint16(h[6:], flags|unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(h[8:], uint32(len(b.descs)+1))
	h[16] = family
	h[17] = unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(h[18:], resID)
	b.buf = append(b.buf, h[:]...)
}

func (b *batch) end() {
	binary.NativeEndian.PutUint32(b.buf[b.msgStart:], uint32(len(b.buf)-b.msgStart))
}

// msg starts an nf_tables message of type t (NFT_MSG_*).
func (b *batch) msg(t int, flags uint16, op, name string) {
	b.begin(uint16(unix.NFNL_SUBSYS_NFTABLES<<8|t), flags, familyIPv4, 0)
	b.descs = append(b.descs, msgDesc{op: op, name: name})
	b.count++
}

func (b *batch) attr(typ uint16, data []byte) {
	var h [nlaHdrLen]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(nlaHdrLen+len(data)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b.buf = append(b.buf, h[:]...)
	b.buf = append(b.buf, data...)
	for len(b.buf)%4 != 0 {
		b.buf = append(b.buf, 0)
	}
}

func (b *batch) str(typ uint16, s string) {
	var h [nlaHdrLen]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(nlaHdrLen+len(s)+1))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b.buf = append(b.buf, h[:]...)
	b.buf = append(b.buf, s...)
	b.buf = append(b.buf, 0)
	for len(b.buf)%4 != 0 {
		b.buf = append(b.buf, 0)
	}
}

func (b *batch) u32(typ uint16, v uint32) {
	var d [4]byte
	binary.BigEndian.PutUint32(d[:], v)
	b.attr(typ, d[:])
}

func (b *batch) u64(typ uint16, v uint64) {
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], v)
	b.attr(typ, d[:])
}

func (b *batch) open(typ uint16) {
	b.nest = append(b.nest, len(b.buf))
	b.attr(typ|nlaFNested, nil)
}

func (b *batch) close() {
	start := b.nest[len(b.nest)-1]
	b.nest = b.nest[:len(b.nest)-1]
	binary.NativeEndian.PutUint16(b.buf[start:], uint16(len(b.buf)-start))
}

// sizeSinceOpen is the size of the innermost open nested attribute.
func (b *batch) sizeSinceOpen() int { return len(b.buf) - b.nest[len(b.nest)-1] }

// --- objects ---

func (b *batch) addTable() {
	b.msg(unix.NFT_MSG_NEWTABLE, unix.NLM_F_CREATE, "add table", b.table)
	b.str(unix.NFTA_TABLE_NAME, b.table)
	b.u32(unix.NFTA_TABLE_FLAGS, 0)
	b.end()
}

func (b *batch) delTable() {
	b.msg(unix.NFT_MSG_DELTABLE, 0, "delete table", b.table)
	b.str(unix.NFTA_TABLE_NAME, b.table)
	b.end()
}

type baseChain struct {
	typ      string // filter, nat
	hook     uint32
	priority int32
}

func (b *batch) addChain(name string, base *baseChain) {
	b.msg(unix.NFT_MSG_NEWCHAIN, unix.NLM_F_CREATE, "add chain", name)
	b.str(unix.NFTA_CHAIN_TABLE, b.table)
	b.str(unix.NFTA_CHAIN_NAME, name)
	if base != nil {
		b.open(unix.NFTA_CHAIN_HOOK)
		b.u32(unix.NFTA_HOOK_HOOKNUM, base.hook)
		b.u32(unix.NFTA_HOOK_PRIORITY, uint32(base.priority))
		b.close()
		b.u32(unix.NFTA_CHAIN_POLICY, 1 /* NF_ACCEPT */)
		b.str(unix.NFTA_CHAIN_TYPE, base.typ)
	}
	b.end()
}

func (b *batch) delChain(name string) {
	b.msg(unix.NFT_MSG_DELCHAIN, 0, "delete chain", name)
	b.str(unix.NFTA_CHAIN_TABLE, b.table)
	b.str(unix.NFTA_CHAIN_NAME, name)
	b.end()
}

// flushChain deletes all rules of a chain.
func (b *batch) flushChain(name string) {
	b.msg(unix.NFT_MSG_DELRULE, 0, "flush chain", name)
	b.str(unix.NFTA_RULE_TABLE, b.table)
	b.str(unix.NFTA_RULE_CHAIN, name)
	b.end()
}

// addRule appends a rule; exprs is the pre-encoded content of
// NFTA_RULE_EXPRESSIONS (see encodeRule).
func (b *batch) addRule(chain string, exprs []byte) {
	b.msg(unix.NFT_MSG_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_APPEND, "add rule", chain)
	b.str(unix.NFTA_RULE_TABLE, b.table)
	b.str(unix.NFTA_RULE_CHAIN, chain)
	b.attr(unix.NFTA_RULE_EXPRESSIONS|nlaFNested, exprs)
	b.end()
}

// setSpec describes a named set or map.
type setSpec struct {
	name     string
	keyTypes []keyType // concatenation when more than one
	isVmap   bool
	// dataTypes makes a data map (e.g. ipv4_addr . inet_service); nil for
	// sets and verdict maps.
	dataTypes []keyType
	timeout   uint64 // milliseconds; non-zero makes a dynamic set with timeouts
}

type keyType struct {
	magic uint32 // nft datatype id, so that `nft list` prints the elements
	size  uint32
}

var (
	ktIPv4    = keyType{7, 4}
	ktProto   = keyType{12, 1}
	ktService = keyType{13, 2}
	ktMark    = keyType{19, 4} // a host-endian 32-bit integer
)

func (s *setSpec) keyLen() uint32 { return concatLen(s.keyTypes) }

// concatLen is the length of a (concatenated) key or data: each field of a
// concatenation takes whole 32-bit registers.
func concatLen(types []keyType) uint32 {
	if len(types) == 1 {
		return types[0].size
	}
	var n uint32
	for _, k := range types {
		n += (k.size + 3) &^ 3
	}
	return n
}

func concatMagic(types []keyType) uint32 {
	var magic uint32
	for _, k := range types {
		magic = magic<<6 | k.magic
	}
	return magic
}

const nftSetConcat = 0x80 // NFT_SET_CONCAT

func (b *batch) addSet(s *setSpec) {
	b.msg(unix.NFT_MSG_NEWSET, unix.NLM_F_CREATE, "add set", s.name)
	b.str(unix.NFTA_SET_TABLE, b.table)
	b.str(unix.NFTA_SET_NAME, s.name)
	var flags uint32
	if s.isVmap || s.dataTypes != nil {
		flags |= unix.NFT_SET_MAP
	}
	if s.timeout != 0 {
		flags |= unix.NFT_SET_TIMEOUT | unix.NFT_SET_EVAL
	}
	if len(s.keyTypes) > 1 {
		flags |= nftSetConcat
	}
	b.u32(unix.NFTA_SET_FLAGS, flags)
	b.u32(unix.NFTA_SET_KEY_TYPE, concatMagic(s.keyTypes))
	b.u32(unix.NFTA_SET_KEY_LEN, s.keyLen())
	b.setIDs++
	b.u32(unix.NFTA_SET_ID, b.setIDs)
	switch {
	case s.isVmap:
		b.u32(unix.NFTA_SET_DATA_TYPE, unix.NFT_DATA_VERDICT)
		b.u32(unix.NFTA_SET_DATA_LEN, 0)
	case s.dataTypes != nil:
		b.u32(unix.NFTA_SET_DATA_TYPE, concatMagic(s.dataTypes))
		b.u32(unix.NFTA_SET_DATA_LEN, concatLen(s.dataTypes))
	}
	if s.timeout != 0 {
		b.u64(unix.NFTA_SET_TIMEOUT, s.timeout)
	}
	if len(s.keyTypes) > 1 {
		b.open(unix.NFTA_SET_DESC)
		b.open(2 /* NFTA_SET_DESC_CONCAT */)
		for _, k := range s.keyTypes {
			b.open(unix.NFTA_LIST_ELEM)
			b.u32(1 /* NFTA_SET_FIELD_LEN */, k.size)
			b.close()
		}
		b.close()
		b.close()
	}
	b.end()
}

func (b *batch) delSet(name string) {
	b.msg(unix.NFT_MSG_DELSET, 0, "delete set", name)
	b.str(unix.NFTA_SET_TABLE, b.table)
	b.str(unix.NFTA_SET_NAME, name)
	b.end()
}

// element is a set element: chain is the goto chain of a verdict map
// element, data the value of a data map element (both "" for plain sets).
type element struct {
	key   string
	chain string
	data  string
}

// setElements adds (add=true) or deletes elements, splitting them over
// several messages so that each nested list stays below 64 KiB.
func (b *batch) setElements(set string, add bool, elems []element) {
	for len(elems) > 0 {
		t, op := unix.NFT_MSG_NEWSETELEM, "add element"
		var flags uint16 = unix.NLM_F_CREATE
		if !add {
			t, op, flags = unix.NFT_MSG_DELSETELEM, "delete element", 0
		}
		b.msg(t, flags, op, set)
		b.str(unix.NFTA_SET_ELEM_LIST_TABLE, b.table)
		b.str(unix.NFTA_SET_ELEM_LIST_SET, set)
		b.open(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
		n := 0
		for n < len(elems) && b.sizeSinceOpen() < maxAttrBytes-600 {
			e := elems[n]
			b.open(unix.NFTA_LIST_ELEM)
			b.open(unix.NFTA_SET_ELEM_KEY)
			b.attr(unix.NFTA_DATA_VALUE, []byte(e.key))
			b.close()
			if add && e.chain != "" {
				b.open(unix.NFTA_SET_ELEM_DATA)
				b.open(unix.NFTA_DATA_VERDICT)
				b.u32(unix.NFTA_VERDICT_CODE, verdictGoto)
				b.str(unix.NFTA_VERDICT_CHAIN, e.chain)
				b.close()
				b.close()
			} else if add && e.data != "" {
				b.open(unix.NFTA_SET_ELEM_DATA)
				b.attr(unix.NFTA_DATA_VALUE, []byte(e.data))
				b.close()
			}
			b.close()
			n++
		}
		b.close()
		b.end()
		elems = elems[n:]
	}
}

// finish closes the batch and returns the bytes to send.
func (b *batch) finish() []byte {
	b.begin(unix.NFNL_MSG_BATCH_END, 0, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	b.end()
	return b.buf
}

// raw is an expression already encoded by expr.Marshal.
type raw []byte

// encodeRule encodes a rule's expressions (expr.Any, or raw for ones
// encoded before) into the content of NFTA_RULE_EXPRESSIONS.
func encodeRule(dst []byte, exprs ...any) ([]byte, error) {
	var encs [16][]byte
	parts := encs[:0]
	size := 0
	for _, e := range exprs {
		var data []byte
		switch e := e.(type) {
		case raw:
			data = e
		case expr.Any:
			var err error
			data, err = expr.Marshal(familyIPv4, e)
			if err != nil {
				return nil, fmt.Errorf("encode %T: %w", e, err)
			}
		default:
			return nil, fmt.Errorf("encode %T: not an expression", e)
		}
		parts = append(parts, data)
		size += nlaHdrLen + (len(data)+3)&^3
	}
	dst = slices.Grow(dst, size)
	for _, data := range parts {
		var h [nlaHdrLen]byte
		binary.NativeEndian.PutUint16(h[0:], uint16(nlaHdrLen+len(data)))
		binary.NativeEndian.PutUint16(h[2:], unix.NFTA_LIST_ELEM|nlaFNested)
		dst = append(dst, h[:]...)
		dst = append(dst, data...)
		for len(dst)%4 != 0 {
			dst = append(dst, 0)
		}
	}
	return dst, nil
}

// mustRaw pre-encodes a constant expression.
func mustRaw(e expr.Any) raw {
	b, err := expr.Marshal(familyIPv4, e)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", e, err))
	}
	return b
}

// --- socket ---

// nlSocket is a NETLINK_NETFILTER socket, possibly in another network
// namespace.
type nlSocket struct {
	fd int
}

// openSocket opens the socket in the network namespace at nsPath ("" = the
// caller's).
func openSocket(nsPath string) (*nlSocket, error) {
	var fd int
	err := inNetNS(nsPath, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Extended ACKs give the kernel's reason for a failure.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	// The kernel answers before sendmsg returns; the timeout only guards
	// against waiting forever on a reply that was lost.
	tv := unix.NsecToTimeval((30 * time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink receive timeout: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	return &nlSocket{fd: fd}, nil
}

func (s *nlSocket) Close() error { return unix.Close(s.fd) }

// send transmits one batch and collects the kernel's verdict. The kernel
// processes a batch synchronously inside sendmsg, so once it returns every
// error is already queued on the socket; messages carry no ACK flag, so a
// successful batch produces no reply at all except the final ACK requested on
// the batch's last message.
func (s *nlSocket) send(b *batch) error {
	if b.count == 0 {
		return nil
	}
	// Ask for an ACK on the last real message, so that there is always a
	// reply to wait for.
	lastSeq := uint32(len(b.descs))
	off := b.msgStart
	binary.NativeEndian.PutUint16(b.buf[off+6:], binary.NativeEndian.Uint16(b.buf[off+6:])|unix.NLM_F_ACK)
	buf := b.finish()
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, len(buf)+4096); err != nil && len(buf) > 200000 {
		return fmt.Errorf("raise netlink send buffer to %d bytes (needs CAP_NET_ADMIN): %w", len(buf), err)
	}
	if err := unix.Sendto(s.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send nftables batch of %d messages (%d bytes): %w", b.count, len(buf), err)
	}
	var errs []error
	rb := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(s.fd, rb, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return errors.Join(append(errs, fmt.Errorf("read nftables batch result: %w", err))...)
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("parse nftables batch result: %w", err))...)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			code := int32(binary.NativeEndian.Uint32(m.Data[:4]))
			seq := m.Header.Seq
			if code != 0 {
				what := "message"
				if seq >= 1 && int(seq) <= len(b.descs) {
					d := b.descs[seq-1]
					what = d.op + " " + d.name
				}
				errs = append(errs, fmt.Errorf("nftables %s: %w%s", what, syscall.Errno(-code), extAckMsg(m.Data)))
			}
			if seq == lastSeq {
				return errors.Join(errs...)
			}
		}
	}
}

// threadCPU runs fn on a locked OS thread and returns the CPU time (user
// and system) the thread used; the kernel processes a netlink batch inside
// sendmsg, so this is the commit's cost in the kernel.
func threadCPU(fn func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Rusage
	err1 := unix.Getrusage(unix.RUSAGE_THREAD, &before)
	fn()
	err2 := unix.Getrusage(unix.RUSAGE_THREAD, &after)
	if err1 != nil || err2 != nil {
		return 0
	}
	tv := func(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(after.Utime) - tv(before.Utime) + tv(after.Stime) - tv(before.Stime)
}

// extAckMsg extracts NLMSGERR_ATTR_MSG from an extended ACK, if any.
func extAckMsg(data []byte) string {
	// nlmsgerr: error (4) + original header (16, payload capped by CAP_ACK)
	if len(data) < 20 {
		return ""
	}
	attrs := data[20:]
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs[0:]))
		t := binary.NativeEndian.Uint16(attrs[2:])
		if l < 4 || l > len(attrs) {
			return ""
		}
		if t == unix.NLMSGERR_ATTR_MSG {
			msg := attrs[4:l]
			for len(msg) > 0 && msg[len(msg)-1] == 0 {
				msg = msg[:len(msg)-1]
			}
			return " (" + string(msg) + ")"
		}
		attrs = attrs[min((l+3)&^3, len(attrs)):]
	}
	return ""
}

// get sends one request (not a batch) and returns its single reply.
func (s *nlSocket) get(b *batch) (syscall.NetlinkMessage, error) {
	if err := unix.Sendto(s.fd, b.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return syscall.NetlinkMessage{}, err
	}
	rb := make([]byte, 1<<14)
	for {
		n, _, err := unix.Recvfrom(s.fd, rb, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return syscall.NetlinkMessage{}, err
		}
		msgs, err := syscall.ParseNetlinkMessage(rb[:n])
		if err != nil {
			return syscall.NetlinkMessage{}, err
		}
		for _, m := range msgs {
			if m.Header.Seq != 1 {
				continue // stale reply to an earlier request
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if len(m.Data) < 4 {
					return m, errors.New("short netlink error message")
				}
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					return m, syscall.Errno(-code)
				}
				continue
			}
			return m, nil
		}
	}
}

// generation returns the nf_tables ruleset generation of the socket's
// network namespace; every committed batch increments it.
func (s *nlSocket) generation() (uint32, error) {
	b := &batch{}
	b.begin(uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETGEN), 0, unix.AF_UNSPEC, 0)
	b.end()
	m, err := s.get(b)
	if err != nil {
		return 0, fmt.Errorf("getgen: %w", err)
	}
	if len(m.Data) < nfgenHdrLen {
		return 0, errors.New("getgen: short reply")
	}
	attrs := m.Data[nfgenHdrLen:]
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs[0:]))
		t := binary.NativeEndian.Uint16(attrs[2:])
		if l < 4 || l > len(attrs) {
			break
		}
		if t == unix.NFTA_GEN_ID && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:8]), nil
		}
		attrs = attrs[min((l+3)&^3, len(attrs)):]
	}
	return 0, errors.New("getgen: reply without NFTA_GEN_ID")
}

// tableExists reports whether table ip <table> exists.
func (s *nlSocket) tableExists(table string) (bool, error) {
	b := &batch{table: table}
	b.begin(uint16(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETTABLE), 0, familyIPv4, 0)
	b.str(unix.NFTA_TABLE_NAME, b.table)
	b.end()
	_, err := s.get(b)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get table ip %s: %w", table, err)
	}
	return true, nil
}

// inNetNS runs fn on a locked OS thread switched into the network namespace
// at path ("" runs fn directly).
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with the goroutine
			// instead of running other goroutines in the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("return from network namespace %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

var verdictGoto = func() uint32 { v := int32(unix.NFT_GOTO); return uint32(v) }()
