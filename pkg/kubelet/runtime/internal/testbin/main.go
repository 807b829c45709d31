package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		end := len(args)
		for i, a := range args {
			if a == "--" {
				end = i
				break
			}
		}
		run(args[:end])
		if end == len(args) {
			break
		}
		args = args[end+1:]
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "testbin: "+format+"\n", a...)
	os.Exit(2)
}

func arg(cmd []string, i int) string {
	if len(cmd) <= i {
		fail("%s: missing argument %d", cmd[0], i)
	}
	return cmd[i]
}

func run(cmd []string) {
	if len(cmd) == 0 {
		return
	}
	switch cmd[0] {
	case "echo":
		fmt.Println(strings.Join(cmd[1:], " "))
	case "echoerr":
		fmt.Fprintln(os.Stderr, strings.Join(cmd[1:], " "))
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "pwd":
		wd, err := os.Getwd()
		if err != nil {
			fail("pwd: %v", err)
		}
		fmt.Println(wd)
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			fail("hostname: %v", err)
		}
		fmt.Println(h)
	case "pid":
		fmt.Println(os.Getpid())
	case "cat":
		b, err := os.ReadFile(arg(cmd, 1))
		if err != nil {
			fail("cat: %v", err)
		}
		os.Stdout.Write(b)
	case "write":
		if err := os.WriteFile(arg(cmd, 1), []byte(arg(cmd, 2)), 0o644); err != nil {
			fail("write: %v", err)
		}
	case "exit":
		n, err := strconv.Atoi(arg(cmd, 1))
		if err != nil {
			fail("exit: %v", err)
		}
		os.Exit(n)
	case "sleep":
		d, err := time.ParseDuration(arg(cmd, 1))
		if err != nil {
			fail("sleep: %v", err)
		}
		time.Sleep(d)
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM)
	case "trapterm":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		go func() {
			<-c
			fmt.Println("got SIGTERM")
			os.Exit(0)
		}()
	case "spawn":
		self, err := os.Executable()
		if err != nil {
			self = os.Args[0]
		}
		c := exec.Command(self, "sleep", arg(cmd, 1))
		if err := c.Start(); err != nil {
			fail("spawn: %v", err)
		}
		fmt.Println(c.Process.Pid)
	case "serve":
		h, _ := os.Hostname()
		err := http.ListenAndServe(arg(cmd, 1), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s", h)
		}))
		fail("serve: %v", err)
	case "fetch":
		d, err := time.ParseDuration(arg(cmd, 2))
		if err != nil {
			fail("fetch: %v", err)
		}
		deadline := time.Now().Add(d)
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			resp, err := client.Get(arg(cmd, 1))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					fmt.Println(string(body))
					return
				}
				err = fmt.Errorf("status %s", resp.Status)
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "fetch: %v\n", err)
				os.Exit(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	case "alloc":
		mb, err := strconv.Atoi(arg(cmd, 1))
		if err != nil {
			fail("alloc: %v", err)
		}
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep), "MiB")
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail("stdin: %v", err)
		}
	case "tty":
		ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
		if err != nil {
			fmt.Println("notty")
			return
		}
		fmt.Printf("tty %dx%d\n", ws.Col, ws.Row)
	default:
		fail("unknown command %q", cmd[0])
	}
}
