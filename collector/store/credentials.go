package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TokenIDLen is how many hex digits of a token's hash name it: enough that
// two live tokens never share an id, too few to say anything of the token.
const TokenIDLen = 12

// TokenID names a token by its hash, for lists and revocation.
func TokenID(hash []byte) string { return hex.EncodeToString(hash)[:TokenIDLen] }

// TokenEntry is a stored token: its hash and its record.
type TokenEntry struct {
	Hash   []byte
	Record TokenRecord
}

// ID is the entry's token id.
func (e TokenEntry) ID() string { return TokenID(e.Hash) }

// Tokens lists every token record, oldest first.
func (tx *Tx) Tokens() ([]TokenEntry, error) {
	var out []TokenEntry
	err := tx.tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var rec TokenRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("token %s: %w", TokenID(k), err)
		}
		out = append(out, TokenEntry{Hash: bytes.Clone(k), Record: rec})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Record.CreatedAt.Before(out[j].Record.CreatedAt) })
	return out, err
}

// TokenByID finds the token an id (or a longer prefix of its hash) names.
func (tx *Tx) TokenByID(id string) (TokenEntry, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < TokenIDLen || len(id) > 64 || len(id)%2 != 0 {
		return TokenEntry{}, fmt.Errorf("token id %q: want the %d hex digits `tokens list` shows", id, TokenIDLen)
	}
	prefix, err := hex.DecodeString(id)
	if err != nil {
		return TokenEntry{}, fmt.Errorf("token id %q: want the %d hex digits `tokens list` shows", id, TokenIDLen)
	}
	var found []TokenEntry
	c := tx.tx.Bucket(bucketTokens).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(found) < 2; k, v = c.Next() {
		var rec TokenRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return TokenEntry{}, fmt.Errorf("token %s: %w", TokenID(k), err)
		}
		found = append(found, TokenEntry{Hash: bytes.Clone(k), Record: rec})
	}
	switch len(found) {
	case 0:
		return TokenEntry{}, fmt.Errorf("token %s: %w", id, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return TokenEntry{}, fmt.Errorf("token id %s names more than one token: give more digits of its hash", id)
}

// PutTokenEntry stores a token record under its hash.
func (tx *Tx) PutTokenEntry(e TokenEntry) error {
	v, err := json.Marshal(e.Record)
	if err != nil {
		return err
	}
	return kvPut(tx.tx.Bucket(bucketTokens), e.Hash, v)
}

// NormalizeSerial writes a certificate serial the way the registry keys it:
// lowercase hex without colons or leading zeros.
func NormalizeSerial(s string) string {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	s = strings.TrimPrefix(s, "0x")
	if t := strings.TrimLeft(s, "0"); t != "" {
		s = t
	}
	return s
}

// PutAdminCert registers an issued admin certificate (or its revocation).
func (tx *Tx) PutAdminCert(c *pb.AdminCertificate) error {
	return putProto(tx.tx.Bucket(bucketAdminCerts), []byte(NormalizeSerial(c.GetSerial())), c)
}

// AdminCert returns the registered certificate with a serial.
func (tx *Tx) AdminCert(serial string) (*pb.AdminCertificate, error) {
	c := &pb.AdminCertificate{}
	if err := getProto(tx.tx.Bucket(bucketAdminCerts), []byte(NormalizeSerial(serial)), c); err != nil {
		return nil, fmt.Errorf("admin certificate %s: %w", serial, err)
	}
	return c, nil
}

// AdminCerts lists the registered admin certificates, oldest first.
func (tx *Tx) AdminCerts() ([]*pb.AdminCertificate, error) {
	var out []*pb.AdminCertificate
	err := tx.tx.Bucket(bucketAdminCerts).ForEach(func(k, v []byte) error {
		c := &pb.AdminCertificate{}
		if err := proto.Unmarshal(v, c); err != nil {
			return fmt.Errorf("admin certificate %s: %w", k, err)
		}
		out = append(out, c)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetIssuedAt().AsTime().Before(out[j].GetIssuedAt().AsTime()) })
	return out, err
}
