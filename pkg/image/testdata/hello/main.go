// Command hello is a tiny program packed into test images: it prints its
// arguments and the GREETING variable so a test can tell it ran from an
// unpacked root filesystem with the image's environment.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Printf("hello %s greeting=%s\n", strings.Join(os.Args[1:], ","), os.Getenv("GREETING"))
}
