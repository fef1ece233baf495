// Command bundle generates the OLM bundle of dnscert-operator from config/: the
// ClusterServiceVersion and the CRD under bundle/manifests/, bundle/metadata/annotations.yaml
// and bundle.Dockerfile. It renders config/default and config/samples with
// `kubectl kustomize`, so the CRD, the RBAC rules and the Deployment in the bundle are always
// the ones that `kubectl apply -k config/default` installs.
//
// Run it from the repository root:
//
//	go run ./hack/bundle --kubectl "$(hack/install-control-plane.sh)/kubectl"
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// options are the generator's inputs.
type options struct {
	// root is the repository root, the directory that holds config/.
	root string
	// kubectl is the kubectl binary that renders the kustomizations.
	kubectl string
	// version is the operator version, without a leading "v".
	version string
}

func main() {
	opts := options{}
	outputDir := ""
	flag.StringVar(&opts.root, "root", ".", "Repository root: the directory that holds config/.")
	flag.StringVar(&outputDir, "output-dir", "", "Directory that receives bundle/ and bundle.Dockerfile; defaults to --root.")
	flag.StringVar(&opts.kubectl, "kubectl", defaultKubectl(), "kubectl binary that renders config/ with 'kubectl kustomize'. Defaults to $KUBEBUILDER_ASSETS/kubectl, else kubectl on PATH.")
	flag.StringVar(&opts.version, "version", "0.1.0", "Operator version (semantic version without a leading v); the CSV is named dnscert-operator.v<version>.")
	flag.Parse()
	if outputDir == "" {
		outputDir = opts.root
	}

	files, err := generate(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
	if err := writeFiles(outputDir, files); err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}

// defaultKubectl returns the kubectl of the local control plane when KUBEBUILDER_ASSETS
// points at it, and otherwise the kubectl found on PATH.
func defaultKubectl() string {
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		return filepath.Join(assets, "kubectl")
	}
	return "kubectl"
}

// generatedDirs are the directories whose whole content the generator owns. They are
// emptied before writing, so a file that is no longer generated does not linger.
var generatedDirs = []string{manifestsDir, metadataDir}

// writeFiles replaces the generated directories under outputDir with files, which maps
// slash-separated paths relative to outputDir to their content.
func writeFiles(outputDir string, files map[string][]byte) error {
	for _, dir := range generatedDirs {
		if err := os.RemoveAll(filepath.Join(outputDir, filepath.FromSlash(dir))); err != nil {
			return fmt.Errorf("removing the old %s: %w", dir, err)
		}
	}

	paths := make([]string, 0, len(files))
	for path := range files {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		target := filepath.Join(outputDir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("creating the directory of %s: %w", path, err)
		}
		if err := os.WriteFile(target, files[path], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
