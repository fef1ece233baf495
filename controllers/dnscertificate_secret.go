package controllers

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// unknownResourceVersion is an expected resourceVersion that no object has, for an object
// whose state is unknown and must be read live.
const unknownResourceVersion = "unknown"

// secretContent is the key material and metadata the operator writes into a Secret.
type secretContent struct {
	chainPEM []byte
	keyPEM   []byte
	rootsPEM []byte
}

// desiredSecret returns the Secret as it should be: the current Secret (or a new one) with the
// content, labels, annotations and owner reference applied. It reports whether anything changed.
func (r *DNSCertificateReconciler) desiredSecret(obs *observation, content secretContent) (*corev1.Secret, bool, error) {
	certificate := obs.certificate
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: certificate.Namespace, Name: certificate.Spec.SecretName},
		Type:       corev1.SecretTypeTLS,
	}
	if obs.secret != nil {
		secret = obs.secret.DeepCopy()
	}
	before := secret.DeepCopy()

	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	setData(secret.Data, keyTLSCert, content.chainPEM)
	setData(secret.Data, keyIstioCert, content.chainPEM)
	setData(secret.Data, keyTLSKey, content.keyPEM)
	setData(secret.Data, keyIstioKey, content.keyPEM)
	setData(secret.Data, keyCACert, content.rootsPEM)
	setData(secret.Data, keyIstioRootCAs, content.rootsPEM)

	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	if template := certificate.Spec.SecretTemplate; template != nil {
		maps.Copy(secret.Labels, template.Labels)
		maps.Copy(secret.Annotations, template.Annotations)
	}
	secret.Labels[certsv1alpha1.LabelDNSCertificate] = certificate.Name
	secret.Annotations[certsv1alpha1.AnnotationSignerName] = obs.desired.signerName

	if err := controllerutil.SetControllerReference(certificate, secret, r.Scheme()); err != nil {
		return nil, false, err
	}

	changed := obs.secret == nil ||
		!maps.EqualFunc(before.Data, secret.Data, bytes.Equal) ||
		!maps.Equal(before.Labels, secret.Labels) ||
		!maps.Equal(before.Annotations, secret.Annotations) ||
		len(before.OwnerReferences) != len(secret.OwnerReferences)
	return secret, changed, nil
}

// setData sets a key, keeping the existing slice when the bytes are equal.
func setData(data map[string][]byte, key string, value []byte) {
	if !bytes.Equal(data[key], value) {
		data[key] = value
	}
}

// replaceSecret deletes an owned Secret of the wrong type and creates it again.
func (r *DNSCertificateReconciler) replaceSecret(ctx context.Context, current, secret *corev1.Secret) error {
	err := r.Delete(ctx, current, client.Preconditions{UID: &current.UID, ResourceVersion: &current.ResourceVersion})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	secret.ResourceVersion = ""
	secret.UID = ""
	secret.Type = corev1.SecretTypeTLS
	return r.Create(ctx, secret)
}

// writeSecret creates the Secret or updates it in place; it never deletes it. The update carries
// the resourceVersion that was read, so a concurrent change makes it fail instead of being lost.
func (r *DNSCertificateReconciler) writeSecret(ctx context.Context, obs *observation, content secretContent) error {
	secret, changed, err := r.desiredSecret(obs, content)
	if err != nil || !changed {
		return err
	}

	switch {
	case obs.secret == nil:
		err = r.Create(ctx, secret)
	case obs.secret.Type != corev1.SecretTypeTLS:
		// The type of a Secret cannot be updated. evaluateSecret rejects an owned Secret of
		// another type before any other check, so it holds no certificate worth keeping.
		err = r.replaceSecret(ctx, obs.secret, secret)
	default:
		err = r.Update(ctx, secret)
	}
	if apierrors.IsAlreadyExists(err) {
		// Someone created the Secret since it was last read live: an expectation that no
		// cached version satisfies makes the next reconcile read it live and see who owns it.
		r.expectations.expect(ownerKey(obs.certificate), objectRef{kindSecret, secret.Name}, unknownResourceVersion)
	}
	if err != nil {
		return fmt.Errorf("writing Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	r.expectations.expect(ownerKey(obs.certificate), objectRef{kindSecret, secret.Name}, secret.ResourceVersion)
	obs.secret = secret
	return nil
}

// deleteFormerSecrets deletes the Secrets this DNSCertificate owns under an earlier
// spec.secretName, once the current Secret holds a valid certificate.
func (r *DNSCertificateReconciler) deleteFormerSecrets(ctx context.Context, obs *observation) error {
	certificate := obs.certificate
	var list corev1.SecretList
	err := r.List(ctx, &list, client.InNamespace(certificate.Namespace),
		client.MatchingLabels{certsv1alpha1.LabelDNSCertificate: certificate.Name})
	if err != nil {
		return fmt.Errorf("listing Secrets of DNSCertificate %s: %w", ownerKey(certificate), err)
	}
	for i := range list.Items {
		secret := &list.Items[i]
		owner := metav1.GetControllerOf(secret)
		if owner == nil || owner.UID != certificate.UID || secret.Name == certificate.Spec.SecretName ||
			secret.Labels[certsv1alpha1.LabelPendingKey] != "" {
			continue
		}
		if err := r.deleteExact(ctx, secret); err != nil {
			return fmt.Errorf("deleting former Secret %s/%s: %w", secret.Namespace, secret.Name, err)
		}
		logf.FromContext(ctx).Info("Deleted the Secret of an earlier spec.secretName", "secret", secret.Name)
	}
	return nil
}
