// Package kubelet is coxswain's node agent.
//
// A Kubelet registers its Node, renews its Lease in kube-node-lease, keeps
// the Node's status (capacity, addresses, node info, the Ready,
// MemoryPressure, DiskPressure and PIDPressure conditions), and drives the
// pods bound to its node to their spec through a runtime.Runtime (native,
// process or fake): one sandbox per pod, init containers in order, then the
// containers, restarted by the pod's restartPolicy with the crash-loop
// back-off; volumes (emptyDir, hostPath, configMap, secret), environment
// (values, ConfigMap and Secret keys, the downward API), probes (exec,
// httpGet, tcpSocket) and lifecycle hooks; graceful termination before the
// Pod object is deleted. A status manager writes each pod's status once per
// change. The KubeletService (logs, exec, port-forward) serves the
// apiserver, which proxies coxctl's requests to it.
//
// With Config.HollowNodes, one Kubelet runs many hollow nodes on the fake
// runtime, sharing one apiserver connection, one pod informer (indexed by
// node), one work queue and one heartbeat loop, so each costs little
// memory.
//
// See docs/kubelet.md for the full behaviour.
package kubelet
