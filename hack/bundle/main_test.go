package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

// repositoryRoot is the repository root seen from this package's directory.
const repositoryRoot = "../.."

// kubectlForTest returns the kubectl of the local control plane. Without KUBEBUILDER_ASSETS
// it skips the test, or fails it under `make test`.
func kubectlForTest(t *testing.T) string {
	t.Helper()
	controlplane.SkipWithoutBinaries(t)
	return filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
}

// readCommittedFiles reads every file under the generated directories of root, plus the
// other paths named in generated.
func readCommittedFiles(t *testing.T, root string, generated map[string][]byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, dir := range generatedDirs {
		err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(path string, entry fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || entry.IsDir() {
				return err
			}
			relative, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			files[filepath.ToSlash(relative)] = data
			return err
		})
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
		}
	}
	for path := range generated {
		if _, read := files[path]; read {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files[path] = data
	}
	return files
}

func TestCommittedBundleIsUpToDate(t *testing.T) {
	kubectl := kubectlForTest(t)
	generated, err := generate(options{root: repositoryRoot, kubectl: kubectl, version: "0.1.0"})
	if err != nil {
		t.Fatalf("generating the bundle: %v", err)
	}
	committed := readCommittedFiles(t, repositoryRoot, generated)

	var paths []string
	for path := range generated {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		got, found := committed[path]
		if !found {
			t.Errorf("%s is generated but not committed; run 'make bundle'", path)
			continue
		}
		if string(got) != string(generated[path]) {
			t.Errorf("%s differs from what hack/bundle generates; run 'make bundle' and commit the result\n%s", path, firstDifference(string(got), string(generated[path])))
		}
	}
	for path := range committed {
		if _, found := generated[path]; !found {
			t.Errorf("%s is committed but no longer generated; run 'make bundle', which removes it", path)
		}
	}
}

func TestWriteFilesReplacesGeneratedDirectories(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "bundle", "manifests", "stale.yaml")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("kind: Stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "bundle", "bundle_test.go")
	if err := os.WriteFile(keep, []byte("package bundle_test\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	files := map[string][]byte{
		"bundle/manifests/new.yaml":        []byte("kind: New\n"),
		"bundle/metadata/annotations.yaml": []byte("annotations: {}\n"),
		"bundle.Dockerfile":                []byte("FROM scratch\n"),
	}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}

	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale manifest still exists (stat error %v)", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file outside the generated directories was removed: %v", err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("reading %s: %v", path, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

// objectsFromYAML parses a multi-document manifest for the classification tests.
func objectsFromYAML(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objects, err := parseObjects([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

const (
	namespaceYAML = `apiVersion: v1
kind: Namespace
metadata: {name: operators}
`
	crdYAML = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, names: {kind: Widget, plural: widgets}, versions: [{name: v1, storage: true}]}
`
	serviceAccountYAML = `apiVersion: v1
kind: ServiceAccount
metadata: {name: operator, namespace: operators}
`
	deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: operators}
spec:
  selector: {matchLabels: {app: operator}}
  template:
    metadata: {labels: {app: operator}}
    spec:
      serviceAccountName: operator
      containers: [{name: manager, image: example.com/operator:v1.0.0}]
`
	clusterRoleYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: operator}
rules: [{apiGroups: [example.com], resources: [widgets], verbs: [get]}]
`
	clusterRoleBindingYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: operator}
subjects: [{kind: ServiceAccount, name: operator, namespace: operators}]
`
	roleYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: operators}
rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, update]}]
`
	roleBindingYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: operators}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases}
subjects: [{kind: ServiceAccount, name: operator, namespace: operators}]
`
)

func joinDocuments(documents ...string) string {
	return strings.Join(documents, "---\n")
}

func TestBindPermissions(t *testing.T) {
	objects := objectsFromYAML(t, joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, deploymentYAML,
		clusterRoleYAML, clusterRoleBindingYAML, roleYAML, roleBindingYAML))
	install, err := classifyObjects(objects)
	if err != nil {
		t.Fatal(err)
	}
	granted, err := bindPermissions(install)
	if err != nil {
		t.Fatal(err)
	}

	if got := granted.cluster["operator"]; len(got) != 1 || got[0].Resources[0] != "widgets" {
		t.Errorf("cluster permissions of operator = %+v, want the widgets rule", got)
	}
	if got := granted.namespaced["operator"]; len(got) != 1 || got[0].Resources[0] != "leases" {
		t.Errorf("namespaced permissions of operator = %+v, want the leases rule", got)
	}
	if install.namespace != "operators" {
		t.Errorf("namespace = %q, want operators", install.namespace)
	}
}

func TestClassifyAndBindErrors(t *testing.T) {
	otherSubjectBinding := strings.Replace(clusterRoleBindingYAML, "{kind: ServiceAccount, name: operator, namespace: operators}",
		"{kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}", 1)
	tests := []struct {
		name     string
		manifest string
		want     string
	}{
		{
			name:     "unknown kind",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, deploymentYAML, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"),
			want:     "does not know how OLM should install it",
		},
		{
			name:     "missing service account",
			manifest: joinDocuments(namespaceYAML, crdYAML, deploymentYAML),
			want:     `runs as ServiceAccount "operator", which config/default does not render`,
		},
		{
			name:     "no deployment",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML),
			want:     "renders no Deployment",
		},
		{
			name:     "binding to a group",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, deploymentYAML, clusterRoleYAML, otherSubjectBinding),
			want:     "a CSV can grant permissions only to the operator's ServiceAccounts",
		},
		{
			name:     "unbound role",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, deploymentYAML, clusterRoleYAML, clusterRoleBindingYAML, roleYAML),
			want:     "Role leases is not bound",
		},
		{
			name:     "binding to a missing role",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, deploymentYAML, roleBindingYAML),
			want:     "refers to Role leases, which config/default does not render",
		},
		{
			name:     "unknown deployment field",
			manifest: joinDocuments(namespaceYAML, crdYAML, serviceAccountYAML, strings.Replace(deploymentYAML, "replicas", "replica", 1)+"  replica: 1\n"),
			want:     `unknown field "replica"`,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			install, err := classifyObjects(objectsFromYAML(t, test.manifest))
			if err == nil {
				_, err = bindPermissions(install)
			}
			if err == nil {
				t.Fatalf("got no error, want one containing %q", test.want)
			}
			if !strings.Contains(err.Error(), test.want) {
				t.Errorf("error = %q, want it to contain %q", err, test.want)
			}
		})
	}
}

func TestMarshalManifestDropsEmptyFields(t *testing.T) {
	object := map[string]any{
		"kind":     "Example",
		"metadata": map[string]any{"name": "a", "creationTimestamp": nil},
		"spec":     map[string]any{"volumes": []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}}, "unset": nil},
		"status":   map[string]any{},
	}
	data, err := marshalManifest(object)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	want := generatedYAMLHeader + "kind: Example\nmetadata:\n  name: a\nspec:\n  volumes:\n  - emptyDir: {}\n    name: tmp\n"
	if got != want {
		t.Errorf("marshalManifest =\n%s\nwant\n%s", got, want)
	}
}

// firstDifference returns the first line where got and want differ, for short failure
// messages on large manifests.
func firstDifference(got, want string) string {
	gotLines := strings.Split(got, "\n")
	wantLines := strings.Split(want, "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var gotLine, wantLine string
		if i < len(gotLines) {
			gotLine = gotLines[i]
		}
		if i < len(wantLines) {
			wantLine = wantLines[i]
		}
		if gotLine != wantLine {
			return fmt.Sprintf("first difference at line %d:\n  committed: %s\n  generated: %s", i+1, gotLine, wantLine)
		}
	}
	return ""
}
