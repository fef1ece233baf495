//go:build !linux

package controlplane

import (
	"errors"
	"fmt"
	"runtime"
)

// PIDs returns the process ids of the running components. It reads /proc,
// so it is available on Linux only.
func (c *ControlPlane) PIDs() ([]int, error) {
	return nil, fmt.Errorf("listing control plane processes on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
