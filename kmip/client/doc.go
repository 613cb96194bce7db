// Package client is a KMIP client: persistent connections over mutual TLS
// (TLS 1.2 or 1.3, a client certificate always presented), request
// messages built from the kmip/message model, response messages read
// item by item, and typed calls for the operations that `kmipctl kmip`
// and `kmipctl bench` use (Discover Versions, Query, Create, Register,
// Get, Locate, Get Attributes, Add Attribute, Activate, Revoke, Destroy).
//
// It speaks any protocol version from 1.0 to 2.1 and works against any
// KMIP server, not only this one: attributes are sent in the form the
// chosen version has (a Template-Attribute in 1.x, an Attributes structure
// in 2.x; KMIP 1.4 section 2.1, 2.1 section 2.1), and it relies on nothing
// that only kmip-adapter answers.
//
// A Conn carries one request at a time and is kept open between requests;
// a load generator opens one Conn per worker. Requests can also be encoded
// once (EncodeRequest) and sent many times (RoundTrip), which keeps the
// client's own cost out of a benchmark.
package client
