// Package defaults fills in the fields a user may leave out, with Kubernetes' default values, for the kinds
// coxswain serves: the apiserver applies it to every object it is asked to create or update, before
// validation, so that controllers, the scheduler and the kubelet never see an unset restartPolicy, protocol
// or probe period. Apply is idempotent: applying it to its own output changes nothing.
package defaults
