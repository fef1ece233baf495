package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
	"github.com/dnscert/dnscert-operator/test/testsigner"
)

// permission is one row of `kubectl auth can-i --list`.
type permission struct {
	resource string
	names    string
	verbs    string
}

var permissionRow = regexp.MustCompile(`^\s*([^\s\[]*)\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s*$`)

// listPermissions returns what the operator's identity may do, from its own point of view.
func listPermissions(namespace string) []permission {
	output, err := tryKubectlAs(operatorKubeconfig, "auth", "can-i", "--list", "-n", namespace, "--no-headers")
	Expect(err).NotTo(HaveOccurred())
	var permissions []permission
	for _, line := range strings.Split(strings.TrimSpace(output), "\n") {
		// Columns: resources, non-resource URLs, resource names, verbs; lists print in brackets.
		// Rows for non-resource URLs such as /healthz, which every user may read, have no resource.
		match := permissionRow.FindStringSubmatch(line)
		Expect(match).NotTo(BeNil(), "unexpected line %q", line)
		if match[1] == "" {
			continue
		}
		permissions = append(permissions, permission{resource: match[1], names: sortedList(match[3]), verbs: sortedList(match[4])})
	}
	return permissions
}

// sortedList sorts the words of a bracketed list such as "[watch get]".
func sortedList(list string) string {
	words := strings.Fields(strings.Trim(list, "[]"))
	sort.Strings(words)
	return "[" + strings.Join(words, " ") + "]"
}

func tryKubectlAs(kubeconfig string, args ...string) (string, error) {
	output, err := shell("KUBECONFIG=" + kubeconfig + " kubectl " + strings.Join(args, " "))
	return output, err
}

var _ = Describe("Security", func() {
	It("holds exactly the permissions the design needs", func() {
		// What the rendered RBAC grants, plus what Kubernetes grants every authenticated user.
		allowed := map[permission]bool{
			{"certificatesigningrequests.certificates.k8s.io", "[]", "[create delete get list watch]"}: true,
			{"certificatesigningrequests.certificates.k8s.io/approval", "[]", "[update]"}:              true,
			{"certificatesigningrequests.certificates.k8s.io/status", "[]", "[update]"}:                true,
			{"clustertrustbundles.certificates.k8s.io", "[]", "[create get list update watch]"}:        true,
			{"signers.certificates.k8s.io", "[certs.dnscert.io/local]", "[approve attest sign]"}:       true,
			{"dnscertificates.certs.dnscert.io", "[]", "[get list watch]"}:                             true,
			{"dnscertificates.certs.dnscert.io/finalizers", "[]", "[update]"}:                          true,
			{"dnscertificates.certs.dnscert.io/status", "[]", "[get patch update]"}:                    true,
			{"events.events.k8s.io", "[]", "[create patch]"}:                                           true,
			{"secrets", "[]", "[create delete get list update watch]"}:                                 true,
			{"configmaps", "[]", "[get]"}:                                                              true,
			{"selfsubjectreviews.authentication.k8s.io", "[]", "[create]"}:                             true,
			{"selfsubjectaccessreviews.authorization.k8s.io", "[]", "[create]"}:                        true,
			{"selfsubjectrulesreviews.authorization.k8s.io", "[]", "[create]"}:                         true,
			// In the operator's namespace: the Role of the local signer's CA Secret, and leader election.
			{"secrets", "[]", "[create get]"}:                           true,
			{"leases.coordination.k8s.io", "[]", "[create get update]"}: true,
			{"events", "[]", "[create patch]"}:                          true,
		}
		for _, namespace := range []string{"default", operatorNamespace} {
			for _, granted := range listPermissions(namespace) {
				if granted.resource == "signers.certificates.k8s.io" && granted.verbs == "[approve]" &&
					(strings.Contains(granted.names, testSignerDomain+"/") || strings.Contains(granted.names, "forbidden.dnscert.io/")) {
					continue // granted by these tests to their own signers
				}
				Expect(allowed).To(HaveKey(granted), "namespace %s: permission beyond the design: %+v", namespace, granted)
			}
		}
	})

	It("leaves alone a CSR someone else creates with the operator's labels", func() {
		c := adminClient()
		signer := startTestSigner(testsigner.Silent)
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		certificate := waitForReason(c, namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		outstanding := certificate.Status.CertificateSigningRequest

		key, err := pki.GenerateKey(certsv1alpha1.ECDSAKeyAlgorithm, 0)
		Expect(err).NotTo(HaveOccurred())
		request, err := pki.CreateCSR(key, []string{"web.example"}, nil)
		Expect(err).NotTo(HaveOccurred())
		lookalike := &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{
				Name: "lookalike-" + namespace,
				Labels: map[string]string{
					certsv1alpha1.LabelDNSCertificate:          "web",
					certsv1alpha1.LabelDNSCertificateNamespace: namespace,
					certsv1alpha1.LabelDNSCertificateUID:       string(certificate.UID),
				},
			},
			Spec: certificatesv1.CertificateSigningRequestSpec{
				Request: request, SignerName: "certs.dnscert.io/local",
				Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
			},
		}
		Expect(c.Create(ctx(), lookalike)).To(Succeed())
		DeferCleanup(func() { _ = c.Delete(ctx(), lookalike) })

		Consistently(func(g Gomega) {
			current := &certificatesv1.CertificateSigningRequest{}
			g.Expect(c.Get(ctx(), client.ObjectKeyFromObject(lookalike), current)).To(Succeed(), "the look-alike CSR still exists")
			g.Expect(current.Status.Conditions).To(BeEmpty(), "nobody approved the look-alike CSR")
			g.Expect(current.Status.Certificate).To(BeEmpty())
			g.Expect(getCertificate(c, namespace, "web").Status.CertificateSigningRequest).To(Equal(outstanding))
		}).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	})
})

// expectNoKeyMaterialLeaked searches the operator's logs and every event for private keys,
// certificates, CSR PEM and the values of every Secret. The suite runs it last.
func expectNoKeyMaterialLeaked() {
	c := adminClient()
	var texts []string
	logs, err := filepath.Glob(filepath.Join(cluster.WorkDir, "manager-*.log"))
	Expect(err).NotTo(HaveOccurred())
	Expect(logs).NotTo(BeEmpty())
	for _, path := range logs {
		data, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		texts = append(texts, string(data))
	}
	texts = append(texts, kubectl("get", "events", "-A", "-o", "yaml"), kubectl("get", "events.events.k8s.io", "-A", "-o", "yaml"))
	all := strings.Join(texts, "\n")

	for _, marker := range []string{"PRIVATE KEY", "BEGIN CERTIFICATE", "CERTIFICATE REQUEST"} {
		Expect(all).NotTo(ContainSubstring(marker))
	}

	var secrets corev1.SecretList
	Expect(c.List(ctx(), &secrets)).To(Succeed())
	checked := 0
	for _, secret := range secrets.Items {
		keys := make([]string, 0, len(secret.Data))
		for key := range secret.Data {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			value := strings.TrimSpace(string(secret.Data[key]))
			if len(value) < 32 {
				continue
			}
			// A distinctive slice from the middle, which holds no PEM header.
			middle := value[len(value)/2-12 : len(value)/2+12]
			Expect(all).NotTo(ContainSubstring(middle), fmt.Sprintf("data of Secret %s/%s key %s appears in a log or an event", secret.Namespace, secret.Name, key))
			checked++
		}
	}
	Expect(checked).To(BeNumerically(">", 0))
}
