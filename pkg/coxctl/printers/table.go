package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
)

// Options select the table's shape, as kubectl get's flags do.
type Options struct {
	// Wide adds the -o wide columns.
	Wide bool
	// NoHeaders leaves out the header line.
	NoHeaders bool
	// ShowLabels adds a LABELS column.
	ShowLabels bool
	// WithNamespace adds a NAMESPACE column first (-A).
	WithNamespace bool
	// WithKind prefixes names with kind/ ("pod/web", "deployment.apps/web"), as kubectl does when it prints
	// several kinds.
	WithKind bool
	// Now is the time AGE columns count from (time.Now() when zero).
	Now time.Time
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Table is a rendered table: a header and rows of cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// NewTabWriter returns the tabwriter kubectl prints tables with.
func NewTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

// Write prints the table, aligned, with the header unless noHeaders.
func (t *Table) Write(w io.Writer, noHeaders bool) error {
	tw := NewTabWriter(w)
	if !noHeaders {
		fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	}
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// TypeName is how kubectl names a kind in messages and kind/name prefixes: "pod", "deployment.apps".
func TypeName(r *api.Resource) string {
	k := strings.ToLower(r.Kind)
	if r.Group != "" {
		k += "." + r.Group
	}
	return k
}

// Name is kubectl's -o name form of an object: "pod/web", "deployment.apps/web".
func Name(r *api.Resource, obj api.Object) string {
	return TypeName(r) + "/" + obj.GetMetadata().GetName()
}

// printer builds the cells of one kind.
type printer struct {
	header []string
	wide   []string // extra columns of -o wide
	row    func(obj api.Object, now time.Time, wide bool) []string
	// wideHeader, when set, replaces header+wide for -o wide (events reorder their columns).
	wideHeader []string
}

var printersByKind = map[string]printer{}

func register(r *api.Resource, p printer) { printersByKind[r.Kind] = p }

// BuildTable renders objects of kind r as kubectl get prints them. Objects are printed in the order given.
func BuildTable(r *api.Resource, objs []api.Object, opts Options) *Table {
	p, ok := printersByKind[r.Kind]
	if !ok {
		p = printer{header: []string{"NAME", "AGE"}, row: func(obj api.Object, now time.Time, _ bool) []string {
			return []string{obj.GetMetadata().GetName(), Age(obj.GetMetadata().GetCreationTimestamp(), now)}
		}}
	}
	now := opts.now()
	t := &Table{}
	switch {
	case opts.Wide && p.wideHeader != nil:
		t.Header = append(t.Header, p.wideHeader...)
	case opts.Wide:
		t.Header = append(append(t.Header, p.header...), p.wide...)
	default:
		t.Header = append(t.Header, p.header...)
	}
	nameCol := 0
	if r == api.Events {
		nameCol = -1 // events have no NAME column (it is the last wide column)
	}
	if opts.WithNamespace && r.Namespaced {
		t.Header = append([]string{"NAMESPACE"}, t.Header...)
	}
	if opts.ShowLabels {
		t.Header = append(t.Header, "LABELS")
	}
	for _, obj := range objs {
		cells := p.row(obj, now, opts.Wide)
		if opts.WithKind && nameCol >= 0 {
			cells[nameCol] = TypeName(r) + "/" + cells[nameCol]
		}
		if opts.WithNamespace && r.Namespaced {
			cells = append([]string{obj.GetMetadata().GetNamespace()}, cells...)
		}
		if opts.ShowLabels {
			cells = append(cells, FormatLabels(obj.GetMetadata().GetLabels()))
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// FormatLabels renders labels as "k1=v1,k2=v2" sorted by key, "<none>" when empty.
func FormatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// SortObjects sorts objects by namespace then name, the order kubectl lists them in.
func SortObjects(objs []api.Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i].GetMetadata(), objs[j].GetMetadata()
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}
