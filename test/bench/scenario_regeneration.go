package main

import (
	"context"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// runRegeneration deletes the Secret of a Ready DNSCertificate -regenerations times. Each time it
// measures, through a watch, the time from the start of the delete request until the Secret
// exists again with a certificate of another serial number that verifies. Between rounds it waits
// until the DNSCertificate reports the new serial number and no outstanding request.
func (b *bench) runRegeneration(ctx context.Context) error {
	if err := b.ensureOperator(ctx); err != nil {
		return err
	}
	certificate, err := b.createCertificateAndWait(ctx, regenerationNamespace, "regeneration")
	if err != nil {
		return err
	}
	key := types.NamespacedName{Namespace: certificate.Namespace, Name: certificate.Name}

	durations := make([]time.Duration, 0, b.cfg.regenerations)
	for round := range b.cfg.regenerations {
		elapsed, serial, err := b.regenerateOnce(ctx, certificate.Namespace, certificate.Spec.SecretName)
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
		durations = append(durations, elapsed)
		serialHex := serial.Text(16)
		_, err = b.waitCertificate(ctx, key, func(c *certsv1alpha1.DNSCertificate) bool {
			return isSettled(c) && c.Status.SerialNumber == serialHex
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
	}

	p99 := percentile(durations, 0.99)
	b.report.add(scenarioRegeneration, fmt.Sprintf("deleted Secret back and verified, p50 of %d", len(durations)),
		percentile(durations, 0.50).Seconds(), "%.3f s")
	b.report.add(scenarioRegeneration, fmt.Sprintf("deleted Secret back and verified, p90 of %d", len(durations)),
		percentile(durations, 0.90).Seconds(), "%.3f s")
	b.report.addTarget(scenarioRegeneration, fmt.Sprintf("deleted Secret back and verified, p99 of %d", len(durations)),
		p99.Seconds(), "%.3f s", "< 0.1 s", p99 < 100*time.Millisecond)
	b.report.add(scenarioRegeneration, "deleted Secret back and verified, maximum", percentile(durations, 1).Seconds(), "%.3f s")
	return nil
}

// regenerateOnce deletes the Secret and waits for its verified replacement. It returns the time
// from the start of the delete request to the watch event that carried the replacement, and the
// replacement's serial number.
func (b *bench) regenerateOnce(ctx context.Context, namespace, name string) (time.Duration, *big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	secrets := b.clientset.CoreV1().Secrets(namespace)
	byName := fields.OneTermEqualSelector("metadata.name", name).String()

	list, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: byName})
	if err != nil {
		return 0, nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	if len(list.Items) != 1 {
		return 0, nil, fmt.Errorf("secret %s/%s does not exist before the delete", namespace, name)
	}
	old := &list.Items[0]
	oldSerial, err := verifySecret(old)
	if err != nil {
		return 0, nil, err
	}
	watcher, err := secrets.Watch(ctx, metav1.ListOptions{FieldSelector: byName, ResourceVersion: list.ResourceVersion})
	if err != nil {
		return 0, nil, fmt.Errorf("watching Secret %s/%s: %w", namespace, name, err)
	}
	defer watcher.Stop()

	start := time.Now()
	err = secrets.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}})
	if err != nil {
		return 0, nil, fmt.Errorf("deleting Secret %s/%s: %w", namespace, name, err)
	}
	for {
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("waiting for a new Secret %s/%s: %w", namespace, name, ctx.Err())
		case event, ok := <-watcher.ResultChan():
			received := time.Now()
			if !ok {
				return 0, nil, fmt.Errorf("waiting for a new Secret %s/%s: %w", namespace, name, errWatchClosed)
			}
			if event.Type == watch.Error {
				return 0, nil, fmt.Errorf("watching Secret %s/%s: %w", namespace, name, apierrors.FromObject(event.Object))
			}
			secret, ok := event.Object.(*corev1.Secret)
			if !ok || event.Type == watch.Deleted || secret.UID == old.UID {
				continue
			}
			serial, err := verifySecret(secret)
			if err != nil || serial.Cmp(oldSerial) == 0 {
				// The operator writes the Secret whole, so this is not expected. A later
				// event may still carry a valid certificate.
				continue
			}
			return received.Sub(start), serial, nil
		}
	}
}
