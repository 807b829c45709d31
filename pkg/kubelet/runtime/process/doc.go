// Package process is a runtime.Runtime whose containers are plain host
// processes, for laptops: it needs no privileges and runs on any Unix.
//
// There is no isolation. Each sandbox gets a unique loopback address from
// Config.IPRange (default 127.100.0.0/16; network and broadcast addresses are
// skipped, released addresses are reused last) which is reported as the
// sandbox IP; containers are expected to bind to it (Linux routes all of
// 127.0.0.0/8 to lo; other systems may need an alias per address). Hostname,
// DNS, Mounts and resource limits are not applied.
//
// # Processes
//
// Each container runs in its own process group (its own session when TTY is
// set), so SIGTERM and SIGKILL from StopContainer reach its children; when the
// main process exits, the rest of its group is SIGKILLed, as a PID namespace
// would. stdout and stderr are appended to LogPath (through a pseudo-terminal
// when TTY is set). Env is the complete environment (nothing is inherited
// from the kubelet). Exec runs the command as another host process with the
// container's Env and working directory, resolved the same way.
//
// # Command resolution
//
// With RootFS == "" (host filesystem):
//   - the working directory is WorkingDir, or the kubelet's own when empty;
//   - an argv[0] containing "/" is used as is (relative to the working
//     directory); otherwise it is searched in the PATH from Env, or the
//     kubelet's PATH if Env has none, like a shell would.
//
// With RootFS set (an unpacked image), paths are interpreted inside RootFS,
// as after chroot(2):
//   - the working directory is RootFS joined with WorkingDir (default "/");
//   - an argv[0] containing "/" names a file inside RootFS (relative ones are
//     relative to WorkingDir); otherwise each directory of the PATH from Env
//     (default /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
//     is searched inside RootFS in order;
//   - symbolic links are followed inside RootFS (an absolute target is
//     relative to RootFS, ".." stops at RootFS);
//   - the first regular file with an execute bit wins, and is executed by its
//     host path with the original argv.
//
// The program itself still sees the host filesystem: a "#!" interpreter, the
// dynamic loader and any absolute path it opens are the host's. Statically
// linked programs that use relative paths work best.
//
// State is kept in memory only: Run's end (or Shutdown) kills every container.
package process
