package promtext

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Label is one name="value" pair.
type Label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Labels are sorted by name.
type Labels []Label

// Get returns the value of label name ("" when absent).
func (l Labels) Get(name string) string {
	for _, x := range l {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// String renders the labels as {a="1",b="2"}.
func (l Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Name)
		b.WriteString("=")
		b.WriteString(strconv.Quote(x.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Sample is one line of the exposition: a series and its value.
type Sample struct {
	Name   string
	Labels Labels
	Value  float64
}

// Samples is a parsed scrape.
type Samples []Sample

// maxLineBytes bounds one exposition line.
const maxLineBytes = 1 << 20

// Parse reads the text exposition format: comments (# HELP, # TYPE) and blank lines are skipped;
// every other line is `name[{label="value",...}] value [timestamp]`. Errors name the line.
func Parse(r io.Reader) (Samples, error) {
	return ParseNames(r)
}

// ParseNames is Parse keeping only the series called one of names (all when none is given); other
// lines are skipped without being parsed, which makes picking one gauge out of a large scrape cheap.
func ParseNames(r io.Reader, names ...string) (Samples, error) {
	keep := func(string) bool { return true }
	if len(names) > 0 {
		keep = func(line string) bool {
			for _, n := range names {
				if strings.HasPrefix(line, n) && len(line) > len(n) && (line[len(n)] == '{' || line[len(n)] == ' ' || line[len(n)] == '\t') {
					return true
				}
			}
			return false
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var out Samples
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || !keep(line) {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: read: %w", err)
	}
	return out, nil
}

func isNameChar(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

func parseLine(line string) (Sample, error) {
	i := 0
	for i < len(line) && isNameChar(line[i], i == 0) {
		i++
	}
	if i == 0 {
		return Sample{}, fmt.Errorf("metric name: expected a name at %q", trunc(line))
	}
	s := Sample{Name: line[:i]}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		labels, n, err := parseLabels(rest)
		if err != nil {
			return Sample{}, fmt.Errorf("labels of %s: %w", s.Name, err)
		}
		s.Labels = labels
		rest = rest[n:]
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return Sample{}, fmt.Errorf("value of %s: expected a space before the value", s.Name)
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return Sample{}, fmt.Errorf("value of %s: expected `value [timestamp]`, got %q", s.Name, trunc(rest))
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("value of %s: %q is not a number", s.Name, fields[0])
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return Sample{}, fmt.Errorf("timestamp of %s: %q is not an integer", s.Name, fields[1])
		}
	}
	s.Value = v
	return s, nil
}

// parseLabels parses `{a="x",b="y"}` at the start of s and returns how many bytes it used.
func parseLabels(s string) (Labels, int, error) {
	var out Labels
	i := 1 // past '{'
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated label set")
		}
		if s[i] == '}' {
			i++
			break
		}
		start := i
		for i < len(s) && isNameChar(s[i], i == start) {
			i++
		}
		if i == start {
			return nil, 0, fmt.Errorf("label name: unexpected %q", s[i])
		}
		name := s[start:i]
		if i >= len(s) || s[i] != '=' {
			return nil, 0, fmt.Errorf("label %s: expected '='", name)
		}
		i++
		if i >= len(s) || s[i] != '"' {
			return nil, 0, fmt.Errorf("label %s: expected a quoted value", name)
		}
		i++
		var v strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' {
				if i+1 >= len(s) {
					break
				}
				switch s[i+1] {
				case 'n':
					v.WriteByte('\n')
				case '\\':
					v.WriteByte('\\')
				case '"':
					v.WriteByte('"')
				default:
					return nil, 0, fmt.Errorf("label %s: invalid escape \\%c", name, s[i+1])
				}
				i += 2
				continue
			}
			v.WriteByte(c)
			i++
		}
		if !closed {
			return nil, 0, fmt.Errorf("label %s: unterminated value", name)
		}
		if slices.ContainsFunc(out, func(l Label) bool { return l.Name == name }) {
			return nil, 0, fmt.Errorf("label %s: repeated", name)
		}
		out = append(out, Label{Name: name, Value: v.String()})
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		if i < len(s) && s[i] == '}' {
			i++
			break
		}
		return nil, 0, fmt.Errorf("label %s: expected ',' or '}'", name)
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out, i, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Fetch scrapes url (e.g. http://127.0.0.1:8080/metrics); with names, only those series are kept.
func Fetch(ctx context.Context, hc *http.Client, url string, names ...string) (Samples, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	s, err := ParseNames(resp.Body, names...)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return s, nil
}

// Sum adds the values of the series called name whose labels match every pair of match.
func (s Samples) Sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, x := range s {
		if x.Name == name && matches(x.Labels, match) {
			total += x.Value
		}
	}
	return total
}

// SumBy adds the values of the series called name grouped by the value of label by.
func (s Samples) SumBy(name, by string) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s {
		if x.Name == name {
			out[x.Labels.Get(by)] += x.Value
		}
	}
	return out
}

// Has reports whether a series called name exists.
func (s Samples) Has(name string) bool {
	return slices.ContainsFunc(s, func(x Sample) bool { return x.Name == name })
}

func matches(l Labels, match map[string]string) bool {
	for k, v := range match {
		if l.Get(k) != v {
			return false
		}
	}
	return true
}

// parseLE reads a bucket's le label.
func parseLE(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf", "inf", "+inf":
		return math.Inf(1), nil
	}
	return strconv.ParseFloat(s, 64)
}

// SumFunc adds the values of the series called name whose labels keep accepts.
func (s Samples) SumFunc(name string, keep func(Labels) bool) float64 {
	total := 0.0
	for _, x := range s {
		if x.Name == name && keep(x.Labels) {
			total += x.Value
		}
	}
	return total
}
