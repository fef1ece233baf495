package v1alpha1

// Condition types of a DNSCertificate.
const (
	// ConditionReady is True when the Secret holds a valid certificate that matches the current spec.
	ConditionReady = "Ready"
	// ConditionPending is True while a CertificateSigningRequest is outstanding or a retry is waiting.
	ConditionPending = "Pending"
	// ConditionSigned is True when the Secret holds a certificate the signer issued for the current
	// spec and the operator verified it.
	ConditionSigned = "Signed"
	// ConditionRotating is True while a valid certificate was in place and its replacement is being issued.
	ConditionRotating = "Rotating"
)

// Condition and event reasons. A reason names the cause, and the same constant is used for the
// condition and for the event that reports it.
const (
	// ReasonIssued: the Secret holds a verified certificate for the current spec.
	ReasonIssued = "Issued"
	// ReasonIdle: no CertificateSigningRequest is outstanding.
	ReasonIdle = "Idle"
	// ReasonNotRotating: no replacement is being issued.
	ReasonNotRotating = "NotRotating"

	// ReasonWaitingForApproval: the CertificateSigningRequest is waiting for someone to approve it.
	ReasonWaitingForApproval = "WaitingForApproval"
	// ReasonWaitingForSigner: the CertificateSigningRequest is approved and waiting for the signer.
	ReasonWaitingForSigner = "WaitingForSigner"
	// ReasonBackoff: the last issuance failed and the next attempt waits for the backoff to pass.
	ReasonBackoff = "Backoff"

	// ReasonSecretMissing: the Secret does not exist.
	ReasonSecretMissing = "SecretMissing"
	// ReasonSecretInvalid: the Secret lacks a key, holds unparsable data, or its two key sets disagree.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonKeyMismatch: the private key does not belong to the certificate.
	ReasonKeyMismatch = "KeyMismatch"
	// ReasonSANsChanged: the certificate's DNS names or IP addresses differ from the spec.
	ReasonSANsChanged = "SANsChanged"
	// ReasonPrivateKeyChanged: the key algorithm, size or encoding differs from the spec.
	ReasonPrivateKeyChanged = "PrivateKeyChanged"
	// ReasonUsagesChanged: the certificate's extended key usages differ from the spec.
	ReasonUsagesChanged = "UsagesChanged"
	// ReasonSignerChanged: the certificate was issued by another signer than the spec names.
	ReasonSignerChanged = "SignerChanged"
	// ReasonChainVerificationFailed: the certificate does not chain to the signer's root bundle.
	ReasonChainVerificationFailed = "ChainVerificationFailed"
	// ReasonExpired: the certificate has expired.
	ReasonExpired = "Expired"
	// ReasonRenewalDue: the renewal time has passed.
	ReasonRenewalDue = "RenewalDue"

	// ReasonSecretConflict: the Secret exists and belongs to someone else.
	ReasonSecretConflict = "SecretConflict"
	// ReasonDenied: the CertificateSigningRequest was denied.
	ReasonDenied = "Denied"
	// ReasonFailed: the signer marked the CertificateSigningRequest failed.
	ReasonFailed = "Failed"
	// ReasonInvalidCertificate: the signer returned a certificate that failed verification.
	ReasonInvalidCertificate = "InvalidCertificate"
	// ReasonApprovalForbidden: the operator may not approve CertificateSigningRequests for the signer.
	ReasonApprovalForbidden = "ApprovalForbidden"
	// ReasonSignerTimeout: the signer did not sign the approved request within the configured timeout.
	ReasonSignerTimeout = "SignerTimeout"
)

// Labels and annotations the operator puts on the objects it creates.
const (
	// LabelDNSCertificate names the DNSCertificate that owns a Secret or a CertificateSigningRequest.
	LabelDNSCertificate = "certs.dnscert.io/dnscertificate"
	// LabelDNSCertificateNamespace is the namespace of the DNSCertificate that created a CertificateSigningRequest.
	LabelDNSCertificateNamespace = "certs.dnscert.io/dnscertificate-namespace"
	// LabelDNSCertificateUID is the UID of the DNSCertificate that created a CertificateSigningRequest.
	LabelDNSCertificateUID = "certs.dnscert.io/dnscertificate-uid"
	// LabelPendingKey marks the temporary Secret that holds the private key of an outstanding request.
	LabelPendingKey = "certs.dnscert.io/pending-key"

	// AnnotationSignerName on a Secret is the signer that issued its certificate.
	AnnotationSignerName = "certs.dnscert.io/signer-name"
	// AnnotationCSRName on a pending key Secret is the CertificateSigningRequest that uses the key.
	AnnotationCSRName = "certs.dnscert.io/certificate-signing-request"
)
