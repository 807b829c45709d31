package promcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RewriteConfig rewrites a Prometheus configuration (the compose cluster's prometheus.yml) to scrape
// other addresses: every job keeps its name and settings but scrapes targets[job] every interval (also
// the global scrape and evaluation interval). It fails when a job of the file has no entry in targets,
// or when targets names a job the file does not have: the file must scrape every component.
func RewriteConfig(raw []byte, targets map[string][]string, interval time.Duration) ([]byte, error) {
	var cfg struct {
		Global        map[string]any   `yaml:"global"`
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("prometheus config: %w", err)
	}
	if cfg.Global == nil {
		cfg.Global = map[string]any{}
	}
	iv := model(interval)
	cfg.Global["scrape_interval"] = iv
	cfg.Global["evaluation_interval"] = iv
	seen := map[string]bool{}
	var errs []error
	for i, sc := range cfg.ScrapeConfigs {
		job, _ := sc["job_name"].(string)
		addrs, ok := targets[job]
		if !ok {
			errs = append(errs, fmt.Errorf("prometheus config: scrape_configs[%d] job %q: no such component here (have %v)", i, job, keys(targets)))
			continue
		}
		seen[job] = true
		sc["static_configs"] = []map[string]any{{"targets": addrs}}
		sc["scrape_interval"] = iv
		sc["scrape_timeout"] = iv
	}
	for _, job := range keys(targets) {
		if !seen[job] {
			errs = append(errs, fmt.Errorf("prometheus config: no scrape job %q: that component is not scraped", job))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return yaml.Marshal(cfg)
}

// StaticTargets returns the static targets of every job of a Prometheus configuration.
func StaticTargets(raw []byte) (map[string][]string, error) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("prometheus config: %w", err)
	}
	out := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			out[sc.JobName] = append(out[sc.JobName], st.Targets...)
		}
	}
	return out, nil
}

// model renders a duration in Prometheus' format (whole milliseconds or more: "1s", "500ms").
func model(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Query is one panel target of a Grafana dashboard.
type Query struct {
	File, Dashboard, Panel, RefID, Expr string
}

func (q Query) String() string {
	return fmt.Sprintf("%s / %q / %s: %s", q.File, q.Panel, q.RefID, q.Expr)
}

// LoadDashboards reads every panel target of the dashboards (*.json) in dir. A dashboard without panels,
// a panel without targets and an empty expr are errors.
func LoadDashboards(dir string) ([]Query, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("dashboards: no *.json in %s", dir)
	}
	var out []Query
	var errs []error
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(f)
		var d struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					RefID string `json:"refId"`
					Expr  string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", name, err)
		}
		if len(d.Panels) == 0 {
			errs = append(errs, fmt.Errorf("dashboard %s (%q): no panels", name, d.Title))
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				errs = append(errs, fmt.Errorf("dashboard %s: panel %q: no query", name, p.Title))
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					errs = append(errs, fmt.Errorf("dashboard %s: panel %q target %s: empty expr", name, p.Title, tg.RefID))
					continue
				}
				out = append(out, Query{File: name, Dashboard: d.Title, Panel: p.Title, RefID: tg.RefID, Expr: tg.Expr})
			}
		}
	}
	return out, errors.Join(errs...)
}

// Client calls a Prometheus server's HTTP API.
type Client struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:9090.
	URL  string
	HTTP *http.Client // nil: a client with a 10s timeout
}

// APIError is an error answer of the API (status "error").
type APIError struct {
	Type, Message string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// BadQuery reports whether err is Prometheus refusing the query itself (a syntax or type error), as
// opposed to the server being unreachable.
func BadQuery(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Type == "bad_data"
}

func (c *Client) get(ctx context.Context, path string, params url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: HTTP %d, undecodable body %.200q: %w", path, resp.StatusCode, body, err)
	}
	if env.Status != "success" {
		return &APIError{Type: env.ErrorType, Message: env.Error}
	}
	return json.Unmarshal(env.Data, out)
}

// Sample is one series of an instant query's vector result.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

// Float is the sample's value (Prometheus sends it as a string: "1.5", "NaN", "+Inf").
func (s Sample) Float() float64 {
	str, _ := s.Value[1].(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// Query runs an instant query (/api/v1/query); the result must be a vector, as a graph panel plots.
func (c *Client) Query(ctx context.Context, expr string) ([]Sample, error) {
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []Sample `json:"result"`
	}
	if err := c.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, &APIError{Type: "bad_data", Message: fmt.Sprintf("result type %q, want vector (a panel plots series)", data.ResultType)}
	}
	return data.Result, nil
}

// Target is one active scrape target (/api/v1/targets).
type Target struct {
	ScrapePool string `json:"scrapePool"`
	ScrapeURL  string `json:"scrapeUrl"`
	Health     string `json:"health"`
	LastError  string `json:"lastError"`
}

// Targets lists the active scrape targets.
func (c *Client) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	err := c.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &data)
	return data.ActiveTargets, err
}

// AllUp reports whether want targets are active and all of them up, with a description otherwise.
func AllUp(ts []Target, want int) (bool, string) {
	var b strings.Builder
	up := 0
	for _, t := range ts {
		if t.Health == "up" {
			up++
		}
		fmt.Fprintf(&b, "\n  %s %s %s %s", t.ScrapePool, t.ScrapeURL, t.Health, t.LastError)
	}
	return len(ts) == want && up == want, fmt.Sprintf("%d of %d targets up (want %d):%s", up, len(ts), want, b.String())
}

// HasData runs q and reports whether it returned at least one series with a number (not NaN or ±Inf):
// a line on the panel. The description says what came back. err is only set for a refused query or an
// unreachable server.
func (c *Client) HasData(ctx context.Context, q Query) (ok bool, desc string, err error) {
	res, err := c.Query(ctx, q.Expr)
	if err != nil {
		return false, "", err
	}
	var finite []Sample
	for _, s := range res {
		if v := s.Float(); !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, s)
		}
	}
	if len(finite) == 0 {
		return false, fmt.Sprintf("%d series, none with a number", len(res)), nil
	}
	return true, fmt.Sprintf("%d series (%d with a number), e.g. %v = %v", len(res), len(finite), finite[0].Metric, finite[0].Value[1]), nil
}
