// Package procutil holds the process helpers shared by the process and native
// runtimes: turning wait statuses into exit codes and reasons, and opening
// container log files.
package procutil
