package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

const (
	// istioOperatorGroup is the API group of Istio's IstioOperator kind.
	istioOperatorGroup = "install.istio.io"
	istioOperatorKind  = "IstioOperator"

	// defaultIstioNamespace is where Istio's DNS certificate feature wrote its Secrets
	// in a default installation.
	defaultIstioNamespace = "istio-system"

	// maxDNSNamesPerCertificate is the spec.dnsNames limit of the DNSCertificate CRD.
	maxDNSNamesPerCertificate = 100
)

// Exit codes of the convert-istio command.
const (
	exitOK         = 0
	exitConversion = 1
	exitUsage      = 2
)

const convertIstioUsage = `Usage: manager convert-istio -f FILE [--namespace NAMESPACE]

Converts the spec.meshConfig.certificates list of an IstioOperator manifest into
DNSCertificate manifests, one per entry, printed as YAML documents on stdout:

  manager convert-istio -f istio.yaml | kubectl apply -f -

FILE may hold several YAML documents; documents of other kinds are ignored.
Errors name the document (counted from 1, empty documents not counted) and the
entry. Nothing is printed on stdout unless every entry converts.

Flags:
`

// istioOperator is the part of an IstioOperator manifest that the conversion reads.
type istioOperator struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		MeshConfig struct {
			Certificates []istioCertificate `json:"certificates"`
		} `json:"meshConfig"`
	} `json:"spec"`
}

// istioCertificate is one entry of Istio's meshConfig.certificates list.
type istioCertificate struct {
	SecretName string   `json:"secretName"`
	DNSNames   []string `json:"dnsNames"`
}

// convertedCertificate is a DNSCertificate produced from one Istio entry, with the
// entry's position for the comment printed above it.
type convertedCertificate struct {
	Source         string
	DNSCertificate dnsCertificateManifest
}

// dnsCertificateManifest is the printed form of a DNSCertificate: only the fields the
// conversion sets, so the output carries no empty status or creation timestamp.
type dnsCertificateManifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		SecretName string   `json:"secretName"`
		DNSNames   []string `json:"dnsNames"`
	} `json:"spec"`
}

// runConvertIstio runs "manager convert-istio ARGS" and returns the process exit code:
// 0 on success, 1 when the input cannot be converted, 2 on a usage error.
func runConvertIstio(args []string, stdout, stderr io.Writer) int {
	return convertIstioCommand(args, os.Stdin, stdout, stderr)
}

func convertIstioCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("convert-istio", flag.ContinueOnError)
	flags.SetOutput(stderr)
	file := flags.String("f", "", "IstioOperator manifest to read; - reads stdin.")
	namespace := flags.String("namespace", defaultIstioNamespace, "Namespace of the DNSCertificates and their Secrets: the namespace istiod ran in.")
	flags.Usage = func() {
		fmt.Fprint(stderr, convertIstioUsage)
		flags.PrintDefaults()
	}

	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "convert-istio: unexpected argument %q; pass the manifest with -f FILE\n", flags.Arg(0))
		flags.Usage()
		return exitUsage
	}
	if *file == "" {
		fmt.Fprintln(stderr, "convert-istio: missing -f FILE (use -f - to read stdin)")
		flags.Usage()
		return exitUsage
	}
	if problems := validation.IsDNS1123Label(*namespace); len(problems) > 0 {
		fmt.Fprintf(stderr, "convert-istio: invalid --namespace %q: %s\n", *namespace, strings.Join(problems, "; "))
		return exitUsage
	}

	input, sourceName, err := readConvertInput(*file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "convert-istio: %v\n", err)
		return exitConversion
	}
	converted, errs := convertIstioOperators(input, *namespace)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(stderr, "convert-istio: %s: %v\n", sourceName, err)
		}
		return exitConversion
	}

	output, err := formatDNSCertificates(converted, sourceName)
	if err != nil {
		fmt.Fprintf(stderr, "convert-istio: %v\n", err)
		return exitConversion
	}
	if _, err := stdout.Write(output); err != nil {
		fmt.Fprintf(stderr, "convert-istio: writing the output: %v\n", err)
		return exitConversion
	}
	return exitOK
}

// readConvertInput reads the manifest named by the -f flag and returns it with the name
// used in messages.
func readConvertInput(file string, stdin io.Reader) ([]byte, string, error) {
	if file == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", fmt.Errorf("reading stdin: %w", err)
		}
		return data, "stdin", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("reading the IstioOperator manifest: %w", err)
	}
	return data, file, nil
}

// convertIstioOperators converts every meshConfig.certificates entry of every IstioOperator
// document in input into a DNSCertificate in namespace. It returns all problems it finds,
// each naming the document and entry, and no certificates when there is any problem.
func convertIstioOperators(input []byte, namespace string) ([]convertedCertificate, []error) {
	documents, err := splitYAMLDocuments(input)
	if err != nil {
		return nil, []error{err}
	}

	var (
		converted    []convertedCertificate
		errs         []error
		foundList    bool
		secretSource = map[string]string{}
		namer        = newDNSCertificateNamer()
	)
	for index, document := range documents {
		documentNumber := index + 1
		var operator istioOperator
		if err := yaml.Unmarshal(document, &operator); err != nil {
			errs = append(errs, fmt.Errorf("document %d: invalid YAML: %w", documentNumber, err))
			continue
		}
		if operator.Kind != istioOperatorKind || !strings.HasPrefix(operator.APIVersion, istioOperatorGroup+"/") {
			continue
		}
		if len(operator.Spec.MeshConfig.Certificates) == 0 {
			continue
		}
		foundList = true

		for entryIndex, entry := range operator.Spec.MeshConfig.Certificates {
			position := fmt.Sprintf("document %d, spec.meshConfig.certificates[%d]", documentNumber, entryIndex)
			entryErrs := validateIstioCertificate(entry)
			if first, seen := secretSource[entry.SecretName]; seen && entry.SecretName != "" {
				entryErrs = append(entryErrs, fmt.Errorf("duplicate secretName %q, already used by %s", entry.SecretName, first))
			}
			if len(entryErrs) > 0 {
				for _, err := range entryErrs {
					errs = append(errs, fmt.Errorf("%s: %w", position, err))
				}
				continue
			}
			secretSource[entry.SecretName] = position

			var certificate dnsCertificateManifest
			certificate.APIVersion = certsv1alpha1.GroupVersion.String()
			certificate.Kind = "DNSCertificate"
			certificate.Metadata.Name = namer.name(entry.SecretName)
			certificate.Metadata.Namespace = namespace
			certificate.Spec.SecretName = entry.SecretName
			certificate.Spec.DNSNames = entry.DNSNames
			converted = append(converted, convertedCertificate{Source: position, DNSCertificate: certificate})
		}
	}

	if !foundList && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no %s/%s document with a non-empty spec.meshConfig.certificates list found", istioOperatorGroup, istioOperatorKind))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return converted, nil
}

// splitYAMLDocuments splits input at "---" lines and drops documents that hold no value,
// such as those with only comments.
func splitYAMLDocuments(input []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(input)))
	var documents [][]byte
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return documents, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(documents)+1, err)
		}
		var value any
		if err := yaml.Unmarshal(document, &value); err == nil && value == nil {
			continue
		}
		documents = append(documents, document)
	}
}

// validateIstioCertificate checks one entry against what the DNSCertificate API accepts.
func validateIstioCertificate(entry istioCertificate) []error {
	var errs []error
	if entry.SecretName == "" {
		errs = append(errs, errors.New("missing secretName"))
	} else if problems := validation.IsDNS1123Subdomain(entry.SecretName); len(problems) > 0 {
		errs = append(errs, fmt.Errorf("invalid secretName %q: %s", entry.SecretName, strings.Join(problems, "; ")))
	}

	if len(entry.DNSNames) == 0 {
		errs = append(errs, errors.New("missing dnsNames: each entry needs at least one DNS name"))
	}
	if len(entry.DNSNames) > maxDNSNamesPerCertificate {
		errs = append(errs, fmt.Errorf("%d dnsNames, more than the maximum of %d", len(entry.DNSNames), maxDNSNamesPerCertificate))
	}
	seen := map[string]bool{}
	for index, name := range entry.DNSNames {
		if err := pki.ValidateDNSName(name); err != nil {
			errs = append(errs, fmt.Errorf("dnsNames[%d]: %w", index, err))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("dnsNames[%d]: duplicate DNS name %q", index, name))
		}
		seen[name] = true
	}
	return errs
}

// dnsCertificateNamer derives unique DNSCertificate names from Secret names.
type dnsCertificateNamer struct {
	used map[string]bool
}

func newDNSCertificateNamer() *dnsCertificateNamer {
	return &dnsCertificateNamer{used: map[string]bool{}}
}

// name returns a DNS-1123 label of at most 63 characters derived from secretName, with a
// numeric suffix ("-2", "-3", ...) when an earlier name derived to the same label.
func (n *dnsCertificateNamer) name(secretName string) string {
	base := dnsLabelFromSecretName(secretName)
	candidate := base
	for suffix := 2; n.used[candidate]; suffix++ {
		tail := "-" + strconv.Itoa(suffix)
		candidate = strings.TrimRight(truncate(base, validation.DNS1123LabelMaxLength-len(tail)), "-") + tail
	}
	n.used[candidate] = true
	return candidate
}

// dnsLabelFromSecretName lower-cases secretName, replaces every character outside a-z, 0-9
// and '-' (such as the dots of a subdomain) with '-', and cuts it to 63 characters.
func dnsLabelFromSecretName(secretName string) string {
	var builder strings.Builder
	for _, r := range strings.ToLower(secretName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			builder.WriteRune(r)
		} else {
			builder.WriteByte('-')
		}
	}
	label := strings.Trim(truncate(builder.String(), validation.DNS1123LabelMaxLength), "-")
	if label == "" {
		return "dnscertificate"
	}
	return label
}

// printableSourceName replaces control characters, so that a file name cannot end the
// YAML comment it is printed in.
func printableSourceName(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, name)
}

func truncate(value string, maxLength int) string {
	if len(value) > maxLength {
		return value[:maxLength]
	}
	return value
}

// formatDNSCertificates prints the certificates as YAML documents separated by "---", each
// preceded by a comment naming the Istio entry it came from.
func formatDNSCertificates(certificates []convertedCertificate, sourceName string) ([]byte, error) {
	var output bytes.Buffer
	for index, certificate := range certificates {
		if index > 0 {
			output.WriteString("---\n")
		}
		document, err := yaml.Marshal(certificate.DNSCertificate)
		if err != nil {
			return nil, fmt.Errorf("encoding DNSCertificate %s: %w", certificate.DNSCertificate.Metadata.Name, err)
		}
		fmt.Fprintf(&output, "# Converted from %s, %s\n", printableSourceName(sourceName), certificate.Source)
		output.Write(document)
	}
	return output.Bytes(), nil
}
