package crypto

import (
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/cosmos/cosmos-sdk/crypto/keyring"
	"github.com/cosmos/cosmos-sdk/types/tx/signing"
)

// EncryptionKeyDomain is the fixed text an account signs to derive its
// encryption key. Changing it changes every account's key: it is versioned.
const EncryptionKeyDomain = "healthd encryption key v1: sign only to derive your healthd HPKE key"

// encryptionKeyInfo is the HKDF info of the derivation.
const encryptionKeyInfo = "healthd/hpke/MLKEM768X25519/v1"

// SignDoc returns the bytes an account signs to derive its encryption key: an
// ADR-036 document over EncryptionKeyDomain (see ADR036Doc).
func SignDoc(signer string) []byte { return ADR036Doc(signer, []byte(EncryptionKeyDomain)) }

// ADR036Doc returns the ADR-036 "sign arbitrary data" document for data: the amino
// JSON that Keplr's signArbitrary produces (sorted keys, no spaces, as the SDK's
// legacy StdSignBytes writes it). Hardware wallets sign only valid amino-JSON
// sign documents, so off-chain signatures in healthd (key derivation, vault
// requests) sign this rather than raw bytes.
func ADR036Doc(signer string, data []byte) []byte {
	type msgValue struct {
		Data   string `json:"data"`
		Signer string `json:"signer"`
	}
	type msg struct {
		Type  string   `json:"type"`
		Value msgValue `json:"value"`
	}
	type fee struct {
		Amount []struct{} `json:"amount"`
		Gas    string     `json:"gas"`
	}
	doc := struct {
		AccountNumber string `json:"account_number"`
		ChainID       string `json:"chain_id"`
		Fee           fee    `json:"fee"`
		Memo          string `json:"memo"`
		Msgs          []msg  `json:"msgs"`
		Sequence      string `json:"sequence"`
	}{
		AccountNumber: "0", Fee: fee{Amount: []struct{}{}, Gas: "0"},
		Msgs: []msg{{Type: "sign/MsgSignData", Value: msgValue{
			Data: base64.StdEncoding.EncodeToString(data), Signer: signer,
		}}},
		Sequence: "0",
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // fixed types: cannot fail
	}
	return b
}

// DeriveEncryptionKey derives an account's HPKE MLKEM768X25519 key pair from its
// signature over SignDoc: HKDF-SHA256 of the signature, then RFC 9180
// DeriveKeyPair. secp256k1 signatures in the SDK are deterministic (RFC 6979),
// so the same account always gets the same key, and its mnemonic restores it.
func DeriveEncryptionKey(signature []byte) (hpke.PrivateKey, error) {
	if len(signature) != 64 {
		return nil, fmt.Errorf("want a 64-byte secp256k1 signature (r||s), got %d bytes", len(signature))
	}
	ikm, err := hkdf.Key(sha256.New, signature, []byte("healthd"), encryptionKeyInfo, 64)
	if err != nil {
		return nil, err
	}
	return hpke.MLKEM768X25519().DeriveKeyPair(ikm)
}

// EncryptionKeyFromKeyring derives the encryption key of keyring entry uid: it
// signs SignDoc (amino JSON mode, so that Ledger devices can) and derives.
func EncryptionKeyFromKeyring(kr keyring.Keyring, uid string, signer string) (hpke.PrivateKey, error) {
	sig, _, err := kr.Sign(uid, SignDoc(signer), signing.SignMode_SIGN_MODE_LEGACY_AMINO_JSON)
	if err != nil {
		return nil, fmt.Errorf("sign the key-derivation document with %q: %w", uid, err)
	}
	return DeriveEncryptionKey(sig)
}
