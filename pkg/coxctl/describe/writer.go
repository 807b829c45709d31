package describe

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// writer is kubectl's prefix writer: each level indents by two spaces, cells are tab separated and
// aligned by a tabwriter over the whole description.
type writer struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newWriter() *writer {
	w := &writer{}
	w.tw = tabwriter.NewWriter(&w.buf, 0, 8, 2, ' ', 0)
	return w
}

func (w *writer) line(level int, format string, args ...any) {
	fmt.Fprintf(w.tw, strings.Repeat("  ", level)+format+"\n", args...)
}

func (w *writer) String() string {
	w.tw.Flush()
	return w.buf.String()
}

// timeRFC1123 is how describe prints times.
func timeRFC1123(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unset>"
	}
	return ts.AsTime().Format(time.RFC1123Z)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// labelsBlock prints labels one per line, "key=value", the first on the title's line.
func (w *writer) labels(level int, title string, m map[string]string) {
	if len(m) == 0 {
		w.line(level, "%s:\t<none>", title)
		return
	}
	for i, k := range sortedKeys(m) {
		if i == 0 {
			w.line(level, "%s:\t%s=%s", title, k, m[k])
		} else {
			w.line(level, "\t%s=%s", k, m[k])
		}
	}
}

// annotations prints annotations "key: value", skipping the last-applied configuration like kubectl.
func (w *writer) annotations(level int, m map[string]string) {
	keys := []string{}
	for _, k := range sortedKeys(m) {
		if k != "kubectl.kubernetes.io/last-applied-configuration" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		w.line(level, "Annotations:\t<none>")
		return
	}
	for i, k := range keys {
		v := strings.TrimSpace(m[k])
		if len(v) > 200 {
			v = v[:197] + "..."
		}
		if i == 0 {
			w.line(level, "Annotations:\t%s: %s", k, v)
		} else {
			w.line(level, "\t%s: %s", k, v)
		}
	}
}

// list prints a string list, the first on the title's line.
func (w *writer) list(level int, title string, items []string) {
	if len(items) == 0 {
		w.line(level, "%s:\t<none>", title)
		return
	}
	for i, it := range items {
		if i == 0 {
			w.line(level, "%s:\t%s", title, it)
		} else {
			w.line(level, "\t%s", it)
		}
	}
}
