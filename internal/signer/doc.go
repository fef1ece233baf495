// Package signer is the operator's built-in CertificateSigningRequest signer,
// certs.dnscert.io/local. It keeps a self-signed CA in a Secret in the
// operator's namespace and publishes the CA in a ClusterTrustBundle. It signs
// approved CertificateSigningRequests for its signer name, and only for TLS
// server or client certificates whose SANs are DNS names and IP addresses.
package signer
