// Package internal holds what the workload controllers share, ported from Kubernetes' pkg/controller:
// pod readiness and availability (IsPodReady, IsPodAvailable), the scale-down order of pods
// (ActivePodsWithRanks), owner references and the claiming of objects by a controller (RefManager: adopt
// orphans that match the selector, release owned objects that stopped matching), and the creation/deletion
// expectations that keep a controller from acting twice on a lagging informer cache (Expectations).
package internal
