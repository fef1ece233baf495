package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

const repositoryRoot = "../.."

func TestCommittedReferenceIsUpToDate(t *testing.T) {
	crds, err := readCRDs(filepath.Join(repositoryRoot, filepath.FromSlash(crdDir)))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(repositoryRoot, filepath.FromSlash(outputPath)))
	if err != nil {
		t.Fatalf("reading the committed reference: %v", err)
	}
	if string(committed) != string(renderReference(crds)) {
		t.Errorf("%s differs from what hack/apidocs generates from %s; run 'make api-docs' and commit the result", outputPath, crdDir)
	}
}

func TestReferenceDocumentsEveryField(t *testing.T) {
	crds, err := readCRDs(filepath.Join(repositoryRoot, filepath.FromSlash(crdDir)))
	if err != nil {
		t.Fatal(err)
	}
	reference := string(renderReference(crds))
	for _, crd := range crds {
		for _, version := range crd.Spec.Versions {
			root := version.Schema.OpenAPIV3Schema
			for _, top := range []string{"spec", "status"} {
				checkFieldsDocumented(t, reference, top, root.Properties[top])
			}
		}
	}
}

// checkFieldsDocumented checks that every field under schema has a row in the section of
// its parent.
func checkFieldsDocumented(t *testing.T, reference, path string, schema apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	section := sectionOf(reference, path)
	if section == "" {
		t.Errorf("no section for %s", path)
		return
	}
	for field, property := range schema.Properties {
		if !strings.Contains(section, "| `"+field+"` |") {
			t.Errorf("section %s has no row for %s", path, field)
		}
		if nested := objectSchema(property); nested != nil {
			nestedPath := path + "." + field
			if property.Type == "array" {
				nestedPath += "[]"
			}
			checkFieldsDocumented(t, reference, nestedPath, *nested)
		}
	}
}

// sectionOf returns the text of the "### `path`" section, up to the next heading.
func sectionOf(reference, path string) string {
	_, section, found := strings.Cut(reference, "\n### `"+path+"`\n")
	if !found {
		return ""
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	return section
}

func TestEscapeCell(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"a | b", `a \| b`},
		{"a leading '*.' label", `a leading '\*.' label`},
		{"`x|y*z`", "`x\\|y*z`"},
		{"<b>", "&lt;b&gt;"},
	}
	for _, test := range tests {
		if got := escapeCell(test.text); got != test.want {
			t.Errorf("escapeCell(%q) = %q, want %q", test.text, got, test.want)
		}
	}
}
