package field

import (
	"strconv"
	"strings"
)

// Path is the path from the root of an object to one of its fields. Paths are
// immutable: Child, Index and Key return new paths that share their parent.
// A nil *Path is the empty path.
type Path struct {
	name   string // a field name, or an index or key when subscr is set
	subscr bool   // the element is an index or key, rendered in brackets
	parent *Path
}

// NewPath returns the path of a root field, optionally followed by more
// names: NewPath("spec", "template") is spec.template.
func NewPath(name string, moreNames ...string) *Path {
	r := &Path{name: name}
	for _, n := range moreNames {
		r = &Path{name: n, parent: r}
	}
	return r
}

// Root returns the first element of the path.
func (p *Path) Root() *Path {
	for ; p != nil && p.parent != nil; p = p.parent {
	}
	return p
}

// Child returns the path of a named field below p.
func (p *Path) Child(name string, moreNames ...string) *Path {
	r := NewPath(name, moreNames...)
	r.Root().parent = p
	return r
}

// Index returns the path of the index'th element of the list at p.
func (p *Path) Index(index int) *Path {
	return &Path{name: strconv.Itoa(index), subscr: true, parent: p}
}

// Key returns the path of the element with the given key of the map at p.
func (p *Path) Key(key string) *Path {
	return &Path{name: key, subscr: true, parent: p}
}

// String renders the path, e.g. spec.containers[0].image or
// metadata.labels[app]. The empty path renders as "".
func (p *Path) String() string {
	if p == nil {
		return ""
	}
	var elems []*Path
	for ; p != nil; p = p.parent {
		elems = append(elems, p)
	}
	var b strings.Builder
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		if e.subscr {
			b.WriteByte('[')
			b.WriteString(e.name)
			b.WriteByte(']')
			continue
		}
		if i != len(elems)-1 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	return b.String()
}
