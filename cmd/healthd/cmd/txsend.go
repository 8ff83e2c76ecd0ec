package cmd

import (
	"encoding/hex"
	"fmt"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
)

// sendAndWait signs msg with the --from key, broadcasts it, waits until it is in
// a block, and decodes the message's response into resp. Gas is estimated by
// simulation unless --gas is given. A transaction the chain rejects is an error
// carrying the chain's log.
func sendAndWait(cmd *cobra.Command, clientCtx client.Context, msg sdk.Msg, resp gogoproto.Message) error {
	return sendMsgsAndWait(cmd, clientCtx, []sdk.Msg{msg}, []gogoproto.Message{resp})
}

// sendMsgsAndWait is sendAndWait for several messages in one transaction (all
// commit or none): resps[i] receives the response of msgs[i].
func sendMsgsAndWait(cmd *cobra.Command, clientCtx client.Context, msgs []sdk.Msg, resps []gogoproto.Message) error {
	if len(msgs) == 0 || len(msgs) != len(resps) {
		return fmt.Errorf("internal: %d messages, %d responses", len(msgs), len(resps))
	}
	txf, err := tx.NewFactoryCLI(clientCtx, cmd.Flags())
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed(flags.FlagGas) {
		txf = txf.WithSimulateAndExecute(true).WithGasAdjustment(1.5)
	}
	if txf, err = txf.Prepare(clientCtx); err != nil {
		return err
	}
	if txf.SimulateAndExecute() {
		_, gas, err := tx.CalculateGas(clientCtx, txf, msgs...)
		if err != nil {
			return fmt.Errorf("the chain refuses the transaction: %w", err)
		}
		txf = txf.WithGas(gas)
	}
	builder, err := txf.BuildUnsignedTx(msgs...)
	if err != nil {
		return err
	}
	if err := tx.Sign(cmd.Context(), txf, clientCtx.FromName, builder, true); err != nil {
		return err
	}
	bz, err := clientCtx.TxConfig.TxEncoder()(builder.GetTx())
	if err != nil {
		return err
	}
	res, err := clientCtx.BroadcastTxSync(bz)
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("transaction rejected (code %d, codespace %q): %s", res.Code, res.Codespace, res.RawLog)
	}
	committed, err := waitForTx(cmd, clientCtx, res.TxHash, 60*time.Second)
	if err != nil {
		return err
	}
	data, err := hex.DecodeString(committed.Data)
	if err != nil {
		return fmt.Errorf("transaction %s: undecodable result: %w", res.TxHash, err)
	}
	var msgData sdk.TxMsgData
	if err := msgData.Unmarshal(data); err != nil || len(msgData.MsgResponses) != len(msgs) {
		return fmt.Errorf("transaction %s: %d message responses for %d messages", res.TxHash, len(msgData.MsgResponses), len(msgs))
	}
	for i, r := range msgData.MsgResponses {
		if err := gogoproto.Unmarshal(r.Value, resps[i]); err != nil {
			return fmt.Errorf("transaction %s: response %d: %w", res.TxHash, i, err)
		}
	}
	return nil
}
