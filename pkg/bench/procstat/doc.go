// Package procstat samples the resident memory (VmRSS of /proc/<pid>/status) and the CPU time
// (utime+stime of /proc/<pid>/stat) of a set of processes at a fixed interval, keeping the peak RSS of
// each process and of groups of processes (the peak of their sum, sampled at the same instant) and the
// CPU seconds spent since the window started.
package procstat
