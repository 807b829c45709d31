// Package config reads and writes coxctl's configuration file, ~/.coxswain/config (or the file named by
// --config or $COXSWAIN_CONFIG), the small cousin of a kubeconfig:
//
//	current-context: local
//	contexts:
//	- name: local
//	  server: 127.0.0.1:6443
//	  namespace: default
//
// and resolves the server and namespace to use from it and the command-line overrides.
package config
