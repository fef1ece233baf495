package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

// TestBenchSmoke runs every scenario at a small scale. It checks that each scenario completes
// and reports numbers, never what the numbers are, because the machine may be busy.
func TestBenchSmoke(t *testing.T) {
	controlplane.SkipWithoutBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// A private copy of the manager, because other test packages may rebuild bin/manager
	// while this test runs it.
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manager := filepath.Join(dir, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", manager, ".")
	build.Dir = root
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, output)
	}

	out := filepath.Join(dir, "report.md")
	cfg, err := parseFlags([]string{
		"-n", "20",
		"-regenerations", "5",
		"-unrelated-secrets", "200",
		"-idle-window", "5s",
		"-timeout", "2m",
		"-manager", manager,
		"-cpuprofile", filepath.Join(dir, "cpu.pprof"),
		"-cpuprofile-duration", "1s",
		"-out", out,
	})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	cfg.progress = t.Output()

	var stdout bytes.Buffer
	result, err := run(ctx, cfg, &stdout)
	if err != nil {
		t.Fatalf("run: %v\nreport so far:\n%s", err, stdout.String())
	}
	t.Logf("report:\n%s", stdout.String())

	if !slices.Equal(result.completed, scenarioOrder) {
		t.Errorf("completed scenarios = %v, want %v", result.completed, scenarioOrder)
	}
	for _, scenario := range scenarioOrder {
		rows := 0
		for _, row := range result.rows {
			if row.scenario == scenario {
				rows++
			}
		}
		if rows == 0 {
			t.Errorf("scenario %s reported no figures", scenario)
		}
	}
	for _, row := range result.rows {
		if math.IsNaN(row.value) || math.IsInf(row.value, 0) || row.value < 0 {
			t.Errorf("%s: %q = %v, want a finite number of at least 0", row.scenario, row.figure, row.value)
		}
		if row.target != "" && row.verdict != verdictMet && row.verdict != verdictMissed {
			t.Errorf("%s: %q has target %q but verdict %q", row.scenario, row.figure, row.target, row.verdict)
		}
	}
	if len(result.windows) == 0 {
		t.Error("the report has no table of write requests by resource")
	}
	if len(result.burstCPU) == 0 {
		t.Error("the report has no CPU time of the burst")
	}

	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("reading the -out file: %v", err)
	}
	if string(written) != stdout.String() {
		t.Error("the -out file differs from the report on standard output")
	}
	if !strings.Contains(stdout.String(), "| scenario") {
		t.Error("the report has no summary table")
	}
}

func TestParseScenariosAddsBurst(t *testing.T) {
	got, err := parseScenarios("memory, limit")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{scenarioLimit, scenarioBurst, scenarioMemory}; !slices.Equal(got, want) {
		t.Errorf("parseScenarios = %v, want %v", got, want)
	}
	if _, err := parseScenarios("limit,unknown"); err == nil {
		t.Error("parseScenarios accepted an unknown scenario")
	}
}

func TestParseSamples(t *testing.T) {
	exposition := `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",group="",resource="secrets",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="409",group="certificates.k8s.io",resource="certificatesigningrequests",subresource="approval",verb="PUT",version="v1"} 3
apiserver_request_total{code="200",group="",resource="secrets",subresource="",verb="GET",version="v1"} 40
other_metric{label="a \"quoted\" value"} 1
controller_runtime_reconcile_total{controller="dnscertificate",result="success"} 7.5e+00
`
	samples, err := parseSamples([]byte(exposition), "apiserver_request_total", "controller_runtime_reconcile_total")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 4 {
		t.Fatalf("got %d samples, want 4", len(samples))
	}
	if got := samples[1].labels["subresource"]; got != "approval" {
		t.Errorf("subresource label = %q, want approval", got)
	}
	if got := samples[3].value; got != 7.5 {
		t.Errorf("reconcile total = %v, want 7.5", got)
	}

	quoted, err := parseSamples([]byte(exposition), "other_metric")
	if err != nil {
		t.Fatal(err)
	}
	if got := quoted[0].labels["label"]; got != `a "quoted" value` {
		t.Errorf("escaped label value = %q", got)
	}
}

func TestPercentile(t *testing.T) {
	var durations []time.Duration
	for i := 100; i >= 1; i-- {
		durations = append(durations, time.Duration(i)*time.Millisecond)
	}
	if got := percentile(durations, 0.50); got != 50*time.Millisecond {
		t.Errorf("p50 = %s, want 50ms", got)
	}
	if got := percentile(durations, 0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %s, want 99ms", got)
	}
	if got := percentile(durations, 1); got != 100*time.Millisecond {
		t.Errorf("p100 = %s, want 100ms", got)
	}
}
