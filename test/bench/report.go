package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Verdicts of a figure that has a target.
const (
	verdictMet    = "met"
	verdictMissed = "missed"
)

// row is one figure of the summary table.
type row struct {
	scenario string
	figure   string
	value    float64
	// format prints value, such as "%.1f/s".
	format string
	// target is the target in words, empty for a figure without one.
	target  string
	verdict string
}

// requestWindow is one column of the tables of requests by resource.
type requestWindow struct {
	title    string
	requests apiServerRequests
	// divisor divides every count, such as by the number of issuances. 1 prints plain counts.
	divisor float64
}

// report collects the figures of a run.
type report struct {
	// header lines describe the command, the machine and the manager.
	header  []string
	rows    []row
	windows []requestWindow
	// burstCPU is the CPU time each process used during the burst, which lasted burstWall.
	burstCPU  []cpuUse
	burstWall time.Duration
	notes     []string
	// completed lists the scenarios that finished, in order.
	completed []string
	// failed describes the scenario that failed, empty when none did.
	failed string
	out    string
}

// newReport describes the command and the machine.
func newReport(cfg config) (*report, error) {
	memory, err := memoryTotal()
	if err != nil {
		return nil, err
	}
	machine := fmt.Sprintf("%d CPUs (runtime.NumCPU), %.1f GiB memory (MemTotal of /proc/meminfo)", runtime.NumCPU(), float64(memory)/(1<<30))
	if model := cpuModel(); model != "" {
		machine += ", " + model
	}
	r := &report{out: cfg.out}
	r.header = append(r.header,
		"command: `"+cfg.command+"`",
		"machine: "+machine+"; load average at start "+loadAverage()+" (1, 5, 15 minutes)",
		"control plane: etcd, kube-apiserver and kube-controller-manager from "+cfg.binaryDir+", on the same machine",
		"manager: "+cfg.managerPath+commitDescription(cfg.repoRoot)+", run as "+operatorUser+" with the RBAC of config/rbac",
		"manager flags: "+managerFlagsDescription(cfg),
		"started: "+time.Now().UTC().Format(time.RFC3339),
	)
	return r, nil
}

// managerFlagsDescription lists the flags that shape the manager's performance.
func managerFlagsDescription(cfg config) string {
	flags := []string{"--leader-elect"}
	if cfg.managerQPS > 0 {
		flags = append(flags, fmt.Sprintf("--kube-api-qps=%g", cfg.managerQPS))
	}
	if cfg.managerBurst > 0 {
		flags = append(flags, fmt.Sprintf("--kube-api-burst=%d", cfg.managerBurst))
	}
	if cfg.managerConcurrency > 0 {
		flags = append(flags, fmt.Sprintf("--max-concurrent-reconciles=%d", cfg.managerConcurrency))
	}
	return "`" + strings.Join(flags, " ") + "`, the manager's defaults for the rest; the idle window adds `--sync-period=" +
		cfg.idleSyncPeriod.String() + "`"
}

// commitDescription returns " at commit X" for the checkout, with "-dirty" for local changes, or
// "" when git cannot tell.
func commitDescription(repoRoot string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repoRoot
	output, err := cmd.Output()
	if err != nil {
		return ""
	}
	return " at commit " + strings.TrimSpace(string(output))
}

// add appends a figure.
func (r *report) add(scenario, figure string, value float64, format string) {
	r.rows = append(r.rows, row{scenario: scenario, figure: figure, value: value, format: format})
}

// addTarget appends a figure with its target; met is true when the figure meets the target.
func (r *report) addTarget(scenario, figure string, value float64, format, target string, met bool) {
	verdict := verdictMissed
	if met {
		verdict = verdictMet
	}
	r.rows = append(r.rows, row{scenario: scenario, figure: figure, value: value, format: format, target: target, verdict: verdict})
}

// note adds a sentence printed below the tables.
func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// writeReport writes the report as Markdown to w and, when -out is set, to that file.
func (b *bench) writeReport(w io.Writer) error {
	text := b.report.markdown()
	if _, err := io.WriteString(w, text); err != nil {
		return err
	}
	if b.report.out == "" {
		return nil
	}
	if err := os.WriteFile(b.report.out, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing the report to %s: %w", b.report.out, err)
	}
	return nil
}

// markdown renders the header, the tables and the notes.
func (r *report) markdown() string {
	var s strings.Builder
	for _, line := range r.header {
		fmt.Fprintf(&s, "- %s\n", line)
	}
	s.WriteString("\n")

	summary := [][]string{{"scenario", "figure", "value", "target", "verdict"}}
	for _, row := range r.rows {
		summary = append(summary, []string{row.scenario, row.figure, fmt.Sprintf(row.format, row.value), row.target, row.verdict})
	}
	writeTable(&s, summary)

	if len(r.windows) > 0 {
		s.WriteString("\nWrite requests by resource (kube-apiserver's apiserver_request_total; the bench's own writes subtracted):\n\n")
		writeTable(&s, r.requestsTable(func(window requestWindow) requestCounts { return window.requests.writes }, true))
		s.WriteString("\nRead requests (GET, LIST) by resource, from every client:\n\n")
		writeTable(&s, r.requestsTable(func(window requestWindow) requestCounts { return window.requests.reads }, false))
	}
	if len(r.burstCPU) > 0 {
		fmt.Fprintf(&s, "\nCPU time used during the burst (%.1f s of wall time, %d CPUs):\n\n", r.burstWall.Seconds(), runtime.NumCPU())
		cpu := [][]string{{"process", "CPU seconds", "share of one CPU"}}
		for _, use := range r.burstCPU {
			cpu = append(cpu, []string{use.process, fmt.Sprintf("%.1f", use.seconds), fmt.Sprintf("%.0f%%", 100*use.seconds/r.burstWall.Seconds())})
		}
		writeTable(&s, cpu)
	}
	if len(r.notes) > 0 {
		s.WriteString("\n")
		for _, note := range r.notes {
			fmt.Fprintf(&s, "- %s\n", note)
		}
	}
	if r.failed != "" {
		fmt.Fprintf(&s, "\n**Incomplete run:** %s\n", r.failed)
	}
	return s.String()
}

// requestsTable returns the rows of a table of requests by resource, the counts of each window
// taken by counts. With leaderElectionTotals it ends with the totals without and of leader election,
// else with the plain total.
func (r *report) requestsTable(counts func(requestWindow) requestCounts, leaderElectionTotals bool) [][]string {
	var resources []string
	for _, window := range r.windows {
		for _, key := range counts(window).keys() {
			if !slices.Contains(resources, key) {
				resources = append(resources, key)
			}
		}
	}
	slices.Sort(resources)

	table := [][]string{{"resource"}}
	for _, window := range r.windows {
		table[0] = append(table[0], window.title)
	}
	for _, resource := range resources {
		line := []string{resource}
		for _, window := range r.windows {
			line = append(line, formatCount(counts(window)[resource]/window.divisor))
		}
		table = append(table, line)
	}
	if !leaderElectionTotals {
		totals := []string{"**all**"}
		for _, window := range r.windows {
			totals = append(totals, "**"+formatCount(counts(window).total()/window.divisor)+"**")
		}
		return append(table, totals)
	}
	totals := []string{"**all but leader election**"}
	leaderElection := []string{"leader election: " + strings.Join(leaderElectionResources, ", ")}
	for _, window := range r.windows {
		totals = append(totals, "**"+formatCount(counts(window).withoutLeaderElection()/window.divisor)+"**")
		leaderElection = append(leaderElection, formatCount(counts(window).leaderElection()/window.divisor))
	}
	return append(table, totals, leaderElection)
}

// formatCount prints whole numbers without decimals and fractions with two.
func formatCount(value float64) string {
	if value == math.Trunc(value) {
		return fmt.Sprintf("%.0f", value)
	}
	return fmt.Sprintf("%.2f", value)
}

// writeTable writes a Markdown table whose first row is the header, padding the columns.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	line := func(cells []string) {
		fmt.Fprint(w, "|")
		for i, cell := range cells {
			fmt.Fprintf(w, " %-*s |", widths[i], cell)
		}
		fmt.Fprintln(w)
	}
	line(rows[0])
	separators := make([]string, len(widths))
	for i, width := range widths {
		separators[i] = strings.Repeat("-", width)
	}
	line(separators)
	for _, row := range rows[1:] {
		line(row)
	}
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of durations.
func percentile(durations []time.Duration, p float64) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	sorted := slices.Clone(durations)
	slices.Sort(sorted)
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// mebibytes converts bytes to MiB.
func mebibytes(bytes int64) float64 {
	return float64(bytes) / (1 << 20)
}
