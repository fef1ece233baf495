package pki

import (
	"bytes"
	"encoding/pem"
	"errors"
	"unicode"
)

// PEM block types read and written by this package.
const (
	pemTypeCertificate        = "CERTIFICATE"
	pemTypeCertificateRequest = "CERTIFICATE REQUEST"
	pemTypePKCS8PrivateKey    = "PRIVATE KEY"
	pemTypePKCS1PrivateKey    = "RSA PRIVATE KEY"
	pemTypeSEC1PrivateKey     = "EC PRIVATE KEY"
)

var pemBegin = []byte("-----BEGIN ")

// nextPEMBlock decodes the PEM block at the start of data, after leading whitespace, and
// returns it with the data that follows it. The block is nil when data contains only
// whitespace. Anything else before the block, or a malformed block, is an error.
func nextPEMBlock(data []byte) (*pem.Block, []byte, error) {
	data = bytes.TrimLeftFunc(data, unicode.IsSpace)
	if len(data) == 0 {
		return nil, nil, nil
	}
	if !bytes.HasPrefix(data, pemBegin) {
		return nil, nil, errors.New("found data that is not a PEM block")
	}

	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, errors.New("malformed PEM block")
	}

	// pem.Decode skips a malformed block and returns the next well-formed one, so a second
	// BEGIN line inside the consumed text means the first block was broken.
	consumed := data[:len(data)-len(rest)]
	if bytes.Contains(consumed[len(pemBegin):], pemBegin) {
		return nil, nil, errors.New("malformed PEM block")
	}
	return block, rest, nil
}

// decodeSinglePEMBlock decodes data that must contain exactly one PEM block and nothing else
// but whitespace.
func decodeSinglePEMBlock(data []byte) (*pem.Block, error) {
	block, rest, err := nextPEMBlock(data)
	if err != nil {
		return nil, err
	}
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("found data after the PEM block, but exactly one block is allowed")
	}
	return block, nil
}
