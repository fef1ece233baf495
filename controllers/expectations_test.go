package controllers

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var (
	webCertificateKey = types.NamespacedName{Namespace: "default", Name: "web"}
	apiCertificateKey = types.NamespacedName{Namespace: "default", Name: "api"}
	webSecretRef      = objectRef{kind: kindSecret, name: "web-tls"}
	webPendingKeyRef  = objectRef{kind: kindSecret, name: "web-pending-key-0a1b2c3d"}
	webCSRRef         = objectRef{kind: kindCSR, name: "default-web-x7k2p"}
)

func TestExpectationsSatisfied(t *testing.T) {
	cases := []struct {
		name string
		// written is the resourceVersion expected for webSecretRef, or nil for no expectation.
		written *string
		// cached lists the resourceVersion the cache shows on each call, and want the expected result of that call.
		cached []string
		want   []bool
	}{
		{name: "is satisfied without an expectation", written: nil, cached: []string{"5"}, want: []bool{true}},
		{name: "is satisfied without an expectation for an absent object", written: nil, cached: []string{""}, want: []bool{true}},
		{name: "is satisfied when the cache shows the written version", written: ptr.To("7"), cached: []string{"7"}, want: []bool{true}},
		{name: "is not satisfied while the cache shows an older version", written: ptr.To("7"), cached: []string{"6", "6"}, want: []bool{false, false}},
		{name: "is not satisfied while the object is not cached yet", written: ptr.To("7"), cached: []string{""}, want: []bool{false}},
		{name: "becomes satisfied once the cache catches up", written: ptr.To("7"), cached: []string{"6", "7"}, want: []bool{false, true}},
		{name: "forgets the expectation once satisfied", written: ptr.To("7"), cached: []string{"7", "6"}, want: []bool{true, true}},
		{name: "is not satisfied while a deleted object is still cached", written: ptr.To(""), cached: []string{"7"}, want: []bool{false}},
		{name: "is satisfied once a deleted object leaves the cache", written: ptr.To(""), cached: []string{"7", ""}, want: []bool{false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newExpectations()
			if tc.written != nil {
				e.expect(webCertificateKey, webSecretRef, *tc.written)
			}
			for i, cached := range tc.cached {
				if got := e.satisfied(webCertificateKey, webSecretRef, cached); got != tc.want[i] {
					t.Errorf("satisfied() with cached version %q (call %d) = %v, want %v", cached, i+1, got, tc.want[i])
				}
			}
		})
	}
}

func TestExpectationsSeparateObjects(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webSecretRef, "7")

	if !e.satisfied(apiCertificateKey, webSecretRef, "6") {
		t.Errorf("satisfied() for another owner = false, want true")
	}
	if !e.satisfied(webCertificateKey, webPendingKeyRef, "6") {
		t.Errorf("satisfied() for another object = false, want true")
	}
	if !e.satisfied(webCertificateKey, objectRef{kind: kindCSR, name: webSecretRef.name}, "6") {
		t.Errorf("satisfied() for an object of another kind with the same name = false, want true")
	}
	if e.satisfied(webCertificateKey, webSecretRef, "6") {
		t.Errorf("satisfied() for the written object = true, want false")
	}
}

func TestExpectationsLaterWriteWins(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webSecretRef, "7")
	e.expect(webCertificateKey, webSecretRef, "9")

	if e.satisfied(webCertificateKey, webSecretRef, "7") {
		t.Errorf("satisfied() with the first written version = true, want false")
	}
	if !e.satisfied(webCertificateKey, webSecretRef, "9") {
		t.Errorf("satisfied() with the last written version = false, want true")
	}
}

func TestExpectationsForget(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webSecretRef, "7")
	e.expect(webCertificateKey, webCSRRef, "3")
	e.expect(apiCertificateKey, webSecretRef, "8")

	e.forget(webCertificateKey)

	if !e.satisfied(webCertificateKey, webSecretRef, "1") {
		t.Errorf("satisfied() for a forgotten Secret = false, want true")
	}
	if !e.satisfied(webCertificateKey, webCSRRef, "1") {
		t.Errorf("satisfied() for a forgotten CSR = false, want true")
	}
	if e.satisfied(apiCertificateKey, webSecretRef, "1") {
		t.Errorf("satisfied() for another owner's expectation = true, want false")
	}
}

func TestExpectationsForgetObject(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webSecretRef, "7")
	e.expect(webCertificateKey, webCSRRef, "3")

	e.forgetObject(webCertificateKey, webSecretRef)

	if !e.satisfied(webCertificateKey, webSecretRef, "1") {
		t.Errorf("satisfied() for the forgotten object = false, want true")
	}
	if e.satisfied(webCertificateKey, webCSRRef, "1") {
		t.Errorf("satisfied() for the other object = true, want false")
	}

	// Forgetting what is not expected does nothing.
	e.forgetObject(apiCertificateKey, webSecretRef)
	e.forgetObject(webCertificateKey, webPendingKeyRef)
	if got := e.pending(webCertificateKey, kindCSR); !slices.Equal(got, []string{webCSRRef.name}) {
		t.Errorf("pending() = %q, want %q", got, []string{webCSRRef.name})
	}
}

func TestExpectationsPending(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webSecretRef, "7")
	e.expect(webCertificateKey, webPendingKeyRef, "")
	e.expect(webCertificateKey, webCSRRef, "3")
	e.expect(webCertificateKey, objectRef{kind: kindCSR, name: "default-web-a1b2c"}, "")
	e.expect(apiCertificateKey, objectRef{kind: kindCSR, name: "default-api-q9w8e"}, "4")

	cases := []struct {
		name  string
		owner types.NamespacedName
		kind  string
		want  []string
	}{
		{name: "lists the CSRs of an owner", owner: webCertificateKey, kind: kindCSR, want: []string{"default-web-a1b2c", "default-web-x7k2p"}},
		{name: "lists the Secrets of an owner", owner: webCertificateKey, kind: kindSecret, want: []string{"web-pending-key-0a1b2c3d", "web-tls"}},
		{name: "lists only the owner's own objects", owner: apiCertificateKey, kind: kindCSR, want: []string{"default-api-q9w8e"}},
		{name: "lists nothing for a kind without expectations", owner: apiCertificateKey, kind: kindSecret, want: nil},
		{name: "lists nothing for an unknown owner", owner: types.NamespacedName{Namespace: "other", Name: "web"}, kind: kindCSR, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := e.pending(tc.owner, tc.kind)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("pending(%s, %s) = %q, want %q", tc.owner, tc.kind, got, tc.want)
			}
		})
	}
}

func TestExpectationsPendingDropsSatisfied(t *testing.T) {
	e := newExpectations()
	e.expect(webCertificateKey, webCSRRef, "3")

	if !e.satisfied(webCertificateKey, webCSRRef, "3") {
		t.Fatalf("satisfied() with the written version = false, want true")
	}
	if got := e.pending(webCertificateKey, kindCSR); len(got) != 0 {
		t.Errorf("pending() after the expectation was satisfied = %q, want none", got)
	}
}
