// Package kmiptest helps protocol tests: a software root of trust, an
// executor on a real embedded store, and builders for request messages as
// a client encodes them. The real backends are tested in their own packages
// and end to end in integration/.
package kmiptest
