package controlplane

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PIDs returns the process ids of the running components: etcd,
// kube-apiserver and, when started, kube-controller-manager. They are the
// children of this process that run a binary from BinaryDir.
func (c *ControlPlane) PIDs() ([]int, error) {
	children, err := childProcesses(os.Getpid())
	if err != nil {
		return nil, err
	}
	// /proc/PID/exe holds the path with symbolic links resolved.
	binaryDir, err := filepath.EvalSymlinks(c.BinaryDir)
	if err != nil {
		return nil, fmt.Errorf("resolving binary directory %s: %w", c.BinaryDir, err)
	}
	var pids []int
	for _, child := range children {
		// The kernel appends " (deleted)" when the binary was replaced on disk.
		exe := strings.TrimSuffix(child.exe, " (deleted)")
		if filepath.Dir(exe) == binaryDir {
			pids = append(pids, child.pid)
		}
	}
	return pids, nil
}

// childProcess is a process found in /proc.
type childProcess struct {
	pid int
	// exe is the path of the running binary, or empty when it cannot be
	// read (a zombie, or a process of another user).
	exe string
}

// childProcesses lists the processes whose parent is ppid, by reading
// /proc/PID/stat of every process.
func childProcesses(ppid int) ([]childProcess, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var children []childProcess
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "stat"))
		if err != nil {
			// The process exited while we listed.
			continue
		}
		parent, ok := parentPID(stat)
		if !ok || parent != ppid {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", entry.Name(), "exe"))
		children = append(children, childProcess{pid: pid, exe: exe})
	}
	return children, nil
}

// parentPID reads the PPID field of a /proc/PID/stat line. The command name
// before it is in parentheses and may itself contain spaces and ')', so the
// fields are counted from the last ')'. The line reads
// "PID (COMM) STATE PPID ...".
func parentPID(stat []byte) (int, bool) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, false
	}
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return 0, false
	}
	return ppid, true
}
