package promcheck

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const config = `global:
  scrape_interval: 5s
scrape_configs:
  - job_name: apiserver
    static_configs:
      - targets: ["apiserver-1:8080", "apiserver-2:8080"]
  - job_name: etcd
    metrics_path: /metrics
    static_configs:
      - targets: ["etcd-1:2379"]
`

func TestRewriteConfig(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		targets map[string][]string
		wantErr string
	}{
		{"every job mapped", config, map[string][]string{"apiserver": {"127.0.0.1:1"}, "etcd": {"127.0.0.1:2", "127.0.0.1:3"}}, ""},
		{"job of the file without component", config, map[string][]string{"apiserver": {"127.0.0.1:1"}}, `job "etcd": no such component`},
		{"component without job", config, map[string][]string{"apiserver": {"a:1"}, "etcd": {"b:2"}, "kubelet": {"c:3"}}, `no scrape job "kubelet"`},
		{"not YAML", "scrape_configs: [", nil, "prometheus config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := RewriteConfig([]byte(tc.raw), tc.targets, 500*time.Millisecond)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Global        map[string]string `yaml:"global"`
				ScrapeConfigs []struct {
					JobName        string `yaml:"job_name"`
					MetricsPath    string `yaml:"metrics_path"`
					ScrapeInterval string `yaml:"scrape_interval"`
					StaticConfigs  []struct {
						Targets []string `yaml:"targets"`
					} `yaml:"static_configs"`
				} `yaml:"scrape_configs"`
			}
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("rewritten config: %v\n%s", err, out)
			}
			if got.Global["scrape_interval"] != "500ms" || got.Global["evaluation_interval"] != "500ms" {
				t.Errorf("global = %v, want 500ms intervals", got.Global)
			}
			if len(got.ScrapeConfigs) != len(tc.targets) {
				t.Fatalf("%d jobs, want %d", len(got.ScrapeConfigs), len(tc.targets))
			}
			for _, sc := range got.ScrapeConfigs {
				if len(sc.StaticConfigs) != 1 || strings.Join(sc.StaticConfigs[0].Targets, ",") != strings.Join(tc.targets[sc.JobName], ",") {
					t.Errorf("job %s: static_configs %v, want targets %v", sc.JobName, sc.StaticConfigs, tc.targets[sc.JobName])
				}
				if sc.ScrapeInterval != "500ms" {
					t.Errorf("job %s: scrape_interval %q", sc.JobName, sc.ScrapeInterval)
				}
				if sc.JobName == "etcd" && sc.MetricsPath != "/metrics" {
					t.Errorf("job etcd: metrics_path %q not kept", sc.MetricsPath)
				}
			}
		})
	}
}

func TestStaticTargets(t *testing.T) {
	got, err := StaticTargets([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || strings.Join(got["apiserver"], ",") != "apiserver-1:8080,apiserver-2:8080" || strings.Join(got["etcd"], ",") != "etcd-1:2379" {
		t.Fatalf("StaticTargets = %v", got)
	}
	if _, err := StaticTargets([]byte("scrape_configs: {")); err == nil {
		t.Fatal("invalid YAML accepted")
	}
}

func FuzzRewriteConfig(f *testing.F) {
	f.Add(config)
	f.Add("scrape_configs: [{job_name: 1}]")
	f.Add("global: 3")
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := RewriteConfig([]byte(raw), map[string][]string{"apiserver": {"a:1"}}, time.Second)
		if err == nil && !strings.Contains(string(out), "a:1") {
			t.Fatalf("accepted %q without scraping the target: %s", raw, out)
		}
	})
}

func TestLoadDashboards(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.json", `{"title": "A", "panels": [{"title": "p1", "targets": [{"refId": "A", "expr": "up"}, {"refId": "B", "expr": "rate(x[1m])"}]}]}`)
	qs, err := LoadDashboards(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0] != (Query{File: "a.json", Dashboard: "A", Panel: "p1", RefID: "A", Expr: "up"}) || qs[1].Expr != "rate(x[1m])" {
		t.Fatalf("queries = %+v", qs)
	}

	write("b.json", `{"title": "B", "panels": [{"title": "empty", "targets": [{"refId": "A", "expr": " "}]}, {"title": "none"}]}`)
	_, err = LoadDashboards(dir)
	if err == nil || !strings.Contains(err.Error(), `panel "empty" target A: empty expr`) || !strings.Contains(err.Error(), `panel "none": no query`) {
		t.Fatalf("err = %v, want the empty expr and the panel without query", err)
	}
	write("b.json", `{"title": "B", "panels": []}`)
	if _, err = LoadDashboards(dir); err == nil || !strings.Contains(err.Error(), "no panels") {
		t.Fatalf("err = %v, want no panels", err)
	}
	write("b.json", `{`)
	if _, err = LoadDashboards(dir); err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Fatalf("err = %v, want a JSON error naming b.json", err)
	}
	if _, err := LoadDashboards(t.TempDir()); err == nil {
		t.Fatal("an empty directory loaded without error")
	}
}

func TestSampleFloatAndAllUp(t *testing.T) {
	for in, want := range map[string]float64{"1.5": 1.5, "+Inf": math.Inf(1), "0": 0} {
		if got := (Sample{Value: [2]any{1.0, in}}).Float(); got != want {
			t.Errorf("Float(%q) = %v, want %v", in, got, want)
		}
	}
	if v := (Sample{Value: [2]any{1.0, "NaN"}}).Float(); !math.IsNaN(v) {
		t.Errorf("Float(NaN) = %v", v)
	}
	ts := []Target{{ScrapePool: "a", Health: "up"}, {ScrapePool: "b", Health: "down", LastError: "connection refused"}}
	if ok, desc := AllUp(ts, 2); ok || !strings.Contains(desc, "connection refused") {
		t.Errorf("AllUp = %v %q, want false naming the error", ok, desc)
	}
	if ok, _ := AllUp(ts[:1], 2); ok {
		t.Error("AllUp with a missing target = true")
	}
	if ok, _ := AllUp(ts[:1], 1); !ok {
		t.Error("AllUp with every target up = false")
	}
}
