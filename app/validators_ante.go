package app

import (
	"context"

	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

// ValidatorApprovals is what the permissioned-validator check needs: the
// x/providers parameters, which list the approved validator operators.
type ValidatorApprovals interface {
	GetParams(ctx context.Context) (providerstypes.Params, error)
}

// PermissionedValidatorsDecorator refuses a transaction carrying a
// MsgCreateValidator or MsgEditValidator whose operator the consortium has not
// approved (x/providers params validator_operators, changed by governance). It
// runs in CheckTx, simulation and block execution alike, and for the genesis
// transactions (x/providers is initialised before genutil). Governance itself
// executes messages as the authority and does not pass through the ante handler;
// the chain has no x/authz, so no message can smuggle a validator creation in.
type PermissionedValidatorsDecorator struct {
	approvals ValidatorApprovals
	accCodec  address.Codec
	valCodec  address.Codec
}

// NewPermissionedValidatorsDecorator returns the decorator.
func NewPermissionedValidatorsDecorator(approvals ValidatorApprovals, accCodec, valCodec address.Codec) PermissionedValidatorsDecorator {
	return PermissionedValidatorsDecorator{approvals: approvals, accCodec: accCodec, valCodec: valCodec}
}

// AnteHandle implements sdk.AnteDecorator.
func (d PermissionedValidatorsDecorator) AnteHandle(ctx sdk.Context, tx sdk.Tx, simulate bool, next sdk.AnteHandler) (sdk.Context, error) {
	var params *providerstypes.Params
	for _, msg := range tx.GetMsgs() {
		var operator string
		switch m := msg.(type) {
		case *stakingtypes.MsgCreateValidator:
			operator = m.ValidatorAddress
		case *stakingtypes.MsgEditValidator:
			operator = m.ValidatorAddress
		default:
			continue
		}
		bz, err := d.valCodec.StringToBytes(operator)
		if err != nil {
			return ctx, errorsmod.Wrapf(providerstypes.ErrInvalidAddress, "validator address %q: %v", operator, err)
		}
		account, err := d.accCodec.BytesToString(bz)
		if err != nil {
			return ctx, err
		}
		if params == nil {
			p, err := d.approvals.GetParams(ctx)
			if err != nil {
				return ctx, err
			}
			params = &p
		}
		if !params.IsValidatorOperator(account) {
			return ctx, errorsmod.Wrapf(providerstypes.ErrValidatorNotApproved,
				"%s (operator %s) may not create or edit a validator: the consortium must first approve the account "+
					"(a governance proposal adding it to the x/providers params validator_operators)", account, operator)
		}
	}
	return next(ctx, tx, simulate)
}
