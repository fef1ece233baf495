// Package pki generates keys and CSRs and parses and verifies certificates.
//
// Parsers in this package are strict: PEM input must hold only the expected blocks and
// whitespace, so that damaged Secret data is detected and not half-read. Private keys are
// wrapped in PrivateKey, which prints and marshals as REDACTED.
package pki
