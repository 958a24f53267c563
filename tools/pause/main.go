// Command pause is the sandbox process of a pod on the local real node: it holds the pod's namespaces, reaps the
// zombies handed to it as PID 1, and exits on SIGINT or SIGTERM, as the Kubernetes pause container does. Built here
// (a static program, no registry) and packed as the image the node's containerd names its sandbox image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			// Reap every child that has ended; stop at the first that has not (or when there is none).
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
