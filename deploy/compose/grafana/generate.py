#!/usr/bin/env python3
"""Writes the Grafana dashboards (JSON committed next to this script). Every panel query here is also
run against a real Prometheus scraping a real local cluster by the monitoring test."""
import json, os, sys

def panel(i, title, exprs, unit="short"):
    return {"id": i, "type": "timeseries", "title": title, "datasource": {"type": "prometheus", "uid": "prometheus"},
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(65 + j), "expr": e, "legendFormat": l} for j, (e, l) in enumerate(exprs)]}

def dashboard(uid, title, panels):
    return {"uid": uid, "title": title, "schemaVersion": 39, "time": {"from": "now-30m", "to": "now"},
            "refresh": "10s", "tags": ["coxswain"],
            "panels": [panel(i, t, e, *rest) for i, (t, e, *rest) in enumerate(panels)]}

def quant(p, metric, by):
    return f"histogram_quantile({p}, sum by (le, {by}) (rate({metric}_bucket[1m])))"

dashboards = {
  "controllers.json": dashboard("coxswain-controllers", "coxswain / controllers", [
    ("Reconcile rate by controller", [("sum by (controller, result) (rate(controller_runtime_reconcile_total[1m]))", "{{controller}} {{result}}")], "ops"),
    # controller_runtime_reconcile_errors_total only has a series once a controller failed: zero-fill from
    # the reconcile counter so healthy controllers plot 0 instead of "No data".
    ("Reconcile errors by controller", [("sum by (controller) (rate(controller_runtime_reconcile_errors_total[1m]))"
                                         " or 0 * sum by (controller) (rate(controller_runtime_reconcile_total[1m]))", "{{controller}}")], "ops"),
    ("Reconcile latency p99", [(quant(0.99, "controller_runtime_reconcile_time_seconds", "controller"), "{{controller}}")], "s"),
    ("Workqueue depth", [("sum by (name) (workqueue_depth)", "{{name}}")]),
    ("Workqueue latency p99 (queued → picked)", [(quant(0.99, "workqueue_queue_duration_seconds", "name"), "{{name}}")], "s"),
    ("Workqueue retries", [("sum by (name) (rate(workqueue_retries_total[1m]))", "{{name}}")], "ops"),
  ]),
  "scheduler.json": dashboard("coxswain-scheduler", "coxswain / scheduler", [
    ("Scheduling throughput", [("sum by (result) (rate(scheduler_schedule_attempts_total[1m]))", "{{result}}")], "ops"),
    ("Scheduling attempt latency p99", [(quant(0.99, "scheduler_scheduling_attempt_duration_seconds", "result"), "{{result}}")], "s"),
    ("Pod scheduling SLI p99", [(quant(0.99, "scheduler_pod_scheduling_sli_duration_seconds", "job"), "p99")], "s"),
    ("Pending pods", [("sum by (queue) (scheduler_pending_pods)", "{{queue}}")]),
  ]),
  "apiserver.json": dashboard("coxswain-apiserver", "coxswain / apiserver", [
    ("Request rate by verb and resource", [("sum by (verb, resource) (rate(apiserver_request_total[1m]))", "{{verb}} {{resource}}")], "reqps"),
    ("Request latency p99 by verb", [(quant(0.99, "apiserver_request_duration_seconds", "verb"), "{{verb}}")], "s"),
    ("Errors by code", [("sum by (code) (rate(apiserver_request_total{code!=\"OK\"}[1m]))", "{{code}}")], "reqps"),
    ("Registered watchers", [("sum by (resource) (apiserver_registered_watchers)", "{{resource}}")]),
    ("Watch cache size", [("sum by (resource) (apiserver_watch_cache_size)", "{{resource}}")]),
    ("etcd request latency p99", [(quant(0.99, "etcd_request_duration_seconds", "operation"), "{{operation}}")], "s"),
  ]),
  "nodes.json": dashboard("coxswain-nodes", "coxswain / nodes", [
    ("Pod start latency p99", [(quant(0.99, "kubelet_pod_start_sli_duration_seconds", "instance"), "{{instance}}")], "s"),
    ("Running pods", [("sum by (instance) (kubelet_running_pods)", "{{instance}}")]),
    ("Runtime operation latency p99", [(quant(0.99, "kubelet_runtime_operations_duration_seconds", "operation_type"), "{{operation_type}}")], "s"),
    ("Proxy sync latency p99", [(quant(0.99, "kubeproxy_sync_proxy_rules_duration_seconds", "instance"), "{{instance}}")], "s"),
  ]),
  "dns.json": dashboard("coxswain-dns", "coxswain / cluster DNS", [
    ("DNS requests by type and response code", [("sum by (type, rcode) (rate(coxswain_dns_requests_total[1m]))", "{{type}} {{rcode}}")], "reqps"),
    ("DNS answer latency p99 by source", [(quant(0.99, "coxswain_dns_request_duration_seconds", "source"), "{{source}}")], "s"),
  ]),
  "etcd.json": dashboard("coxswain-etcd", "coxswain / etcd", [
    ("etcd has leader", [("etcd_server_has_leader", "{{instance}}")]),
    ("etcd proposals committed", [("rate(etcd_server_proposals_committed_total[1m])", "{{instance}}")], "ops"),
    ("etcd db size", [("etcd_mvcc_db_total_size_in_bytes", "{{instance}}")], "bytes"),
  ]),
}
# Usage: generate.py [OUT_DIR] (default: the dashboards/ directory next to this script; the monitoring test
# writes to a temporary directory to check the committed JSON is current).
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
for name, d in dashboards.items():
    with open(os.path.join(out, name), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
