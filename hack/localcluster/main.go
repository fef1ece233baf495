// Command localcluster runs a local control plane (etcd, kube-apiserver and
// kube-controller-manager) for the demo and for manual testing, until it
// receives SIGINT or SIGTERM.
//
//	KUBEBUILDER_ASSETS="$(hack/install-control-plane.sh)" go run ./hack/localcluster -dir /tmp/cluster
//
// It installs the CRDs, writes DIR/kubeconfig (an admin kubeconfig), prints
// KUBECONFIG=DIR/kubeconfig, writes the component process ids to
// DIR/component-pids and creates DIR/ready once everything is ready. On
// SIGINT or SIGTERM it removes DIR/ready and stops every component. Build it
// and run the binary, rather than go run, when a script has to signal it:
// go run does not pass signals on to the program it runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

func main() {
	dir := flag.String("dir", "", "directory for the kubeconfig, the ready marker, component data and logs (required)")
	crdDir := flag.String("crd-dir", "config/crd/bases", "directory of CRD manifests to install; empty installs none")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("localcluster: ")

	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: localcluster -dir DIR [-crd-dir DIR]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if err := run(*dir, *crdDir); err != nil {
		log.Printf("Error: %v", err)
		os.Exit(1)
	}
}

func run(dir, crdDir string) error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: set it to the directory that hack/install-control-plane.sh prints")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving -dir: %w", err)
	}
	readyPath := filepath.Join(dir, "ready")
	pidsPath := filepath.Join(dir, "component-pids")
	// Markers of an earlier run must not announce this one too early.
	for _, path := range []string{readyPath, pidsPath} {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing a stale marker: %w", err)
		}
	}

	var crdPaths []string
	if crdDir != "" {
		crdPaths = []string{crdDir}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Printf("Starting etcd, kube-apiserver and kube-controller-manager in %s", dir)
	cp, err := controlplane.Start(ctx, controlplane.Options{
		CRDDirectoryPaths: crdPaths,
		WorkDir:           dir,
		ControllerManager: true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted by a signal while starting the control plane: %w", err)
		}
		return err
	}
	runErr := serve(ctx, cp, readyPath, pidsPath)

	log.Printf("Stopping the control plane")
	if err := os.Remove(readyPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		runErr = errors.Join(runErr, err)
	}
	if err := cp.Stop(); err != nil {
		return errors.Join(runErr, fmt.Errorf("stopping the control plane: %w", err))
	}
	if runErr == nil {
		log.Printf("Stopped the control plane")
	}
	return runErr
}

// serve announces the running control plane and waits for a signal or for
// kube-controller-manager to exit.
func serve(ctx context.Context, cp *controlplane.ControlPlane, readyPath, pidsPath string) error {
	pids, err := cp.PIDs()
	if err != nil {
		return err
	}
	lines := make([]string, 0, len(pids))
	for _, pid := range pids {
		lines = append(lines, strconv.Itoa(pid))
	}
	if err := os.WriteFile(pidsPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing component process ids: %w", err)
	}

	fmt.Printf("KUBECONFIG=%s\n", cp.KubeconfigPath)
	if err := os.WriteFile(readyPath, nil, 0o644); err != nil {
		return fmt.Errorf("writing the ready marker: %w", err)
	}
	log.Printf("Ready. Send SIGINT or SIGTERM to stop (component process ids: %s)", strings.Join(lines, " "))

	select {
	case <-ctx.Done():
		log.Printf("Received a stop signal")
		return nil
	case <-cp.ControllerManagerDone():
		return fmt.Errorf("kube-controller-manager exited unexpectedly (log in %s)",
			filepath.Join(cp.WorkDir, "kube-controller-manager.log"))
	}
}
