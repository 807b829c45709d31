package validation

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func intOrStr(v any) *metav1.IntOrString {
	switch x := v.(type) {
	case int:
		return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: int32(x)}}
	case string:
		return &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: x}}
	}
	panic(v)
}

// validPodSpec is a defaulted pod spec using most features.
func validPodSpec() *corev1.PodSpec {
	return &corev1.PodSpec{
		Volumes: []*corev1.Volume{
			{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: "1Gi"}},
			{Name: "config", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "web-config", DefaultMode: proto.Int32(0o644),
				Items: []*corev1.KeyToPath{{Key: "nginx.conf", Path: "conf/nginx.conf", Mode: proto.Int32(0o600)}}}},
			{Name: "creds", Secret: &corev1.SecretVolumeSource{SecretName: "web-creds", DefaultMode: proto.Int32(0o400)}},
			{Name: "host", HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: "Directory"}},
		},
		InitContainers: []*corev1.Container{{Name: "init", Image: "busybox:1.36", Command: []string{"sh", "-c", "true"},
			ImagePullPolicy: "IfNotPresent", TerminationMessagePath: "/dev/termination-log",
			VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
		Containers: []*corev1.Container{
			{Name: "app", Image: "nginx:1.25", ImagePullPolicy: "IfNotPresent", TerminationMessagePath: "/dev/termination-log",
				Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: "TCP"},
					{Name: "metrics", ContainerPort: 9090, HostPort: 9090, HostIp: "10.0.0.1", Protocol: "TCP"},
					{ContainerPort: 53, Protocol: "UDP"}},
				EnvFrom: []*corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "web-config"}},
					{SecretRef: &corev1.SecretEnvSource{Name: "web-creds", Optional: proto.Bool(true)}}},
				Env: []*corev1.EnvVar{
					{Name: "MODE", Value: "prod"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.name"}}},
					{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.labels['app']"}}},
					{Name: "POD_IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "status.podIPs"}}},
					{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: "1m"}}},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "web-creds", Key: "password"}}},
					{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "web-config", Key: "level"}}},
				},
				Resources: &corev1.ResourceRequirements{
					Requests: map[string]string{"cpu": "100m", "memory": "64Mi", "example.com/gpu": "1"},
					Limits:   map[string]string{"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "1Gi", "example.com/gpu": "1"}},
				VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/data"},
					{Name: "config", MountPath: "/etc/nginx", ReadOnly: true, SubPath: "conf"}},
				LivenessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intOrStr("http"), Scheme: "HTTP",
					HttpHeaders: []*corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}}},
					InitialDelaySeconds: 5, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				ReadinessProbe: &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: intOrStr(80)},
					TimeoutSeconds: 1, PeriodSeconds: 5, SuccessThreshold: 2, FailureThreshold: 3},
				StartupProbe: &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}},
					TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 30, TerminationGracePeriodSeconds: proto.Int64(5)},
				Lifecycle:       &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"nginx", "-s", "quit"}}}},
				SecurityContext: &corev1.SecurityContext{RunAsUser: proto.Int64(1000), RunAsGroup: proto.Int64(0)},
			},
			{Name: "sidecar", Image: "registry.example.com:5000/team/sidecar@sha256:0123456789abcdef", ImagePullPolicy: "Always"},
		},
		RestartPolicy: "Always", DnsPolicy: "ClusterFirst", TerminationGracePeriodSeconds: proto.Int64(30),
		ActiveDeadlineSeconds: proto.Int64(3600), SchedulerName: "default-scheduler", ServiceAccountName: "default",
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
		Hostname:     "web-0", Subdomain: "web",
		Tolerations: []*corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(300)},
			{Key: "dedicated", Operator: "Equal", Value: "web", Effect: "NoSchedule"},
			{Operator: "Exists"},
		},
		Affinity: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
					MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "kubernetes.io/arch", Operator: "In", Values: []string{"amd64", "arm64"}},
						{Key: "example.com/cores", Operator: "Gt", Values: []string{"2"}}},
					MatchFields: []*corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: "NotIn", Values: []string{"node-9"}}},
				}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.PreferredSchedulingTerm{{Weight: 10,
					Preference: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Exists"}}}}},
			},
			PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.WeightedPodAffinityTerm{{Weight: 100,
					PodAffinityTerm: &corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
						TopologyKey: "kubernetes.io/hostname"}}}},
		},
		HostAliases:      []*corev1.HostAlias{{Ip: "10.1.2.3", Hostnames: []string{"db.local"}}},
		ImagePullSecrets: []*corev1.LocalObjectReference{{Name: "regcred"}},
		DnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"svc.cluster.local."},
			Options: []*corev1.PodDNSConfigOption{{Name: "ndots", Value: proto.String("2")}}},
	}
}

func validPod() *corev1.Pod {
	return &corev1.Pod{Metadata: meta("web"), Spec: validPodSpec()}
}

func TestPod(t *testing.T) {
	app := func(p *corev1.Pod) *corev1.Container { return p.Spec.Containers[0] }
	runCreateCases(t, validPod, ValidatePod, []kindCase[*corev1.Pod]{
		// Metadata.
		{name: "bad name", mutate: func(p *corev1.Pod) { p.Metadata.Name = "Web_1" }, want: []string{"metadata.name: Invalid value"}},
		{name: "generate name", mutate: func(p *corev1.Pod) { p.Metadata.GenerateName = "web-7d9f-" }},
		// Containers.
		{name: "no containers", mutate: func(p *corev1.Pod) { p.Spec.Containers = nil }, want: []string{"spec.containers: Required value"}},
		{name: "nil spec", mutate: func(p *corev1.Pod) { p.Spec = nil }, want: []string{"spec.containers: Required value",
			"spec.restartPolicy: Required value", "spec.dnsPolicy: Required value"}},
		{name: "no image", mutate: func(p *corev1.Pod) { p.Spec.Containers[1].Image = "" },
			want: []string{"spec.containers[1].image: Required value"}, msgs: []string{"spec.containers[1].image: Required value"}},
		{name: "init image", mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "" }, want: []string{"spec.initContainers[0].image: Required value"}},
		{name: "image whitespace", mutate: func(p *corev1.Pod) { app(p).Image = " nginx" }, want: []string{"spec.containers[0].image: Invalid value"}},
		{name: "container name", mutate: func(p *corev1.Pod) { app(p).Name = "Foo_" }, want: []string{"spec.containers[0].name: Invalid value"},
			msgs: []string{`spec.containers[0].name: Invalid value: "Foo_": ` + labelMsg}},
		{name: "no container name", mutate: func(p *corev1.Pod) { app(p).Name = "" }, want: []string{"spec.containers[0].name: Required value"}},
		{name: "duplicate container", mutate: func(p *corev1.Pod) { p.Spec.Containers[1].Name = "app" },
			want: []string{"spec.containers[1].name: Duplicate value"}, msgs: []string{`spec.containers[1].name: Duplicate value: "app"`}},
		{name: "init duplicates container", mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].Name = "sidecar" },
			want: []string{"spec.initContainers[0].name: Duplicate value"}},
		{name: "pull policy", mutate: func(p *corev1.Pod) { app(p).ImagePullPolicy = "Sometimes" }, want: []string{"spec.containers[0].imagePullPolicy: Unsupported value"}},
		{name: "negative user", mutate: func(p *corev1.Pod) { app(p).SecurityContext.RunAsUser = proto.Int64(-1) },
			want: []string{"spec.containers[0].securityContext.runAsUser: Invalid value"}},
		// Ports.
		{name: "container port 0", mutate: func(p *corev1.Pod) { app(p).Ports[0].ContainerPort = 0 }, want: []string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{name: "container port range", mutate: func(p *corev1.Pod) { app(p).Ports[0].ContainerPort = 70000 },
			want: []string{"spec.containers[0].ports[0].containerPort: Invalid value"},
			msgs: []string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{name: "host port range", mutate: func(p *corev1.Pod) { app(p).Ports[1].HostPort = -1 }, want: []string{"spec.containers[0].ports[1].hostPort: Invalid value"}},
		{name: "port name", mutate: func(p *corev1.Pod) { app(p).Ports[0].Name = "HTTP" },
			want: []string{"spec.containers[0].ports[0].name: Invalid value", "spec.containers[0].ports[0].name: Invalid value"}},
		{name: "port name too long", mutate: func(p *corev1.Pod) { app(p).Ports[0].Name = "http-alternative" },
			want: []string{"spec.containers[0].ports[0].name: Invalid value"},
			msgs: []string{`spec.containers[0].ports[0].name: Invalid value: "http-alternative": must be no more than 15 characters`}},
		{name: "duplicate port name", mutate: func(p *corev1.Pod) { app(p).Ports[1].Name = "http" }, want: []string{"spec.containers[0].ports[1].name: Duplicate value"}},
		{name: "protocol", mutate: func(p *corev1.Pod) { app(p).Ports[2].Protocol = "ICMP" }, want: []string{"spec.containers[0].ports[2].protocol: Unsupported value"},
			msgs: []string{`spec.containers[0].ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`}},
		{name: "no protocol", mutate: func(p *corev1.Pod) { app(p).Ports[2].Protocol = "" }, want: []string{"spec.containers[0].ports[2].protocol: Required value"}},
		{name: "host IP", mutate: func(p *corev1.Pod) { app(p).Ports[1].HostIp = "localhost" }, want: []string{"spec.containers[0].ports[1].hostIP: Invalid value"}},
		{name: "host port conflict", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[1].Ports = []*corev1.ContainerPort{{ContainerPort: 9091, HostPort: 9090, HostIp: "10.0.0.1", Protocol: "TCP"}}
		}, want: []string{"spec.containers[1].ports[0].hostPort: Duplicate value"}},
		{name: "host port other protocol", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[1].Ports = []*corev1.ContainerPort{{ContainerPort: 9091, HostPort: 9090, HostIp: "10.0.0.1", Protocol: "UDP"}}
		}},
		{name: "host network port mismatch", mutate: func(p *corev1.Pod) { p.Spec.HostNetwork = true },
			want: []string{"spec.containers[0].ports[0].containerPort: Invalid value", "spec.containers[0].ports[2].containerPort: Invalid value"}},
		// Env.
		{name: "env name", mutate: func(p *corev1.Pod) { app(p).Env[0].Name = "1MODE" }, want: []string{"spec.containers[0].env[0].name: Invalid value"}},
		{name: "env no name", mutate: func(p *corev1.Pod) { app(p).Env[0].Name = "" }, want: []string{"spec.containers[0].env[0].name: Required value"}},
		{name: "valueFrom empty", mutate: func(p *corev1.Pod) { app(p).Env[1].ValueFrom = &corev1.EnvVarSource{} },
			want: []string{"spec.containers[0].env[1].valueFrom: Invalid value"},
			msgs: []string{"spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}},
		{name: "valueFrom two sources", mutate: func(p *corev1.Pod) {
			app(p).Env[1].ValueFrom.SecretKeyRef = &corev1.SecretKeySelector{Name: "s", Key: "k"}
		}, want: []string{"spec.containers[0].env[1].valueFrom: Invalid value"}},
		{name: "value and valueFrom", mutate: func(p *corev1.Pod) { app(p).Env[1].Value = "x" }, want: []string{"spec.containers[0].env[1].valueFrom: Invalid value"}},
		{name: "fieldRef unsupported", mutate: func(p *corev1.Pod) { app(p).Env[1].ValueFrom.FieldRef.FieldPath = "spec.hostname" },
			want: []string{"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value"}},
		{name: "fieldRef annotation", mutate: func(p *corev1.Pod) {
			app(p).Env[1].ValueFrom.FieldRef.FieldPath = "metadata.annotations['Example.com/Note']"
		}},
		{name: "fieldRef bad label", mutate: func(p *corev1.Pod) { app(p).Env[2].ValueFrom.FieldRef.FieldPath = "metadata.labels['a b']" },
			want: []string{"spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Invalid value"}},
		{name: "fieldRef subscript", mutate: func(p *corev1.Pod) { app(p).Env[2].ValueFrom.FieldRef.FieldPath = "status.phase['x']" },
			want: []string{"spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Invalid value"}},
		{name: "fieldRef apiVersion", mutate: func(p *corev1.Pod) { app(p).Env[1].ValueFrom.FieldRef.ApiVersion = "" },
			want: []string{"spec.containers[0].env[1].valueFrom.fieldRef.apiVersion: Required value"}},
		{name: "fieldRef v2", mutate: func(p *corev1.Pod) { app(p).Env[1].ValueFrom.FieldRef.ApiVersion = "v2" },
			want: []string{"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Invalid value"}},
		{name: "resourceFieldRef", mutate: func(p *corev1.Pod) { app(p).Env[4].ValueFrom.ResourceFieldRef.Resource = "limits.gpu" },
			want: []string{"spec.containers[0].env[4].valueFrom.resourceFieldRef.resource: Unsupported value"}},
		{name: "resourceFieldRef divisor", mutate: func(p *corev1.Pod) { app(p).Env[4].ValueFrom.ResourceFieldRef.Divisor = "1Mi" },
			want: []string{"spec.containers[0].env[4].valueFrom.resourceFieldRef.divisor: Invalid value"}},
		{name: "secretKeyRef", mutate: func(p *corev1.Pod) { app(p).Env[5].ValueFrom.SecretKeyRef.Key = "" },
			want: []string{"spec.containers[0].env[5].valueFrom.secretKeyRef.key: Required value"}},
		{name: "configMapKeyRef", mutate: func(p *corev1.Pod) { app(p).Env[6].ValueFrom.ConfigMapKeyRef.Name = "Bad" },
			want: []string{"spec.containers[0].env[6].valueFrom.configMapKeyRef.name: Invalid value"}},
		{name: "envFrom empty", mutate: func(p *corev1.Pod) { app(p).EnvFrom[0].ConfigMapRef = nil }, want: []string{"spec.containers[0].envFrom[0]: Invalid value"}},
		{name: "envFrom both", mutate: func(p *corev1.Pod) { app(p).EnvFrom[1].ConfigMapRef = &corev1.ConfigMapEnvSource{Name: "x"} },
			want: []string{"spec.containers[0].envFrom[1]: Invalid value"}},
		{name: "envFrom prefix", mutate: func(p *corev1.Pod) { app(p).EnvFrom[0].Prefix = "1_" }, want: []string{"spec.containers[0].envFrom[0].prefix: Invalid value"}},
		{name: "envFrom name", mutate: func(p *corev1.Pod) { app(p).EnvFrom[1].SecretRef.Name = "" }, want: []string{"spec.containers[0].envFrom[1].secretRef.name: Required value"}},
		// Resources.
		{name: "quantity", mutate: func(p *corev1.Pod) { app(p).Resources.Limits["cpu"] = "lots" },
			want: []string{"spec.containers[0].resources.limits[cpu]: Invalid value"},
			msgs: []string{`spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`}},
		{name: "negative quantity", mutate: func(p *corev1.Pod) { app(p).Resources.Requests["memory"] = "-1Mi" },
			want: []string{"spec.containers[0].resources.requests[memory]: Invalid value"}},
		{name: "requests above limits", mutate: func(p *corev1.Pod) { app(p).Resources.Requests["cpu"] = "1" },
			want: []string{"spec.containers[0].resources.requests[cpu]: Invalid value"},
			msgs: []string{`spec.containers[0].resources.requests[cpu]: Invalid value: "1": must be less than or equal to cpu limit of 500m`}},
		{name: "equal requests and limits", mutate: func(p *corev1.Pod) { app(p).Resources.Requests["cpu"] = "0.5" }},
		{name: "unknown resource", mutate: func(p *corev1.Pod) { app(p).Resources.Limits["gpu"] = "1" },
			want: []string{"spec.containers[0].resources.limits[gpu]: Invalid value"}},
		{name: "pods is not a container resource", mutate: func(p *corev1.Pod) { app(p).Resources.Requests["pods"] = "1" },
			want: []string{"spec.containers[0].resources.requests[pods]: Invalid value"}},
		{name: "fractional extended resource", mutate: func(p *corev1.Pod) { app(p).Resources.Requests["example.com/gpu"] = "500m" },
			want: []string{"spec.containers[0].resources.requests[example.com/gpu]: Invalid value"}},
		// Volumes and mounts.
		{name: "duplicate volume", mutate: func(p *corev1.Pod) { p.Spec.Volumes[3].Name = "data" }, want: []string{"spec.volumes[3].name: Duplicate value"}},
		{name: "volume name", mutate: func(p *corev1.Pod) { p.Spec.Volumes[3].Name = "Host" }, want: []string{"spec.volumes[3].name: Invalid value"}},
		{name: "no volume source", mutate: func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir = nil },
			want: []string{"spec.volumes[0]: Required value"}, msgs: []string{"spec.volumes[0]: Required value: must specify a volume type"}},
		{name: "two volume sources", mutate: func(p *corev1.Pod) { p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/x"} },
			want: []string{"spec.volumes[0].hostPath: Forbidden"}},
		{name: "hostPath type", mutate: func(p *corev1.Pod) { p.Spec.Volumes[3].HostPath.Type = "Dir" }, want: []string{"spec.volumes[3].hostPath.type: Unsupported value"}},
		{name: "hostPath backsteps", mutate: func(p *corev1.Pod) { p.Spec.Volumes[3].HostPath.Path = "/var/../etc" }, want: []string{"spec.volumes[3].hostPath.path: Invalid value"}},
		{name: "secret name", mutate: func(p *corev1.Pod) { p.Spec.Volumes[2].Secret.SecretName = "" }, want: []string{"spec.volumes[2].secret.secretName: Required value"}},
		{name: "default mode", mutate: func(p *corev1.Pod) { p.Spec.Volumes[2].Secret.DefaultMode = proto.Int32(0o1000) }, want: []string{"spec.volumes[2].secret.defaultMode: Invalid value"}},
		{name: "item path", mutate: func(p *corev1.Pod) { p.Spec.Volumes[1].ConfigMap.Items[0].Path = "/etc/x" }, want: []string{"spec.volumes[1].configMap.items[0].path: Invalid value"}},
		{name: "item reserved path", mutate: func(p *corev1.Pod) { p.Spec.Volumes[1].ConfigMap.Items[0].Path = "..data" }, want: []string{"spec.volumes[1].configMap.items[0].path: Invalid value"}},
		{name: "sizeLimit", mutate: func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.SizeLimit = "-1" }, want: []string{"spec.volumes[0].emptyDir.sizeLimit: Invalid value"}},
		{name: "mount of unknown volume", mutate: func(p *corev1.Pod) { app(p).VolumeMounts[0].Name = "cache" },
			want: []string{"spec.containers[0].volumeMounts[0].name: Not found"}, msgs: []string{`spec.containers[0].volumeMounts[0].name: Not found: "cache"`}},
		{name: "relative mount path", mutate: func(p *corev1.Pod) { app(p).VolumeMounts[0].MountPath = "data" },
			want: []string{"spec.containers[0].volumeMounts[0].mountPath: Invalid value"}},
		{name: "duplicate mount path", mutate: func(p *corev1.Pod) { app(p).VolumeMounts[1].MountPath = "/data/" },
			want: []string{"spec.containers[0].volumeMounts[1].mountPath: Invalid value"}},
		{name: "no mount path", mutate: func(p *corev1.Pod) { app(p).VolumeMounts[1].MountPath = "" },
			want: []string{"spec.containers[0].volumeMounts[1].mountPath: Required value"}},
		{name: "subPath escapes", mutate: func(p *corev1.Pod) { app(p).VolumeMounts[1].SubPath = "../x" },
			want: []string{"spec.containers[0].volumeMounts[1].subPath: Invalid value"}},
		{name: "init mount", mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].VolumeMounts[0].Name = "x" },
			want: []string{"spec.initContainers[0].volumeMounts[0].name: Not found"}},
		// Probes and lifecycle.
		{name: "probe without handler", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.HttpGet = nil },
			want: []string{"spec.containers[0].livenessProbe: Required value"}},
		{name: "probe with two handlers", mutate: func(p *corev1.Pod) { app(p).ReadinessProbe.Exec = &corev1.ExecAction{Command: []string{"true"}} },
			want: []string{"spec.containers[0].readinessProbe.tcpSocket: Forbidden"}},
		{name: "probe port", mutate: func(p *corev1.Pod) { app(p).ReadinessProbe.TcpSocket.Port = intOrStr(0) },
			want: []string{"spec.containers[0].readinessProbe.tcpSocket.port: Invalid value"}},
		{name: "probe port name", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.HttpGet.Port = intOrStr("web--port") },
			want: []string{"spec.containers[0].livenessProbe.httpGet.port: Invalid value"}},
		{name: "probe without port", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.HttpGet.Port = nil },
			want: []string{"spec.containers[0].livenessProbe.httpGet.port: Required value"}},
		{name: "probe scheme", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.HttpGet.Scheme = "FTP" },
			want: []string{"spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value"}},
		{name: "probe header", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.HttpGet.HttpHeaders[0].Name = "X Probe" },
			want: []string{"spec.containers[0].livenessProbe.httpGet.httpHeaders[0].name: Invalid value"}},
		{name: "probe exec", mutate: func(p *corev1.Pod) { app(p).StartupProbe.Exec.Command = nil },
			want: []string{"spec.containers[0].startupProbe.exec.command: Required value"}},
		{name: "probe thresholds", mutate: func(p *corev1.Pod) {
			app(p).LivenessProbe.FailureThreshold, app(p).LivenessProbe.PeriodSeconds, app(p).LivenessProbe.InitialDelaySeconds = 0, -1, -1
		}, want: []string{"spec.containers[0].livenessProbe.failureThreshold: Invalid value", "spec.containers[0].livenessProbe.periodSeconds: Invalid value",
			"spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value"}},
		{name: "liveness success threshold", mutate: func(p *corev1.Pod) { app(p).LivenessProbe.SuccessThreshold = 2 },
			want: []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value"},
			msgs: []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{name: "readiness grace period", mutate: func(p *corev1.Pod) { app(p).ReadinessProbe.TerminationGracePeriodSeconds = proto.Int64(3) },
			want: []string{"spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value"}},
		{name: "probe grace period", mutate: func(p *corev1.Pod) { app(p).StartupProbe.TerminationGracePeriodSeconds = proto.Int64(0) },
			want: []string{"spec.containers[0].startupProbe.terminationGracePeriodSeconds: Invalid value"}},
		{name: "init probe", mutate: func(p *corev1.Pod) { p.Spec.InitContainers[0].ReadinessProbe = app(p).ReadinessProbe },
			want: []string{"spec.initContainers[0].readinessProbe: Forbidden"}},
		{name: "lifecycle handler", mutate: func(p *corev1.Pod) { app(p).Lifecycle.PostStart = &corev1.LifecycleHandler{} },
			want: []string{"spec.containers[0].lifecycle.postStart: Required value"}},
		// Pod-level fields.
		{name: "restart policy", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, want: []string{"spec.restartPolicy: Unsupported value"},
			msgs: []string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{name: "no restart policy", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "" }, want: []string{"spec.restartPolicy: Required value"}},
		{name: "dns policy", mutate: func(p *corev1.Pod) { p.Spec.DnsPolicy = "Google" }, want: []string{"spec.dnsPolicy: Unsupported value"}},
		{name: "dns None without config", mutate: func(p *corev1.Pod) { p.Spec.DnsPolicy, p.Spec.DnsConfig = "None", nil }, want: []string{"spec.dnsConfig: Required value"}},
		{name: "dns nameserver", mutate: func(p *corev1.Pod) { p.Spec.DnsConfig.Nameservers = []string{"dns.google"} }, want: []string{"spec.dnsConfig.nameservers[0]: Invalid value"}},
		{name: "dns nameservers", mutate: func(p *corev1.Pod) {
			p.Spec.DnsConfig.Nameservers = []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"}
		},
			want: []string{"spec.dnsConfig.nameservers: Invalid value"}},
		{name: "dns search", mutate: func(p *corev1.Pod) { p.Spec.DnsConfig.Searches = []string{"a..b"} }, want: []string{"spec.dnsConfig.searches[0]: Invalid value"}},
		{name: "dns option", mutate: func(p *corev1.Pod) { p.Spec.DnsConfig.Options[0].Name = "" }, want: []string{"spec.dnsConfig.options[0]: Required value"}},
		{name: "grace period", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(-1) },
			want: []string{"spec.terminationGracePeriodSeconds: Invalid value"}, msgs: []string{"spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"}},
		{name: "zero grace period", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(0) }},
		{name: "active deadline", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(0) }, want: []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{name: "node selector", mutate: func(p *corev1.Pod) { p.Spec.NodeSelector["bad key"] = "x" }, want: []string{"spec.nodeSelector: Invalid value"}},
		{name: "node selector value", mutate: func(p *corev1.Pod) { p.Spec.NodeSelector["kubernetes.io/os"] = "linux!" }, want: []string{"spec.nodeSelector[kubernetes.io/os]: Invalid value"}},
		{name: "node name", mutate: func(p *corev1.Pod) { p.Spec.NodeName = "Node_1" }, want: []string{"spec.nodeName: Invalid value"}},
		{name: "service account", mutate: func(p *corev1.Pod) { p.Spec.ServiceAccountName = "a b" }, want: []string{"spec.serviceAccountName: Invalid value"}},
		{name: "hostname", mutate: func(p *corev1.Pod) { p.Spec.Hostname = "web.0" }, want: []string{"spec.hostname: Invalid value"}},
		{name: "host alias", mutate: func(p *corev1.Pod) { p.Spec.HostAliases[0].Ip = "x" }, want: []string{"spec.hostAliases[0].ip: Invalid value"}},
		{name: "image pull secret", mutate: func(p *corev1.Pod) { p.Spec.ImagePullSecrets[0].Name = "" }, want: []string{"spec.imagePullSecrets[0].name: Required value"}},
		// Tolerations.
		{name: "toleration Exists with value", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[0].Value = "x" },
			want: []string{"spec.tolerations[0].value: Invalid value"}, msgs: []string{`spec.tolerations[0].value: Invalid value: "x": value must be empty when ` + "`operator` is 'Exists'"}},
		{name: "toleration effect", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].Effect = "NoWay" }, want: []string{"spec.tolerations[1].effect: Unsupported value"}},
		{name: "toleration operator", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].Operator = "In" }, want: []string{"spec.tolerations[1].operator: Unsupported value"}},
		{name: "toleration empty key", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[2].Operator = "Equal" }, want: []string{"spec.tolerations[2].operator: Invalid value"}},
		{name: "toleration seconds", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].TolerationSeconds = proto.Int64(1) }, want: []string{"spec.tolerations[1].effect: Invalid value"}},
		{name: "toleration key", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].Key = "-x" }, want: []string{"spec.tolerations[1].key: Invalid value"}},
		{name: "toleration value", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].Value = "a b" }, want: []string{"spec.tolerations[1].value: Invalid value"}},
		// Affinity.
		{name: "node affinity operator", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Operator = "Near"
		}, want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value"}},
		{name: "node affinity In without values", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values = nil
		}, want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value"}},
		{name: "node affinity Gt", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[1].Values = []string{"two"}
		}, want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values[0]: Invalid value"}},
		{name: "node affinity Exists with values", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Preference.MatchExpressions[0].Values = []string{"a"}
		}, want: []string{"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values: Forbidden"}},
		{name: "node affinity no terms", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = nil
		}, want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value"}},
		{name: "node field selector", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Key = "spec.podCIDR"
		}, want: []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key: Unsupported value"}},
		{name: "weight", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 0
		},
			want: []string{"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value"}},
		{name: "pod affinity topology key", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey = ""
		}, want: []string{"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Required value"}},
		{name: "pod affinity selector", mutate: func(p *corev1.Pod) {
			p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Equals", Values: []string{"x"}}}},
				TopologyKey:   "zone", Namespaces: []string{"Team"}}}}
		}, want: []string{"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: Invalid value",
			"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]: Invalid value"}},
	})
}

func TestPodUpdate(t *testing.T) {
	bound := func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }
	runUpdateCases(t, validPod, ValidateObjectUpdate, []updateCase[*corev1.Pod]{
		{name: "images", mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Image = "nginx:1.26"
			p.Spec.InitContainers[0].Image = "busybox:1.37"
		}},
		{name: "labels and annotations", mutate: func(p *corev1.Pod) {
			p.Metadata.Labels["v"] = "2"
			p.Metadata.Annotations = map[string]string{"a": "b"}
		}},
		{name: "env", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "dev" },
			want: []string{"spec: Forbidden"}, msgs: []string{"spec: Forbidden: " + PodUpdateForbiddenMsg}},
		{name: "container added", mutate: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "x", Image: "x", ImagePullPolicy: "Always"})
		}, want: []string{"spec: Forbidden"}},
		{name: "image cleared", mutate: func(p *corev1.Pod) { p.Spec.Containers[1].Image = "" }, want: []string{"spec.containers[1].image: Required value"}},
		{name: "restart policy", mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "Never" }, want: []string{"spec: Forbidden"}},
		{name: "active deadline lowered", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(60) }},
		{name: "active deadline set", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(60) }},
		{name: "active deadline raised", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(7200) },
			want: []string{"spec.activeDeadlineSeconds: Invalid value"}, msgs: []string{"spec.activeDeadlineSeconds: Invalid value: 7200: must be less than or equal to previous value"}},
		{name: "active deadline removed", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			want: []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{name: "toleration added", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: "gpu", Operator: "Exists", Effect: "NoSchedule"})
		}},
		{name: "tolerationSeconds changed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = proto.Int64(10) }},
		{name: "toleration changed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations[1].Value = "db" },
			want: []string{"spec.tolerations: Forbidden"}, msgs: []string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{name: "toleration removed", mutate: func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[1:] }, want: []string{"spec.tolerations: Forbidden"}},
		{name: "grace period from negative to 1", old: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(-1) },
			mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(1) }},
		{name: "grace period changed", mutate: func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(1) }, want: []string{"spec: Forbidden"}},
		{name: "node name set", mutate: bound},
		{name: "node name changed", old: bound, mutate: func(p *corev1.Pod) { p.Spec.NodeName = "node-2" },
			want: []string{"spec.nodeName: Invalid value"}, msgs: []string{`spec.nodeName: Invalid value: "node-2": field is immutable`}},
		{name: "node name cleared", old: bound, mutate: func(p *corev1.Pod) { p.Spec.NodeName = "" }, want: []string{"spec.nodeName: Invalid value"}},
		{name: "rename", mutate: func(p *corev1.Pod) { p.Metadata.Name = "web2" }, want: []string{"metadata.name: Invalid value"}},
	})
}

func TestPodStatusUpdate(t *testing.T) {
	running := func(p *corev1.Pod) {
		p.Status = &corev1.PodStatus{Phase: "Running", HostIp: "10.0.0.1", PodIp: "10.244.1.5",
			PodIps:     []*corev1.PodIP{{Ip: "10.244.1.5"}, {Ip: "fd00::5"}},
			Conditions: []*metav1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.Now()}},
			ContainerStatuses: []*corev1.ContainerStatus{{Name: "app", RestartCount: 1,
				State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}}}}}
	}
	terminated := func(p *corev1.Pod) {
		running(p)
		p.Spec.RestartPolicy = "Never"
		p.Status.ContainerStatuses[0].State = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	}
	runUpdateCases(t, validPod, ValidateStatusUpdate, []updateCase[*corev1.Pod]{
		{name: "running", mutate: running},
		{name: "phase", mutate: func(p *corev1.Pod) { running(p); p.Status.Phase = "Done" }, want: []string{"status.phase: Unsupported value"}},
		{name: "pod IP", mutate: func(p *corev1.Pod) { running(p); p.Status.PodIp = "10.244.1" },
			want: []string{"status.podIP: Invalid value", "status.podIPs[0].ip: Invalid value"}},
		{name: "pod IPs", mutate: func(p *corev1.Pod) { running(p); p.Status.PodIps[1].Ip = "10.244.1.6" }, want: []string{"status.podIPs: Invalid value"}},
		{name: "duplicate pod IP", mutate: func(p *corev1.Pod) { running(p); p.Status.PodIps[1].Ip = "10.244.1.5" },
			want: []string{"status.podIPs[1].ip: Duplicate value", "status.podIPs: Invalid value"}},
		{name: "host IP", mutate: func(p *corev1.Pod) { running(p); p.Status.HostIp = "node-1" }, want: []string{"status.hostIP: Invalid value"}},
		{name: "condition status", mutate: func(p *corev1.Pod) { running(p); p.Status.Conditions[0].Status = "Yes" }, want: []string{"status.conditions[0].status: Unsupported value"}},
		{name: "condition type", mutate: func(p *corev1.Pod) { running(p); p.Status.Conditions[0].Type = "" }, want: []string{"status.conditions[0].type: Required value"}},
		{name: "restart count", mutate: func(p *corev1.Pod) { running(p); p.Status.ContainerStatuses[0].RestartCount = -1 },
			want: []string{"status.containerStatuses[0].restartCount: Invalid value"}},
		{name: "terminated stays terminated", old: terminated, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}, want: []string{"status.containerStatuses[0].state: Forbidden"}},
		{name: "restarted with Always", old: func(p *corev1.Pod) { terminated(p); p.Spec.RestartPolicy = "Always" }, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}},
		{name: "failed restarted with OnFailure", old: func(p *corev1.Pod) {
			terminated(p)
			p.Spec.RestartPolicy = "OnFailure"
			p.Status.ContainerStatuses[0].State.Terminated.ExitCode = 1
		}, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}},
	})
}

func TestPodTemplateSpec(t *testing.T) {
	if errs := ValidatePodTemplateSpec(nil, nil); len(errs) != 1 || errs[0].Type != "FieldValueRequired" {
		t.Errorf("nil template: %v", errs)
	}
	tpl := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "-"}}, Spec: validPodSpec()}
	errs := ValidatePodTemplateSpec(tpl, nil)
	if got := strings.Join(summary(errs), ","); got != "metadata.labels[app]: Invalid value" {
		t.Errorf("template: %v", errs)
	}
}

// BenchmarkValidatePod measures the validation every pod write pays in admission (a pod using most
// features; create and no-op update).
func BenchmarkValidatePod(b *testing.B) {
	pod := validPod()
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if errs := ValidateObject(pod); len(errs) != 0 {
				b.Fatal(errs)
			}
		}
	})
	old := validPod()
	b.Run("update", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if errs := ValidateObjectUpdate(pod, old); len(errs) != 0 {
				b.Fatal(errs)
			}
		}
	})
}
