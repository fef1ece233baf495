package controllers

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

const (
	eventuallyTimeout = 30 * time.Second
	pollInterval      = 50 * time.Millisecond
)

// createNamespace creates a namespace for one test.
func createNamespace() string {
	name := "test-" + utilrand.String(6)
	Expect(k8sClient.Create(testCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

func newCertificate(namespace, name, secretName string, dnsNames ...string) *certsv1alpha1.DNSCertificate {
	return &certsv1alpha1.DNSCertificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       certsv1alpha1.DNSCertificateSpec{SecretName: secretName, DNSNames: dnsNames},
	}
}

func getCertificate(namespace, name string) *certsv1alpha1.DNSCertificate {
	certificate := &certsv1alpha1.DNSCertificate{}
	Expect(k8sClient.Get(testCtx, types.NamespacedName{Namespace: namespace, Name: name}, certificate)).To(Succeed())
	return certificate
}

// conditionOf returns a condition's status and reason, or "" when it is absent.
func conditionOf(certificate *certsv1alpha1.DNSCertificate, conditionType string) (metav1.ConditionStatus, string) {
	condition := meta.FindStatusCondition(certificate.Status.Conditions, conditionType)
	if condition == nil {
		return "", ""
	}
	return condition.Status, condition.Reason
}

// waitForCondition polls until a condition has the given status and reason.
func waitForCondition(namespace, name, conditionType string, status metav1.ConditionStatus, reason string) *certsv1alpha1.DNSCertificate {
	var certificate *certsv1alpha1.DNSCertificate
	Eventually(func(g Gomega) {
		certificate = &certsv1alpha1.DNSCertificate{}
		g.Expect(k8sClient.Get(testCtx, types.NamespacedName{Namespace: namespace, Name: name}, certificate)).To(Succeed())
		gotStatus, gotReason := conditionOf(certificate, conditionType)
		g.Expect(gotStatus).To(Equal(status), "status of condition %s", conditionType)
		g.Expect(gotReason).To(Equal(reason), "reason of condition %s", conditionType)
		g.Expect(certificate.Status.ObservedGeneration).To(Equal(certificate.Generation))
	}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
	return certificate
}

func waitForReady(namespace, name string) *certsv1alpha1.DNSCertificate {
	return waitForCondition(namespace, name, certsv1alpha1.ConditionReady, metav1.ConditionTrue, certsv1alpha1.ReasonIssued)
}

func getSecret(namespace, name string) *corev1.Secret {
	secret := &corev1.Secret{}
	Expect(k8sClient.Get(testCtx, types.NamespacedName{Namespace: namespace, Name: name}, secret)).To(Succeed())
	return secret
}

// leafOf parses the first certificate of a Secret's tls.crt.
func leafOf(secret *corev1.Secret) *x509.Certificate {
	block, _ := pem.Decode(secret.Data[corev1.TLSCertKey])
	Expect(block).NotTo(BeNil(), "tls.crt holds no PEM block")
	leaf, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return leaf
}

// csrsOf lists the CSRs of a DNSCertificate by the operator's labels.
func csrsOf(namespace, name string) []certificatesv1.CertificateSigningRequest {
	var list certificatesv1.CertificateSigningRequestList
	Expect(k8sClient.List(testCtx, &list, client.MatchingLabels{
		certsv1alpha1.LabelDNSCertificate:          name,
		certsv1alpha1.LabelDNSCertificateNamespace: namespace,
	})).To(Succeed())
	return list.Items
}

// secretNames lists the Secrets of a namespace.
func secretNames(namespace string) []string {
	var list corev1.SecretList
	Expect(k8sClient.List(testCtx, &list, client.InNamespace(namespace))).To(Succeed())
	names := make([]string, 0, len(list.Items))
	for _, secret := range list.Items {
		names = append(names, secret.Name)
	}
	return names
}

// serialOf returns the serial number of a certificate in hexadecimal, as the status shows it.
func serialOf(certificate *x509.Certificate) string {
	return fmt.Sprintf("%x", certificate.SerialNumber)
}

var _ = GinkgoWriter
