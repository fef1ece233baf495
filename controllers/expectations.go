package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// expectations remembers the objects a reconcile wrote, so the next reconcile can tell a cache
// that has not caught up yet from the truth. Without it, a reconcile that runs before the watch
// delivers its own writes would see the old certificate and issue a second time.
type expectations struct {
	mu sync.Mutex
	// written maps a DNSCertificate to the objects written for it, by kind and name, to the
	// resourceVersion written, or to "" for an object deleted.
	written map[types.NamespacedName]map[objectRef]string
}

// objectRef names an object written by the reconciler.
type objectRef struct {
	kind string
	name string
}

func newExpectations() *expectations {
	return &expectations{written: map[types.NamespacedName]map[objectRef]string{}}
}

// expect records that the object now has the given resourceVersion ("" when deleted).
func (e *expectations) expect(owner types.NamespacedName, ref objectRef, resourceVersion string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.written[owner] == nil {
		e.written[owner] = map[objectRef]string{}
	}
	e.written[owner][ref] = resourceVersion
}

// satisfied reports whether the cached resourceVersion of an object ("" when absent) is the
// one last written, and drops the expectation when it is. An object without an expectation
// is satisfied.
func (e *expectations) satisfied(owner types.NamespacedName, ref objectRef, cachedResourceVersion string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	want, ok := e.written[owner][ref]
	if !ok {
		return true
	}
	if want != cachedResourceVersion {
		return false
	}
	delete(e.written[owner], ref)
	if len(e.written[owner]) == 0 {
		delete(e.written, owner)
	}
	return true
}

// pending returns the names of objects of a kind with an outstanding expectation.
func (e *expectations) pending(owner types.NamespacedName, kind string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for ref := range e.written[owner] {
		if ref.kind == kind {
			names = append(names, ref.name)
		}
	}
	return names
}

// forget drops every expectation of a DNSCertificate.
func (e *expectations) forget(owner types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.written, owner)
}

// forgetObject drops the expectation of one object, for when a live read shows the cache is current.
func (e *expectations) forgetObject(owner types.NamespacedName, ref objectRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.written[owner], ref)
	if len(e.written[owner]) == 0 {
		delete(e.written, owner)
	}
}
