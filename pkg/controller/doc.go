// Package controller is the reconcile loop every coxswain controller (and the scheduler's and kubelet's
// per-object workers) is built on, after client-go's sample-controller: informer handlers only enqueue
// keys; Workers goroutines take one key at a time, call Sync with it, and requeue it with per-key
// exponential backoff when Sync fails. Sync reads the current state from informer caches (level-
// triggered), never mutates cached objects, and may ask to be called again later with RequeueAfter.
package controller
