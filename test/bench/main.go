// Command bench measures dnscert-operator against a local control plane. It measures the rate of
// a plain client as a ceiling, a burst of issuances and the regeneration of a deleted Secret. It
// also counts the API writes per issuance and while idle, and measures the manager's peak memory
// and its re-verification after a restart.
// It starts its own control plane (etcd, kube-apiserver and kube-controller-manager from
// $KUBEBUILDER_ASSETS) and the real bin/manager, prints Markdown tables and stops every process it
// started before it exits.
//
//	go run ./test/bench [flags]
//
// `make bench` builds bin/manager and runs it with the defaults. docs/benchmarks.md records a run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Scenario names, in the order they run. A scenario that needs Ready DNSCertificates runs after
// burst, which creates them.
const (
	scenarioLimit        = "limit"
	scenarioBurst        = "burst"
	scenarioRegeneration = "regeneration"
	scenarioAPICost      = "apicost"
	scenarioRestart      = "restart"
	scenarioMemory       = "memory"
)

var scenarioOrder = []string{scenarioLimit, scenarioBurst, scenarioRegeneration, scenarioAPICost, scenarioRestart, scenarioMemory}

// config holds the command-line flags.
type config struct {
	// n is the number of DNSCertificates in the burst and of Secrets in the limit scenario.
	n             int
	regenerations int
	scenarios     []string
	out           string

	// managerQPS, managerBurst and managerConcurrency are passed to the manager when above zero.
	managerQPS         float64
	managerBurst       int
	managerConcurrency int

	// workers is the number of parallel requests of the bench's own client.
	workers              int
	idleWindow           time.Duration
	idleSyncPeriod       time.Duration
	unrelatedSecrets     int
	unrelatedSecretBytes int
	unrelatedNamespaces  int
	cpuProfile           string
	heapProfile          string
	cpuProfileDuration   time.Duration
	timeout              time.Duration
	managerPath          string
	workDir              string
	binaryDir            string
	repoRoot             string
	// command is the command line printed above the report.
	command string
	// progress receives one line per step while the bench runs.
	progress io.Writer
}

func main() {
	// controller-runtime's client and envtest log through this logger. The bench reports
	// through returned errors instead.
	logf.SetLogger(logr.Discard())

	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the flags into a config and checks them.
func parseFlags(args []string) (config, error) {
	cfg := config{progress: os.Stderr}
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	flags.IntVar(&cfg.n, "n", 1000, "Number of DNSCertificates created at once in the burst, and of Secrets in the limit scenario.")
	flags.IntVar(&cfg.regenerations, "regenerations", 100, "Number of times the regeneration scenario deletes a Secret.")
	scenarios := flags.String("scenarios", strings.Join(scenarioOrder, ","), "Comma-separated scenarios to run: "+strings.Join(scenarioOrder, ", ")+". apicost, restart and memory also run burst.")
	flags.StringVar(&cfg.out, "out", "", "File that also receives the Markdown report; empty writes only to standard output.")
	flags.Float64Var(&cfg.managerQPS, "qps", 0, "--kube-api-qps of the manager; 0 keeps the manager's default.")
	flags.IntVar(&cfg.managerBurst, "burst", 0, "--kube-api-burst of the manager; 0 keeps the manager's default.")
	flags.IntVar(&cfg.managerConcurrency, "concurrency", 0, "--max-concurrent-reconciles of the manager; 0 keeps the manager's default.")
	flags.IntVar(&cfg.workers, "workers", 16, "Parallel requests of the bench's own client, which has no client-side rate limit.")
	flags.DurationVar(&cfg.idleWindow, "idle-window", 20*time.Second, "Length of the idle window in which the apicost scenario counts writes.")
	flags.DurationVar(&cfg.idleSyncPeriod, "idle-sync-period", 5*time.Second, "--sync-period of the manager during the idle window.")
	flags.IntVar(&cfg.unrelatedSecrets, "unrelated-secrets", 10000, "Number of unrelated Secrets the memory scenario creates before it starts a fresh manager.")
	flags.IntVar(&cfg.unrelatedSecretBytes, "unrelated-secret-bytes", 10*1024, "Data size of each unrelated Secret, in bytes.")
	flags.IntVar(&cfg.unrelatedNamespaces, "unrelated-namespaces", 20, "Number of namespaces the unrelated Secrets are spread over.")
	flags.StringVar(&cfg.cpuProfile, "cpuprofile", "", "File that receives a CPU profile of the manager taken during the burst; empty takes none.")
	flags.StringVar(&cfg.heapProfile, "heapprofile", "", "File that receives a heap profile of the manager, taken in the memory scenario once it has reconciled every DNSCertificate; empty takes none.")
	flags.DurationVar(&cfg.cpuProfileDuration, "cpuprofile-duration", 30*time.Second, "Length of the CPU profile, counted from the start of the burst.")
	flags.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "Longest wait for any one step, such as the whole burst becoming Ready.")
	flags.StringVar(&cfg.managerPath, "manager", "", "Manager binary to run; default bin/manager of the repository (make build writes it).")
	flags.StringVar(&cfg.workDir, "workdir", "", "Directory for the control plane, the manager's logs and kubeconfigs; default a temporary directory that is removed at the end.")
	if err := flags.Parse(args); err != nil {
		return config{}, err
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", flags.Args())
	}

	cfg.command = commandLine(args)
	cfg.binaryDir = os.Getenv("KUBEBUILDER_ASSETS")
	root, err := findRepoRoot()
	if err != nil {
		return config{}, err
	}
	cfg.repoRoot = root
	if cfg.managerPath == "" {
		cfg.managerPath = filepath.Join(root, "bin", "manager")
	}

	selected, err := parseScenarios(*scenarios)
	if err != nil {
		return config{}, err
	}
	cfg.scenarios = selected
	return cfg, cfg.validate()
}

// commandLine returns the command that reproduces this run, quoting arguments for a POSIX shell.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./test/bench"}
	for _, arg := range args {
		if arg == "" || strings.ContainsAny(arg, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			arg = "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
		}
		parts = append(parts, arg)
	}
	return strings.Join(parts, " ")
}

// parseScenarios turns the -scenarios list into names in run order, adding burst where a selected
// scenario needs its Ready DNSCertificates.
func parseScenarios(list string) ([]string, error) {
	wanted := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(scenarioOrder, name) {
			return nil, fmt.Errorf("unknown scenario %q in -scenarios; known: %s", name, strings.Join(scenarioOrder, ", "))
		}
		wanted[name] = true
	}
	if len(wanted) == 0 {
		return nil, errors.New("-scenarios names no scenario")
	}
	if wanted[scenarioAPICost] || wanted[scenarioRestart] || wanted[scenarioMemory] {
		wanted[scenarioBurst] = true
	}
	var selected []string
	for _, name := range scenarioOrder {
		if wanted[name] {
			selected = append(selected, name)
		}
	}
	return selected, nil
}

func (c config) validate() error {
	switch {
	case c.n < 1:
		return fmt.Errorf("-n is %d; it must be at least 1", c.n)
	case c.regenerations < 1:
		return fmt.Errorf("-regenerations is %d; it must be at least 1", c.regenerations)
	case c.workers < 1:
		return fmt.Errorf("-workers is %d; it must be at least 1", c.workers)
	case c.idleWindow <= 0:
		return fmt.Errorf("-idle-window is %s; it must be positive", c.idleWindow)
	case c.idleSyncPeriod <= 0:
		return fmt.Errorf("-idle-sync-period is %s; it must be positive", c.idleSyncPeriod)
	case c.unrelatedSecrets < 0 || c.unrelatedSecretBytes < 0:
		return errors.New("-unrelated-secrets and -unrelated-secret-bytes must not be negative")
	case c.unrelatedNamespaces < 1:
		return fmt.Errorf("-unrelated-namespaces is %d; it must be at least 1", c.unrelatedNamespaces)
	case c.cpuProfileDuration < time.Second:
		return fmt.Errorf("-cpuprofile-duration is %s; it must be at least 1s", c.cpuProfileDuration)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout is %s; it must be positive", c.timeout)
	case c.binaryDir == "":
		return errors.New("KUBEBUILDER_ASSETS is not set: set it to the directory that hack/install-control-plane.sh prints, or run make bench")
	}
	if _, err := os.Stat(c.managerPath); err != nil {
		return fmt.Errorf("manager binary %s: %w (run make build, or pass -manager)", c.managerPath, err)
	}
	return nil
}

// selected reports whether a scenario runs.
func (c config) selected(name string) bool {
	return slices.Contains(c.scenarios, name)
}

// findRepoRoot walks up from the working directory to the directory holding this module's go.mod.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/dnscert/dnscert-operator\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the dnscert-operator repository was not found above the working directory; run the bench from the repository")
		}
		dir = parent
	}
}

// run starts the control plane, runs the selected scenarios, writes the report to stdout (and
// to cfg.out) and stops every process it started. On a scenario's failure it still writes what
// was measured before it.
func run(ctx context.Context, cfg config, stdout io.Writer) (_ *report, err error) {
	b, err := newBench(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		err = errors.Join(err, b.close())
	}()

	for _, name := range cfg.scenarios {
		b.logf("Running scenario %s", name)
		start := time.Now()
		if err := b.runScenario(ctx, name); err != nil {
			b.report.failed = fmt.Sprintf("scenario %s failed: %v", name, err)
			_ = b.writeReport(stdout)
			return b.report, fmt.Errorf("scenario %s: %w", name, err)
		}
		b.report.completed = append(b.report.completed, name)
		b.logf("Scenario %s took %s", name, time.Since(start).Round(time.Second))
	}
	return b.report, b.writeReport(stdout)
}

func (b *bench) runScenario(ctx context.Context, name string) error {
	switch name {
	case scenarioLimit:
		return b.runLimit(ctx)
	case scenarioBurst:
		return b.runBurst(ctx)
	case scenarioRegeneration:
		return b.runRegeneration(ctx)
	case scenarioAPICost:
		return b.runAPICost(ctx)
	case scenarioRestart:
		return b.runRestart(ctx)
	case scenarioMemory:
		return b.runMemory(ctx)
	}
	return fmt.Errorf("unknown scenario %q", name)
}
