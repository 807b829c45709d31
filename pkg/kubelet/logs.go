package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Container logs.
//
// The runtime writes a container's stdout and stderr, raw, into a FIFO the
// kubelet created (ContainerConfig.LogPath); a log writer goroutine reads it
// and appends each line to <pod dir>/<container>/<restartCount>.log in the
// CRI logging format ("<RFC3339Nano time> stdout F <line>", P for a partial
// line split at maxLineBytes), so that Logs can honour timestamps and
// sinceSeconds. The file is rotated to <n>.log.1 when it exceeds
// Config.LogMaxBytes. The writer ends when every writer of the FIFO (the
// container's processes) has gone.

const (
	maxLineBytes = 16 << 10
	streamStdout = "stdout"
	tagFull      = "F"
	tagPartial   = "P"
)

// logWriter copies one container instance's output into its log file.
type logWriter struct {
	path     string // <n>.log
	fifo     string
	maxBytes int64

	r, w *os.File // our read end, and a write end held until the container started

	mu     sync.Mutex
	notify chan struct{} // closed and replaced after every write
	done   chan struct{} // closed when the writer has finished
	file   *os.File
	size   int64
}

// logSet tracks the active writers by log path.
type logSet struct {
	mu      sync.Mutex
	writers map[string]*logWriter
}

func newLogSet() *logSet { return &logSet{writers: map[string]*logWriter{}} }

func (s *logSet) get(path string) *logWriter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writers[path]
}

// open creates the FIFO next to path and starts copying from it. The
// returned FIFO path is the container's LogPath; call started once the
// runtime has started (or failed to start) the container.
func (s *logSet) open(path string, maxBytes int64) (*logWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	fifo := strings.TrimSuffix(path, ".log") + ".fifo"
	_ = os.Remove(fifo)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return nil, fmt.Errorf("log fifo %s: %w", fifo, err)
	}
	// Non-blocking opens: the read end first (no writer needed), then a
	// write end of our own so the reader does not see EOF before the
	// container opened the FIFO.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		os.Remove(fifo)
		return nil, fmt.Errorf("log fifo %s: %w", fifo, err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		r.Close()
		os.Remove(fifo)
		return nil, fmt.Errorf("log fifo %s: %w", fifo, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		r.Close()
		w.Close()
		os.Remove(fifo)
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	lw := &logWriter{path: path, fifo: fifo, maxBytes: maxBytes, r: r, w: w, file: f, size: size,
		notify: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.writers[path] = lw
	s.mu.Unlock()
	go func() {
		lw.copy()
		s.mu.Lock()
		if s.writers[path] == lw {
			delete(s.writers, path)
		}
		s.mu.Unlock()
	}()
	return lw, nil
}

// started drops the kubelet's own write end: from now on the copy ends
// when the container's processes are gone.
func (lw *logWriter) started() {
	lw.mu.Lock()
	w := lw.w
	lw.w = nil
	lw.mu.Unlock()
	if w != nil {
		w.Close()
	}
}

// waitDone waits up to d for the writer to drain.
func (lw *logWriter) waitDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-lw.done:
		return true
	case <-t.C:
		return false
	}
}

// watch returns a channel closed at the next write and the done channel.
func (lw *logWriter) watch() (<-chan struct{}, <-chan struct{}) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.notify, lw.done
}

func (lw *logWriter) copy() {
	defer func() {
		lw.r.Close()
		lw.started()
		lw.mu.Lock()
		lw.file.Close()
		lw.mu.Unlock()
		os.Remove(lw.fifo)
		close(lw.done)
	}()
	buf := make([]byte, 32<<10)
	var partial []byte
	var out bytes.Buffer
	for {
		n, err := lw.r.Read(buf)
		if n > 0 {
			now := time.Now().UTC()
			out.Reset()
			data := buf[:n]
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					partial = append(partial, data...)
					data = nil
				} else {
					partial = append(partial, data[:i]...)
					appendCRILine(&out, now, tagFull, partial)
					partial = partial[:0]
					data = data[i+1:]
				}
				for len(partial) >= maxLineBytes {
					appendCRILine(&out, now, tagPartial, partial[:maxLineBytes])
					partial = append(partial[:0], partial[maxLineBytes:]...)
				}
			}
			lw.write(out.Bytes())
		}
		if err != nil {
			if len(partial) > 0 {
				out.Reset()
				appendCRILine(&out, time.Now().UTC(), tagFull, partial)
				lw.write(out.Bytes())
			}
			return
		}
	}
}

func appendCRILine(b *bytes.Buffer, t time.Time, tag string, content []byte) {
	b.WriteString(t.Format(time.RFC3339Nano))
	b.WriteString(" " + streamStdout + " " + tag + " ")
	b.Write(content)
	b.WriteByte('\n')
}

func (lw *logWriter) write(p []byte) {
	if len(p) == 0 {
		return
	}
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.maxBytes > 0 && lw.size > 0 && lw.size+int64(len(p)) > lw.maxBytes {
		lw.rotateLocked()
	}
	n, _ := lw.file.Write(p)
	lw.size += int64(n)
	close(lw.notify)
	lw.notify = make(chan struct{})
}

func (lw *logWriter) rotateLocked() {
	lw.file.Close()
	_ = os.Rename(lw.path, lw.path+".1")
	f, err := os.OpenFile(lw.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		// Keep going into the rotated file rather than losing output.
		f, _ = os.OpenFile(lw.path+".1", os.O_WRONLY|os.O_APPEND, 0o640)
	}
	lw.file = f
	lw.size = 0
}

// logEntry is one parsed CRI log line.
type logEntry struct {
	t       time.Time
	partial bool
	content []byte
}

// parseCRILine parses "<time> <stream> <P|F> <content>" (without the
// trailing newline).
func parseCRILine(line []byte) (logEntry, error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return logEntry{}, errors.New("log line: missing stream")
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return logEntry{}, fmt.Errorf("log line: time: %w", err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(stream) == 0 {
		return logEntry{}, errors.New("log line: missing tag")
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// "<time> stdout F" with empty content has no trailing space in
		// some writers.
		tag, content = rest, nil
	}
	switch string(tag) {
	case tagFull:
	case tagPartial:
	default:
		return logEntry{}, fmt.Errorf("log line: tag %q: want P or F", tag)
	}
	return logEntry{t: t, partial: string(tag) == tagPartial, content: content}, nil
}

// logFiles lists the files of one container instance, oldest first.
func logFiles(path string) []string {
	var out []string
	for _, p := range []string{path + ".1", path} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// instanceNumbers returns the restart numbers that have a log in dir, ascending.
func instanceNumbers(dir string) []int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

// logOptions are the PodLogOptions a reader applies.
type logOptions struct {
	follow     bool
	since      time.Time // zero: all
	tail       int64     // < 0: all
	timestamps bool
	limit      int64 // <= 0: unlimited
}

// errLimit ends a read once limitBytes were sent.
var errLimit = errors.New("limit reached")

// logOutput formats entries and enforces limitBytes.
type logOutput struct {
	opts    logOptions
	w       io.Writer
	sent    int64
	midLine bool // the last entry was partial: its continuation gets no timestamp
}

func (o *logOutput) entry(e logEntry) error {
	if !o.opts.since.IsZero() && e.t.Before(o.opts.since) {
		o.midLine = e.partial
		return nil
	}
	var b []byte
	if o.opts.timestamps && !o.midLine {
		b = append(b, e.t.Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, e.content...)
	if !e.partial {
		b = append(b, '\n')
	}
	o.midLine = e.partial
	if o.opts.limit > 0 && o.sent+int64(len(b)) >= o.opts.limit {
		b = b[:o.opts.limit-o.sent]
		if len(b) > 0 {
			if _, err := o.w.Write(b); err != nil {
				return err
			}
		}
		o.sent = o.opts.limit
		return errLimit
	}
	o.sent += int64(len(b))
	_, err := o.w.Write(b)
	return err
}

// fileTail reads complete lines from an open log file, remembering where an
// incomplete last line started.
type fileTail struct {
	f   *os.File
	br  *bufio.Reader
	buf []byte
}

func openTail(path string) (*fileTail, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &fileTail{f: f, br: bufio.NewReaderSize(f, 64<<10)}, nil
}

// next returns the next complete line (without newline); io.EOF when none
// is complete yet (a partial line stays buffered).
func (t *fileTail) next() ([]byte, error) {
	for {
		chunk, err := t.br.ReadSlice('\n')
		t.buf = append(t.buf, chunk...)
		switch {
		case err == nil:
			line := t.buf[:len(t.buf)-1]
			t.buf = t.buf[:0:0]
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

func (t *fileTail) close() { t.f.Close() }

// readLog writes the log of one container instance (path is its <n>.log)
// to w following opts; lw is its active writer (nil when the container is
// not running), which follow waits on. flush (optional) is called before
// waiting for more output.
func readLog(ctx context.Context, path string, lw *logWriter, opts logOptions, w io.Writer, flush func() error) error {
	out := &logOutput{opts: opts, w: w}
	files := logFiles(path)
	if len(files) == 0 && lw == nil {
		return nil
	}
	emit := func(line []byte) error {
		e, err := parseCRILine(line)
		if err != nil {
			return nil // skip a corrupt line
		}
		return out.entry(e)
	}
	var cur *fileTail
	defer func() {
		if cur != nil {
			cur.close()
		}
	}()
	if opts.tail >= 0 {
		// Keep the last tail complete lines of every file.
		var ring [][]byte
		for _, p := range files {
			t, err := openTail(p)
			if err != nil {
				continue
			}
			for {
				line, err := t.next()
				if err != nil {
					break
				}
				if _, perr := parseCRILine(line); perr != nil || opts.tail == 0 {
					continue
				}
				ring = append(ring, append([]byte(nil), line...))
				if int64(len(ring)) > opts.tail {
					ring = ring[1:]
				}
			}
			if p == path {
				cur = t // continue following from here
			} else {
				t.close()
			}
		}
		for _, line := range ring {
			if err := emit(line); err != nil {
				return ignoreLimit(err)
			}
		}
	} else {
		for _, p := range files {
			t, err := openTail(p)
			if err != nil {
				continue
			}
			for {
				line, err := t.next()
				if err != nil {
					break
				}
				if err := emit(line); err != nil {
					t.close()
					return ignoreLimit(err)
				}
			}
			if p == path {
				cur = t
			} else {
				t.close()
			}
		}
	}
	if !opts.follow || lw == nil {
		return nil
	}
	for {
		notify, done := lw.watch()
		if cur == nil {
			t, err := openTail(path)
			if err == nil {
				cur = t
			}
		}
		if cur != nil {
			for {
				line, err := cur.next()
				if err != nil {
					break
				}
				if err := emit(line); err != nil {
					return ignoreLimit(err)
				}
			}
			// Rotated: the path now names a new file; finish the old one.
			if fi, err := os.Stat(path); err == nil {
				if cfi, err := cur.f.Stat(); err == nil && !os.SameFile(fi, cfi) {
					cur.close()
					cur = nil
					continue
				}
			}
		}
		if flush != nil {
			if err := flush(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			// Drain what the writer flushed last, then stop.
			if cur != nil {
				for {
					line, err := cur.next()
					if err != nil {
						break
					}
					if err := emit(line); err != nil {
						return ignoreLimit(err)
					}
				}
			}
			return nil
		case <-notify:
		case <-time.After(time.Second):
		}
	}
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}
