package main

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux fixes it at 100 per second for
// user space on every architecture Kubernetes supports, whatever the kernel's own tick rate.
const userHZ = 100

// statusKilobytes reads a field in kB, such as VmHWM (peak resident set size), from
// /proc/PID/status and returns it in bytes.
func statusKilobytes(pid int, field string) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		value, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line in %s: %q", field, path, line)
		}
		kilobytes, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s in %s: %w", field, path, err)
		}
		return kilobytes * 1024, nil
	}
	return 0, fmt.Errorf("%s has no %s line", path, field)
}

// cpuSeconds returns the user and system CPU time a process has used so far, from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	// The command name is in parentheses and may contain spaces, so fields are counted from the
	// last ')': state is field 3 of the line, utime field 14 and stime field 15.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected content of %s", path)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected content of %s", path)
	}
	var ticks int64
	for _, field := range fields[11:13] {
		value, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing CPU time in %s: %w", path, err)
		}
		ticks += value
	}
	return float64(ticks) / userHZ, nil
}

// processName returns the base name of a process's executable.
func processName(pid int) string {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return strconv.Itoa(pid)
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
}

// memoryTotal returns MemTotal from /proc/meminfo in bytes.
func memoryTotal() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/meminfo: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		value, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 {
			break
		}
		kilobytes, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing MemTotal in /proc/meminfo: %w", err)
		}
		return kilobytes * 1024, nil
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemTotal line")
}

// loadAverage returns the first three fields of /proc/loadavg: the 1, 5 and 15 minute averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "" when there is none.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// processCPU samples the CPU time of a set of processes, to tell which one a step kept busy.
type processCPU struct {
	names   map[int]string
	seconds map[int]float64
}

// sampleCPU reads the CPU time of each pid, leaving out a process that has exited.
func sampleCPU(pids []int) processCPU {
	sample := processCPU{names: map[int]string{}, seconds: map[int]float64{}}
	for _, pid := range pids {
		seconds, err := cpuSeconds(pid)
		if err != nil {
			continue
		}
		sample.names[pid] = processName(pid)
		sample.seconds[pid] = seconds
	}
	return sample
}

// cpuUse is the CPU time one process used during a step.
type cpuUse struct {
	process string
	seconds float64
}

// since returns the CPU time each process used between before and s, largest first.
func (s processCPU) since(before processCPU) []cpuUse {
	var uses []cpuUse
	for pid, seconds := range s.seconds {
		start, ok := before.seconds[pid]
		if !ok {
			continue
		}
		uses = append(uses, cpuUse{process: s.names[pid], seconds: seconds - start})
	}
	slices.SortFunc(uses, func(a, b cpuUse) int { return cmp.Compare(b.seconds, a.seconds) })
	return uses
}
