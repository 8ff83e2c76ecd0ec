package cmd

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/keys"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/crypto"
)

const flagOutFile = "out-file"

// keysCommand is the SDK's `keys` with healthd's `encryption-key`.
func keysCommand() *cobra.Command {
	cmd := keys.Commands()
	cmd.AddCommand(encryptionKeyCmd())
	return cmd
}

// encryptionKeyCmd prints (or writes) the HPKE public key derived from a key's
// account: what `tx consent register-patient` and `tx providers apply` take.
func encryptionKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encryption-key [name]",
		Short: "Show the account's encryption (HPKE MLKEM768X25519) public key, derived from its signing key",
		Long: "Derives the account's encryption key pair from a deterministic signature of its signing key over a fixed " +
			"document, so the mnemonic restores it and every keyring backend (a Ledger included) can derive it. Prints the " +
			"1216-byte public key in base64, or writes the raw bytes to --out-file for `tx consent register-patient` and " +
			"`tx providers apply`. The private key never leaves this process.",
		Example: "healthd keys encryption-key alice --out-file alice.key\nhealthd tx consent register-patient alice.key --from alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientQueryContext(cmd)
			if err != nil {
				return err
			}
			record, err := clientCtx.Keyring.Key(args[0])
			if err != nil {
				return fmt.Errorf("key %q: %w", args[0], err)
			}
			addr, err := record.GetAddress()
			if err != nil {
				return err
			}
			bech32, err := addresscodec.NewBech32Codec(chaincfg.Bech32Prefix).BytesToString(addr)
			if err != nil {
				return err
			}
			priv, err := crypto.EncryptionKeyFromKeyring(clientCtx.Keyring, args[0], bech32)
			if err != nil {
				return err
			}
			pub := priv.PublicKey().Bytes()
			if out, _ := cmd.Flags().GetString(flagOutFile); out != "" {
				if err := os.WriteFile(out, pub, 0o644); err != nil {
					return err
				}
				cmd.PrintErrf("wrote the %d-byte encryption public key of %s to %s\n", len(pub), bech32, out)
				return nil
			}
			cmd.Println(base64.StdEncoding.EncodeToString(pub))
			return nil
		},
	}
	cmd.Flags().String(flagOutFile, "", "write the raw public key to this file instead of printing it")
	flags.AddKeyringFlags(cmd.Flags())
	return cmd
}
