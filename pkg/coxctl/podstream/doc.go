// Package podstream is the client side of the pod streams coxctl uses through the apiserver (which proxies
// them to the node's kubelet): container logs, exec (stdin, stdout, stderr, terminal resizes and the
// remote exit code) and port forwarding (one PortForward stream per accepted local TCP connection).
package podstream
