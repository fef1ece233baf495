package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PrivateKeyAlgorithm is the algorithm of the private key generated for each issuance.
// +kubebuilder:validation:Enum=ECDSA;RSA;Ed25519
type PrivateKeyAlgorithm string

const (
	ECDSAKeyAlgorithm   PrivateKeyAlgorithm = "ECDSA"
	RSAKeyAlgorithm     PrivateKeyAlgorithm = "RSA"
	Ed25519KeyAlgorithm PrivateKeyAlgorithm = "Ed25519"
)

// PrivateKeyEncoding is the PEM encoding of the private key in the Secret.
// +kubebuilder:validation:Enum=PKCS8;PKCS1
type PrivateKeyEncoding string

const (
	PKCS8KeyEncoding PrivateKeyEncoding = "PKCS8"
	PKCS1KeyEncoding PrivateKeyEncoding = "PKCS1"
)

// KeyUsage is a key usage as named by the certificates.k8s.io/v1 API.
// +kubebuilder:validation:Enum="digital signature";"key encipherment";"server auth";"client auth"
type KeyUsage string

const (
	UsageDigitalSignature KeyUsage = "digital signature"
	UsageKeyEncipherment  KeyUsage = "key encipherment"
	UsageServerAuth       KeyUsage = "server auth"
	UsageClientAuth       KeyUsage = "client auth"
)

// PrivateKey describes the private key generated for each issuance.
// +kubebuilder:validation:XValidation:rule="!has(self.encoding) || self.encoding != 'PKCS1' || (has(self.algorithm) && self.algorithm == 'RSA')",message="spec.privateKey.encoding: PKCS1 is only valid with algorithm RSA"
// +kubebuilder:validation:XValidation:rule="!has(self.size) || (has(self.algorithm) && self.algorithm == 'RSA')",message="spec.privateKey.size: only valid with algorithm RSA (ECDSA always uses P-256, Ed25519 has no size)"
type PrivateKey struct {
	// algorithm is the key algorithm: ECDSA (P-256), RSA or Ed25519.
	// +optional
	// +kubebuilder:default=ECDSA
	Algorithm PrivateKeyAlgorithm `json:"algorithm,omitempty"`

	// size is the RSA modulus size in bits: 2048 (the default for RSA), 3072 or 4096.
	// +optional
	// +kubebuilder:validation:Enum=2048;3072;4096
	Size int32 `json:"size,omitempty"`

	// encoding is the PEM encoding of the private key: PKCS8 or, for RSA only, PKCS1.
	// +optional
	// +kubebuilder:default=PKCS8
	Encoding PrivateKeyEncoding `json:"encoding,omitempty"`
}

// SecretTemplate holds labels and annotations copied onto the Secret.
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || self.labels.all(k, !k.startsWith('certs.dnscert.io/'))",message="spec.secretTemplate.labels: keys under certs.dnscert.io/ are reserved for the operator",fieldPath=".labels"
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || self.annotations.all(k, !k.startsWith('certs.dnscert.io/'))",message="spec.secretTemplate.annotations: keys under certs.dnscert.io/ are reserved for the operator",fieldPath=".annotations"
type SecretTemplate struct {
	// labels are copied onto the Secret.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are copied onto the Secret.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DNSCertificateSpec is the certificate a workload needs: its DNS names, the signer and the Secret.
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || duration(self.renewBefore) < duration(has(self.duration) ? self.duration : '2160h')",message="spec.renewBefore must be less than spec.duration",fieldPath=".renewBefore"
type DNSCertificateSpec struct {
	// secretName is the Secret, in the DNSCertificate's namespace, that receives the private key,
	// the certificate chain and the root bundle.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="spec.secretName must be a lower-case RFC 1123 subdomain, such as 'web-tls'"
	SecretName string `json:"secretName"`

	// dnsNames are the DNS subject alternative names: lower-case RFC 1123 names, with an optional
	// leading '*.' wildcard label, no trailing dot, no IP addresses, no duplicates.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self.all(n, n.matches('^(\\\\*\\\\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$'))",message="spec.dnsNames: each name must be a lower-case RFC 1123 DNS name with an optional leading '*.' label and no trailing dot"
	// +kubebuilder:validation:XValidation:rule="self.all(n, !isIP(n))",message="spec.dnsNames: IP addresses belong in spec.ipAddresses"
	DNSNames []string `json:"dnsNames"`

	// ipAddresses are the IP address subject alternative names.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="self.all(ip, isIP(ip))",message="spec.ipAddresses: each entry must be an IPv4 or IPv6 address"
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// signerName is the CertificateSigningRequest signer that signs the certificate.
	// Unset, the operator's default signer is used (certs.dnscert.io/local unless configured otherwise).
	// +optional
	// +kubebuilder:validation:MaxLength=571
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[^ ]+$')",message="spec.signerName must be a qualified name such as 'example.com/signer'"
	// +kubebuilder:validation:XValidation:rule="self != 'kubernetes.io/legacy-unknown' && self != 'kubernetes.io/kube-apiserver-client-kubelet' && self != 'kubernetes.io/kubelet-serving'",message="spec.signerName: the kubernetes.io legacy and kubelet signers cannot sign DNS certificates"
	SignerName string `json:"signerName,omitempty"`

	// duration is the requested lifetime of the certificate, sent to the signer as expirationSeconds.
	// The signer may issue a shorter one; renewal is computed from the issued certificate.
	// +optional
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10m')",message="spec.duration must be at least 10m, the CertificateSigningRequest API minimum"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('87600h')",message="spec.duration must be at most 87600h (10 years)"
	Duration *metav1.Duration `json:"duration,omitempty"`

	// renewBefore is how long before expiry the certificate is renewed. Unset, renewal happens at a
	// point between 70% and 90% of the issued lifetime, derived from the certificate itself.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="spec.renewBefore must be positive"
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// privateKey describes the private key generated for each issuance.
	// +optional
	// +kubebuilder:default={algorithm: ECDSA, encoding: PKCS8}
	PrivateKey PrivateKey `json:"privateKey,omitempty"`

	// usages are the key usages requested. Unset: digital signature and server auth, plus key
	// encipherment for RSA keys.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	Usages []KeyUsage `json:"usages,omitempty"`

	// secretTemplate holds labels and annotations copied onto the Secret.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`
}

// DNSCertificateStatus is the observed state of a DNSCertificate.
type DNSCertificateStatus struct {
	// conditions are Ready, Pending, Signed and Rotating.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation of the spec that this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// notBefore is the start of the validity period of the certificate in the Secret.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// notAfter is the expiry of the certificate in the Secret, as issued.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// renewalTime is when the operator renews the certificate.
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// serialNumber is the serial number of the certificate in the Secret, in hexadecimal.
	// +optional
	SerialNumber string `json:"serialNumber,omitempty"`

	// signerName is the signer that issued the certificate in the Secret.
	// +optional
	SignerName string `json:"signerName,omitempty"`

	// certificateSigningRequest is the name of the outstanding CertificateSigningRequest, if any.
	// +optional
	CertificateSigningRequest string `json:"certificateSigningRequest,omitempty"`

	// revision is the number of certificates issued so far.
	// +optional
	Revision int64 `json:"revision,omitempty"`

	// failedIssuanceAttempts is the number of consecutive failed issuances; it resets on success
	// and on a spec change.
	// +optional
	FailedIssuanceAttempts int32 `json:"failedIssuanceAttempts,omitempty"`

	// lastFailureTime is when the last issuance failed.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`
}

// DNSCertificate is a TLS certificate for a list of DNS names, issued through a
// CertificateSigningRequest and stored in a Secret.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dnscert;dnscerts,categories=all
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.secretName`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.notAfter`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Signer",type=string,JSONPath=`.status.signerName`,priority=1
// +kubebuilder:printcolumn:name="Renewal",type=string,JSONPath=`.status.renewalTime`,priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters, because it is copied into label values"
type DNSCertificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the certificate requested.
	// +required
	Spec DNSCertificateSpec `json:"spec"`

	// status is the certificate observed.
	// +optional
	Status DNSCertificateStatus `json:"status,omitempty"`
}

// DNSCertificateList is a list of DNSCertificates.
// +kubebuilder:object:root=true
type DNSCertificateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DNSCertificate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DNSCertificate{}, &DNSCertificateList{})
}
