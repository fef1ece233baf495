// Package bundle_test validates the committed OLM bundle. The bundle itself is generated
// by hack/bundle; see validators_test.go for the checks.
package bundle_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// bundle is an OLM registry+v1 bundle read from disk.
type bundle struct {
	csv *operatorsv1alpha1.ClusterServiceVersion
	// csvFile is the manifest file that holds the CSV.
	csvFile string
	crds    []*apiextensionsv1.CustomResourceDefinition
	// objects are every manifest in manifests/, the CSV and the CRDs included.
	objects []*unstructured.Unstructured
	// manifestBytes is the total size of the files in manifests/.
	manifestBytes int
	// annotations are metadata/annotations.yaml's annotations.
	annotations map[string]string
	// dockerfileLabels are the LABEL instructions of the bundle Dockerfile.
	dockerfileLabels map[string]string
	// dockerfileCopies are the COPY instructions of the bundle Dockerfile, source to destination.
	dockerfileCopies map[string]string
}

// loadBundle reads the bundle in dir and the Dockerfile that builds its image. The CSV and
// the CRDs are decoded strictly, so a field their types do not have is an error.
func loadBundle(dir, dockerfile string) (*bundle, error) {
	loaded := &bundle{}
	entries, err := os.ReadDir(filepath.Join(dir, "manifests"))
	if err != nil {
		return nil, fmt.Errorf("reading the manifests directory: %w", err)
	}
	for _, entry := range entries {
		if entry.IsDir() {
			return nil, fmt.Errorf("manifests/%s is a directory; a registry+v1 bundle has only files there", entry.Name())
		}
		if err := loaded.readManifest(filepath.Join(dir, "manifests", entry.Name())); err != nil {
			return nil, err
		}
	}
	if loaded.csv == nil {
		return nil, errors.New("manifests/ holds no ClusterServiceVersion")
	}

	annotationsData, err := os.ReadFile(filepath.Join(dir, "metadata", "annotations.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading the bundle annotations: %w", err)
	}
	var annotationsFile struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(annotationsData, &annotationsFile); err != nil {
		return nil, fmt.Errorf("decoding metadata/annotations.yaml: %w", err)
	}
	loaded.annotations = annotationsFile.Annotations

	dockerfileData, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading the bundle Dockerfile: %w", err)
	}
	loaded.dockerfileLabels, loaded.dockerfileCopies = parseDockerfile(string(dockerfileData))
	return loaded, nil
}

func (b *bundle) readManifest(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b.manifestBytes += len(data)
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		var content map[string]any
		if err := yaml.Unmarshal(document, &content); err != nil {
			return fmt.Errorf("decoding %s: %w", path, err)
		}
		if content == nil {
			continue
		}
		object := &unstructured.Unstructured{Object: content}
		b.objects = append(b.objects, object)

		switch object.GroupVersionKind().GroupKind().String() {
		case "ClusterServiceVersion.operators.coreos.com":
			if b.csv != nil {
				return fmt.Errorf("%s holds a second ClusterServiceVersion; a bundle has exactly one", path)
			}
			b.csv = &operatorsv1alpha1.ClusterServiceVersion{}
			if err := yaml.UnmarshalStrict(document, b.csv); err != nil {
				return fmt.Errorf("decoding the ClusterServiceVersion in %s: %w", path, err)
			}
			b.csvFile = filepath.Base(path)
		case "CustomResourceDefinition.apiextensions.k8s.io":
			if object.GetAPIVersion() != apiextensionsv1.SchemeGroupVersion.String() {
				// Left to the deprecated API check, which names the version.
				continue
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(document, crd); err != nil {
				return fmt.Errorf("decoding the CustomResourceDefinition in %s: %w", path, err)
			}
			b.crds = append(b.crds, crd)
		}
	}
}

// parseDockerfile returns the LABEL key=value pairs and the COPY source and destination
// pairs of a Dockerfile. It reads one instruction per line, which is how hack/bundle writes it.
func parseDockerfile(dockerfile string) (labels, copies map[string]string) {
	labels = map[string]string{}
	copies = map[string]string{}
	for line := range strings.SplitSeq(dockerfile, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "LABEL":
			for _, pair := range fields[1:] {
				key, value, _ := strings.Cut(pair, "=")
				labels[key] = strings.Trim(value, `"`)
			}
		case "COPY":
			if len(fields) == 3 {
				copies[fields[1]] = fields[2]
			}
		}
	}
	return labels, copies
}

// clone returns a deep copy, so that a test can break one field without touching the
// bundle other tests read.
func (b *bundle) clone() *bundle {
	copied := &bundle{
		csv:              b.csv.DeepCopy(),
		csvFile:          b.csvFile,
		manifestBytes:    b.manifestBytes,
		annotations:      copyMap(b.annotations),
		dockerfileLabels: copyMap(b.dockerfileLabels),
		dockerfileCopies: copyMap(b.dockerfileCopies),
	}
	for _, crd := range b.crds {
		copied.crds = append(copied.crds, crd.DeepCopy())
	}
	for _, object := range b.objects {
		copied.objects = append(copied.objects, object.DeepCopy())
	}
	return copied
}

func copyMap(values map[string]string) map[string]string {
	copied := make(map[string]string, len(values))
	for key, value := range values {
		copied[key] = value
	}
	return copied
}

// sortedKeys returns the keys of a set in order, for stable messages.
func sortedKeys[V any](set map[string]V) []string {
	keys := make([]string, 0, len(set))
	for key := range set {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// decodeExamples parses the alm-examples annotation, a JSON array of objects.
func decodeExamples(csv *operatorsv1alpha1.ClusterServiceVersion) ([]unstructured.Unstructured, error) {
	raw, found := csv.Annotations["alm-examples"]
	if !found {
		return nil, nil
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(raw), &examples); err != nil {
		return nil, err
	}
	objects := make([]unstructured.Unstructured, 0, len(examples))
	for _, example := range examples {
		objects = append(objects, unstructured.Unstructured{Object: example})
	}
	return objects, nil
}
