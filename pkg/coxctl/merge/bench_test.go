package merge

import "testing"

// BenchmarkThreeWay merges a deployment-sized configuration into a live object.
func BenchmarkThreeWay(b *testing.B) {
	cfg := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web","tier":"a"}},
"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"nginx:1","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
{"name":"sidecar","image":"busybox","args":["sleep","1d"]}]}}}}`
	live := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","uid":"u","resourceVersion":"42",
"labels":{"app":"web","tier":"a"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"strategy":{"type":"RollingUpdate",
"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"restartPolicy":"Always",
"containers":[{"name":"web","image":"nginx:1","imagePullPolicy":"IfNotPresent","ports":[{"containerPort":80,"protocol":"TCP"}],
"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"sidecar","image":"busybox","args":["sleep","1d"]}]}}},
"status":{"replicas":3,"readyReplicas":3}}`
	o, m, c := parse(b, cfg), parse(b, cfg), parse(b, live)
	m["metadata"].(map[string]any)["labels"] = map[string]any{"app": "web"}
	b.ReportAllocs()
	for b.Loop() {
		ThreeWay(o, m, c)
	}
}
