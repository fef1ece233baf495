package signer

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// DefaultCASecretName is the Secret, in the operator's namespace, that holds the signer's CA.
	DefaultCASecretName = "dnscert-local-signer-ca"

	// ManagedByLabel and ManagedByValue mark the objects the signer creates: the CA Secret and the ClusterTrustBundle.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "dnscert-operator"
)

// permanentError is a startup failure that retrying cannot fix, such as a missing namespace
// or a damaged CA Secret. It stops the manager, so the operator exits with the message.
type permanentError struct {
	err error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var permanent *permanentError
	return errors.As(err, &permanent)
}

// loadOrCreateCA reads the CA Secret and loads the CA in it, creating the Secret with
// a new CA first when it does not exist. An existing Secret is never overwritten.
func (c *Controller) loadOrCreateCA(ctx context.Context) (*CA, error) {
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.CASecretName}

	// The manager's cache holds only the Secrets of DNSCertificates, so read the CA Secret from the API server.
	var secret corev1.Secret
	err := c.APIReader.Get(ctx, key, &secret)
	if apierrors.IsNotFound(err) {
		err = c.createCASecret(ctx, key, &secret)
	}
	if err != nil {
		return nil, err
	}

	// TODO: the CA is never rotated. It is valid for ten years, and once it expires Sign returns
	// an error that names the expiry, so CertificateSigningRequests wait until someone replaces the Secret.
	ca, err := LoadCA(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, &permanentError{fmt.Errorf("loading the signer's CA from Secret %s: %w. "+
			"Put a CA certificate and its key under %q and %q, or delete the Secret to have a new CA created",
			key, err, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)}
	}
	return ca, nil
}

// createCASecret creates the CA Secret with a new CA and stores it in secret. When another
// instance of the operator created the Secret first, it reads that one instead.
func (c *Controller) createCASecret(ctx context.Context, key types.NamespacedName, secret *corev1.Secret) error {
	certPEM, keyPEM, err := NewCA(c.Clock.Now(), DefaultCAValidity)
	if err != nil {
		return err
	}
	*secret = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace,
			Name:      key.Name,
			Labels:    map[string]string{ManagedByLabel: ManagedByValue},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			corev1.TLSCertKey:       certPEM,
			corev1.TLSPrivateKeyKey: keyPEM,
		},
	}

	err = c.Client.Create(ctx, secret)
	switch {
	case err == nil:
		c.log.Info("Created the signer's CA Secret", "secret", key)
		return nil
	case apierrors.IsAlreadyExists(err):
		if err := c.APIReader.Get(ctx, key, secret); err != nil {
			return fmt.Errorf("reading CA Secret %s after another instance created it: %w", key, err)
		}
		return nil
	case apierrors.IsNotFound(err):
		// Creating an object in a missing namespace is the only way a create returns NotFound.
		return &permanentError{fmt.Errorf("creating CA Secret %s: namespace %q not found. "+
			"Create it, or run the operator with the namespace it is deployed in", key, key.Namespace)}
	default:
		return fmt.Errorf("creating CA Secret %s: %w", key, err)
	}
}
