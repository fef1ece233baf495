package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
	"github.com/dnscert/dnscert-operator/test/testsigner"
)

const (
	e2eTimeout = 60 * time.Second
	e2ePolling = 100 * time.Millisecond
	// testSignerDomain is the domain of the test signers the operator may approve for.
	testSignerDomain = "test.dnscert.io"
)

// adminClient reads objects to check what the operator did; users' actions go through kubectl.
func adminClient() client.Client {
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(certsv1alpha1.AddToScheme(scheme)).To(Succeed())
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// kubectlApply applies a manifest given as text.
func kubectlApply(manifest string) {
	cmd := exec.Command(cluster.KubectlPath(), "apply", "-f", "-")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
	cmd.Stdin = strings.NewReader(manifest)
	output, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", output)
}

// createNamespace creates a namespace for one test with kubectl.
func createNamespace() string {
	name := "e2e-" + utilrand.String(6)
	kubectl("create", "namespace", name)
	return name
}

// certificateManifest returns a DNSCertificate manifest.
func certificateManifest(namespace, name, secretName, signerName string, dnsNames ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: certs.dnscert.io/v1alpha1\nkind: DNSCertificate\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  secretName: %s\n", name, namespace, secretName)
	if signerName != "" {
		fmt.Fprintf(&b, "  signerName: %s\n", signerName)
	}
	b.WriteString("  dnsNames:\n")
	for _, dnsName := range dnsNames {
		fmt.Fprintf(&b, "    - %s\n", dnsName)
	}
	return b.String()
}

// startTestSigner starts a test signer with a unique name under testSignerDomain.
func startTestSigner(mode testsigner.Mode) *testsigner.Signer {
	signer, err := testsigner.New(testSignerDomain+"/"+utilrand.String(6), mode)
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel)
	Expect(signer.Start(ctx, cluster.Config)).To(Succeed())
	return signer
}

func getCertificate(c client.Client, namespace, name string) *certsv1alpha1.DNSCertificate {
	certificate := &certsv1alpha1.DNSCertificate{}
	Expect(c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, certificate)).To(Succeed())
	return certificate
}

func conditionReason(certificate *certsv1alpha1.DNSCertificate, conditionType string) (metav1.ConditionStatus, string) {
	condition := meta.FindStatusCondition(certificate.Status.Conditions, conditionType)
	if condition == nil {
		return "", ""
	}
	return condition.Status, condition.Reason
}

// waitForReason waits until a condition has a status and reason.
func waitForReason(c client.Client, namespace, name, conditionType string, status metav1.ConditionStatus, reason string) *certsv1alpha1.DNSCertificate {
	var certificate *certsv1alpha1.DNSCertificate
	Eventually(func(g Gomega) {
		certificate = &certsv1alpha1.DNSCertificate{}
		g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, certificate)).To(Succeed())
		gotStatus, gotReason := conditionReason(certificate, conditionType)
		g.Expect(gotStatus).To(Equal(status), "status of %s", conditionType)
		g.Expect(gotReason).To(Equal(reason), "reason of %s", conditionType)
	}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())
	return certificate
}

func waitReady(c client.Client, namespace, name string) *certsv1alpha1.DNSCertificate {
	return waitForReason(c, namespace, name, certsv1alpha1.ConditionReady, metav1.ConditionTrue, certsv1alpha1.ReasonIssued)
}

// csrsOf lists the CSRs of a DNSCertificate.
func csrsOf(c client.Client, namespace, name string) []certificatesv1.CertificateSigningRequest {
	var list certificatesv1.CertificateSigningRequestList
	Expect(c.List(context.Background(), &list, client.MatchingLabels{
		certsv1alpha1.LabelDNSCertificate:          name,
		certsv1alpha1.LabelDNSCertificateNamespace: namespace,
	})).To(Succeed())
	return list.Items
}

func pendingKeySecrets(c client.Client, namespace string) []corev1.Secret {
	var list corev1.SecretList
	Expect(c.List(context.Background(), &list, client.InNamespace(namespace), client.HasLabels{certsv1alpha1.LabelPendingKey})).To(Succeed())
	return list.Items
}

// secretProblem returns why a Secret is not a consistent certificate Secret, or "" when it is:
// every key present and non-empty, both key sets equal, the key matching the certificate.
func secretProblem(secret *corev1.Secret) string {
	for _, key := range []string{"tls.crt", "tls.key", "ca.crt", "cert-chain.pem", "key.pem", "root-cert.pem"} {
		if len(secret.Data[key]) == 0 {
			return "key " + key + " is missing or empty"
		}
	}
	if !bytes.Equal(secret.Data["tls.crt"], secret.Data["cert-chain.pem"]) || !bytes.Equal(secret.Data["tls.key"], secret.Data["key.pem"]) ||
		!bytes.Equal(secret.Data["ca.crt"], secret.Data["root-cert.pem"]) {
		return "the two key sets differ"
	}
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		return "tls.crt holds no PEM block"
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "tls.crt: " + err.Error()
	}
	key, _, err := pki.ParsePrivateKeyPEM(secret.Data["tls.key"])
	if err != nil {
		return "tls.key does not parse"
	}
	if !pki.PublicKeysEqual(key.Public(), leaf.PublicKey) {
		return "the key does not match the certificate"
	}
	return ""
}

func serialOfSecret(secret *corev1.Secret) string {
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		return ""
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ""
	}
	return leaf.SerialNumber.Text(16)
}

func ctx() context.Context { return context.Background() }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
