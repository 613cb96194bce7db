// Package object holds what a managed object is beyond its wire form: the
// lifecycle state machine (KMIP 1.4 section 3.22, 2.1 section 4.57) and the
// binding of sealed key material to the object it belongs to.
package object
