// Command testbin is a static helper run as a container command by the
// runtime tests. Its arguments are one or more commands separated by "--":
//
//	echo ARGS...      print ARGS to stdout
//	echoerr ARGS...   print ARGS to stderr
//	env               print the environment, one KEY=value a line
//	pwd | hostname | pid   print the working dir / hostname / own PID
//	cat FILE          print FILE
//	write FILE TEXT   write TEXT to FILE (exit 2 on failure)
//	exit N            exit with code N
//	sleep DUR         sleep (Go duration)
//	ignoreterm        ignore SIGTERM from now on
//	trapterm          exit 0 on SIGTERM from now on
//	spawn DUR         start "testbin sleep DUR" as a child and print its PID
//	serve ADDR        serve HTTP on ADDR ("hello from HOSTNAME") forever
//	fetch URL DUR     GET URL, retrying for up to DUR; print body; exit 1 on failure
//	alloc MB          allocate and touch MB MiB of memory, then continue
//	stdin             copy stdin to stdout until EOF
//	tty               print "tty WxH" if stdin is a terminal, else "notty"
package main
