package controllers

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
	"github.com/dnscert/dnscert-operator/internal/signer"
)

var _ = Describe("DNSCertificate controller", func() {
	var namespace string

	BeforeEach(func() {
		namespace = createNamespace()
	})

	It("issues a verified certificate into an owned Secret", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc", "web.example")
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())

		ready := waitForReady(namespace, "web")
		secret := getSecret(namespace, "web-tls")

		By("writing both key sets into a kubernetes.io/tls Secret")
		Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
		for _, key := range []string{"tls.crt", "tls.key", "ca.crt", "cert-chain.pem", "key.pem", "root-cert.pem"} {
			Expect(secret.Data).To(HaveKey(key))
			Expect(secret.Data[key]).NotTo(BeEmpty(), "Secret key %s", key)
		}
		Expect(secret.Data["tls.crt"]).To(Equal(secret.Data["cert-chain.pem"]))
		Expect(secret.Data["tls.key"]).To(Equal(secret.Data["key.pem"]))
		Expect(secret.Data["ca.crt"]).To(Equal(secret.Data["root-cert.pem"]))

		By("owning and labelling the Secret")
		owner := metav1.GetControllerOf(secret)
		Expect(owner).NotTo(BeNil())
		Expect(owner.UID).To(Equal(ready.UID))
		Expect(secret.Labels).To(HaveKeyWithValue(certsv1alpha1.LabelDNSCertificate, "web"))

		By("issuing a certificate for the names, matching the key, chaining to the root")
		leaf := leafOf(secret)
		Expect(leaf.DNSNames).To(ConsistOf("web.example.svc", "web.example"))
		key, _, err := pki.ParsePrivateKeyPEM(secret.Data["tls.key"])
		Expect(err).NotTo(HaveOccurred())
		Expect(pki.PublicKeysEqual(key.Public(), leaf.PublicKey)).To(BeTrue())
		roots, err := pki.ParseCertificatesPEM(secret.Data["ca.crt"])
		Expect(err).NotTo(HaveOccurred())
		Expect(pki.VerifyChain(leaf, nil, roots, time.Now())).To(Succeed())

		By("using the root of the local signer's ClusterTrustBundle")
		bundle := &certificatesv1.ClusterTrustBundle{}
		Expect(k8sClient.Get(testCtx, client.ObjectKey{Name: signer.TrustBundleName(localSignerName)}, bundle)).To(Succeed())
		bundleRoots, err := pki.ParseCertificatesPEM([]byte(bundle.Spec.TrustBundle))
		Expect(err).NotTo(HaveOccurred())
		Expect(pki.Fingerprint(roots[0])).To(Equal(pki.Fingerprint(bundleRoots[0])))

		By("recording the certificate in the status")
		Expect(ready.Status.SerialNumber).To(Equal(serialOf(leaf)))
		Expect(ready.Status.NotAfter.Time).To(BeTemporally("~", leaf.NotAfter, time.Second))
		Expect(ready.Status.RenewalTime.Time).To(BeTemporally(">", leaf.NotBefore.Add(time.Duration(float64(leaf.NotAfter.Sub(leaf.NotBefore))*0.69))))
		Expect(ready.Status.RenewalTime.Time).To(BeTemporally("<", leaf.NotBefore.Add(time.Duration(float64(leaf.NotAfter.Sub(leaf.NotBefore))*0.91))))
		Expect(ready.Status.Revision).To(Equal(int64(1)))
		Expect(ready.Status.SignerName).To(Equal(localSignerName))
		signed, _ := conditionOf(ready, certsv1alpha1.ConditionSigned)
		Expect(signed).To(Equal(metav1.ConditionTrue))
		pendingStatus, pendingReason := conditionOf(ready, certsv1alpha1.ConditionPending)
		Expect(pendingStatus).To(Equal(metav1.ConditionFalse))
		Expect(pendingReason).To(Equal(certsv1alpha1.ReasonIdle))
		rotating, _ := conditionOf(ready, certsv1alpha1.ConditionRotating)
		Expect(rotating).To(Equal(metav1.ConditionFalse))

		By("deleting the CSR and the pending key Secret")
		Eventually(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty())
		Eventually(func() []string { return secretNames(namespace) }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(ConsistOf("web-tls"))
	})

	It("regenerates a deleted Secret", func() {
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example.svc"))).To(Succeed())
		waitForReady(namespace, "web")
		old := getSecret(namespace, "web-tls")
		oldSerial := serialOf(leafOf(old))

		Expect(k8sClient.Delete(testCtx, old)).To(Succeed())

		Eventually(func(g Gomega) {
			secret := &corev1.Secret{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(old), secret)).To(Succeed())
			g.Expect(secret.UID).NotTo(Equal(old.UID))
			g.Expect(serialOf(leafOf(secret))).NotTo(Equal(oldSerial))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
		Eventually(func() int64 { return getCertificate(namespace, "web").Status.Revision }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Equal(int64(2)))
	})

	It("reissues in place when a DNS name is added", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc")
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())
		waitForReady(namespace, "web")
		before := getSecret(namespace, "web-tls")

		certificate = getCertificate(namespace, "web")
		certificate.Spec.DNSNames = append(certificate.Spec.DNSNames, "web.example")
		Expect(k8sClient.Update(testCtx, certificate)).To(Succeed())

		Eventually(func(g Gomega) {
			secret := getSecret(namespace, "web-tls")
			g.Expect(leafOf(secret).DNSNames).To(ConsistOf("web.example.svc", "web.example"))
			g.Expect(secret.UID).To(Equal(before.UID), "the Secret is updated in place")
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
		after := waitForReady(namespace, "web")
		Expect(after.Status.Revision).To(Equal(int64(2)))
	})

	It("reissues when the key algorithm changes", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc")
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())
		waitForReady(namespace, "web")

		certificate = getCertificate(namespace, "web")
		certificate.Spec.PrivateKey = certsv1alpha1.PrivateKey{Algorithm: certsv1alpha1.RSAKeyAlgorithm, Size: 3072, Encoding: certsv1alpha1.PKCS1KeyEncoding}
		Expect(k8sClient.Update(testCtx, certificate)).To(Succeed())

		Eventually(func(g Gomega) {
			secret := getSecret(namespace, "web-tls")
			block, _ := pem.Decode(secret.Data["tls.key"])
			g.Expect(block).NotTo(BeNil())
			g.Expect(block.Type).To(Equal("RSA PRIVATE KEY"))
			description, err := pki.DescribePublicKey(leafOf(secret).PublicKey)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(description.Bits).To(Equal(3072))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
		waitForReady(namespace, "web")
	})

	It("leaves a Secret it does not own untouched", func() {
		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web-tls"},
			Data:       map[string][]byte{"password": []byte("hunter2")},
		}
		Expect(k8sClient.Create(testCtx, foreign)).To(Succeed())
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example.svc"))).To(Succeed())

		conflicted := waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSecretConflict)
		ready := findCondition(conflicted, certsv1alpha1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring("web-tls"))

		Consistently(func(g Gomega) {
			secret := getSecret(namespace, "web-tls")
			g.Expect(secret.ResourceVersion).To(Equal(foreign.ResourceVersion))
			g.Expect(csrsOf(namespace, "web")).To(BeEmpty())
		}).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	})

	It("gives a Secret named twice to the older DNSCertificate", func() {
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "first", "shared-tls", "first.example"))).To(Succeed())
		waitForReady(namespace, "first")
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "second", "shared-tls", "second.example"))).To(Succeed())

		conflicted := waitForCondition(namespace, "second", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSecretConflict)
		Expect(findCondition(conflicted, certsv1alpha1.ConditionReady).Message).To(ContainSubstring("first"))
		Expect(leafOf(getSecret(namespace, "shared-tls")).DNSNames).To(ConsistOf("first.example"))
		Expect(csrsOf(namespace, "second")).To(BeEmpty())
	})

	It("reports a failed CSR and keeps no request", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc")
		certificate.Spec.SignerName = silentSignerName
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())

		By("waiting with one approved CSR while nobody signs")
		waiting := waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		csrs := csrsOf(namespace, "web")
		Expect(csrs).To(HaveLen(1))
		Expect(waiting.Status.CertificateSigningRequest).To(Equal(csrs[0].Name))

		By("failing the CSR as its signer would")
		csr := csrs[0].DeepCopy()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "Unsupported", Message: "test signer refuses",
		})
		_, err := clientset.CertificatesV1().CertificateSigningRequests().UpdateStatus(testCtx, csr, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		failed := waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonFailed)
		Expect(findCondition(failed, certsv1alpha1.ConditionReady).Message).To(ContainSubstring("test signer refuses"))
		Expect(failed.Status.FailedIssuanceAttempts).To(Equal(int32(1)))
		pending, reason := conditionOf(failed, certsv1alpha1.ConditionPending)
		Expect(pending).To(Equal(metav1.ConditionTrue))
		Expect(reason).To(Equal(certsv1alpha1.ReasonBackoff))
		Eventually(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty())
	})

	It("deletes the CSR of a deleted DNSCertificate", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc")
		certificate.Spec.SignerName = silentSignerName
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		Expect(csrsOf(namespace, "web")).To(HaveLen(1))

		Expect(k8sClient.Delete(testCtx, certificate)).To(Succeed())
		Eventually(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty())
		Eventually(func() []string { return secretNames(namespace) }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty(), "the garbage collector deletes the pending key Secret")
	})

	It("renews before expiry and keeps the Secret", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example.svc")
		certificate.Spec.Duration = &metav1.Duration{Duration: 10 * time.Minute}
		certificate.Spec.RenewBefore = &metav1.Duration{Duration: 10*time.Minute - 3*time.Second}
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())
		first := waitForReady(namespace, "web")
		firstSecret := getSecret(namespace, "web-tls")

		Eventually(func(g Gomega) {
			renewed := getCertificate(namespace, "web")
			g.Expect(renewed.Status.Revision).To(BeNumerically(">=", 2))
			g.Expect(renewed.Status.SerialNumber).NotTo(Equal(first.Status.SerialNumber))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
		Expect(getSecret(namespace, "web-tls").UID).To(Equal(firstSecret.UID))
	})

	It("rejects invalid specs at admission with the field named", func() {
		cases := map[string]struct {
			mutate func(*certsv1alpha1.DNSCertificate)
			field  string
		}{
			"an upper-case DNS name": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"web.example", "Web.example"} },
				`spec.dnsNames[1]: Invalid value: "Web.example"`},
			"a trailing dot":      {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"web.example."} }, "spec.dnsNames"},
			"an IP as a DNS name": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"10.0.0.1"} }, "spec.dnsNames"},
			"no DNS names":        {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = nil }, "spec.dnsNames"},
			"a bad IP address":    {func(c *certsv1alpha1.DNSCertificate) { c.Spec.IPAddresses = []string{"10.0.0.300"} }, "spec.ipAddresses"},
			"the legacy signer": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.SignerName = "kubernetes.io/legacy-unknown" },
				"spec.signerName"},
			"a duration under ten minutes": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.Duration = &metav1.Duration{Duration: 5 * time.Minute} },
				"spec.duration"},
			"renewBefore above duration": {func(c *certsv1alpha1.DNSCertificate) {
				c.Spec.Duration = &metav1.Duration{Duration: time.Hour}
				c.Spec.RenewBefore = &metav1.Duration{Duration: 2 * time.Hour}
			}, "spec.renewBefore"},
			"PKCS1 with ECDSA": {func(c *certsv1alpha1.DNSCertificate) {
				c.Spec.PrivateKey = certsv1alpha1.PrivateKey{Encoding: certsv1alpha1.PKCS1KeyEncoding}
			}, "spec.privateKey.encoding"},
			"an upper-case Secret name": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.SecretName = "Web" }, "spec.secretName"},
			"an empty DNS name":         {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{""} }, "spec.dnsNames[0]"},
			"a wildcard inside a name": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"foo.*.example.com"} },
				"spec.dnsNames[0]"},
			"a 64-character label": {func(c *certsv1alpha1.DNSCertificate) {
				c.Spec.DNSNames = []string{strings.Repeat("a", 64) + ".example"}
			},
				"spec.dnsNames[0]"},
			"a 254-character name": {func(c *certsv1alpha1.DNSCertificate) {
				c.Spec.DNSNames = []string{strings.Repeat(strings.Repeat("a", 49)+".", 5) + "abcd"}
			}, "spec.dnsNames[0]"},
			"a duplicate DNS name": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"web.example", "web.example"} },
				"spec.dnsNames[1]"},
			"a signer name without a domain": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.SignerName = "local" }, "spec.signerName"},
			"an IP as a DNS name, with a hint": {func(c *certsv1alpha1.DNSCertificate) { c.Spec.DNSNames = []string{"10.0.0.1"} },
				"spec.ipAddresses"},
			"a reserved template label": {func(c *certsv1alpha1.DNSCertificate) {
				c.Spec.SecretTemplate = &certsv1alpha1.SecretTemplate{Labels: map[string]string{"certs.dnscert.io/dnscertificate": "other"}}
			}, "spec.secretTemplate.labels"},
		}
		By("rejecting an explicitly empty signerName, which typed Go clients cannot send")
		empty := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "certs.dnscert.io/v1alpha1", "kind": "DNSCertificate",
			"metadata": map[string]any{"namespace": namespace, "name": "empty-signer"},
			"spec":     map[string]any{"secretName": "web-tls", "dnsNames": []any{"web.example"}, "signerName": ""},
		}}
		err := k8sClient.Create(testCtx, empty)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.signerName"))

		for name, tc := range cases {
			certificate := newCertificate(namespace, "invalid", "web-tls", "web.example")
			tc.mutate(certificate)
			err := k8sClient.Create(testCtx, certificate)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "case %q: got %v", name, err)
			Expect(err.Error()).To(ContainSubstring(tc.field), "case %q", name)
		}
	})
})

var _ = Describe("DNSCertificate controller without auto-approval", Ordered, func() {
	BeforeAll(func() {
		startManager(managerOptions{autoApprove: false})
		DeferCleanup(func() { startManager(managerOptions{autoApprove: true}) })
	})

	It("waits for approval and reports a denial", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example.svc"))).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForApproval)

		csrs := csrsOf(namespace, "web")
		Expect(csrs).To(HaveLen(1))
		csr := csrs[0].DeepCopy()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "PolicyViolation", Message: "names outside the team's zone",
		})
		_, err := clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(testCtx, csr.Name, csr, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		denied := waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonDenied)
		Expect(findCondition(denied, certsv1alpha1.ConditionReady).Message).To(ContainSubstring("names outside the team's zone"))
		Expect(findCondition(denied, certsv1alpha1.ConditionSigned).Reason).To(Equal(certsv1alpha1.ReasonDenied))
	})

	It("leaves alone a Secret someone creates while a request is outstanding", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example.svc"))).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForApproval)

		foreign := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web-tls"},
			Data:       map[string][]byte{"password": []byte("hunter2")},
		}
		Expect(k8sClient.Create(testCtx, foreign)).To(Succeed())
		csr := csrsOf(namespace, "web")[0].DeepCopy()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "ApprovedByAdmin", Message: "looks fine",
		})
		_, err := clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(testCtx, csr.Name, csr, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSecretConflict)
		Eventually(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty())
		Expect(getSecret(namespace, "web-tls").ResourceVersion).To(Equal(foreign.ResourceVersion))
	})

	It("completes once someone approves", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example.svc"))).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForApproval)

		csr := csrsOf(namespace, "web")[0].DeepCopy()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "ApprovedByAdmin", Message: "looks fine",
		})
		_, err := clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(testCtx, csr.Name, csr, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		waitForReady(namespace, "web")
	})
})

func findCondition(certificate *certsv1alpha1.DNSCertificate, conditionType string) *metav1.Condition {
	for i := range certificate.Status.Conditions {
		if certificate.Status.Conditions[i].Type == conditionType {
			return &certificate.Status.Conditions[i]
		}
	}
	Fail("condition " + conditionType + " is missing")
	return nil
}

var _ = x509.Certificate{}
