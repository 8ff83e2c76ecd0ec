package app

import (
	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"
	txsigning "cosmossdk.io/x/tx/signing"

	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	"github.com/cosmos/cosmos-sdk/x/auth/ante"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
)

// HandlerOptions are the dependencies of the healthd ante handler. It is its own
// type (not the SDK's) so that healthd decorators — the permissioned validator set,
// for one — can add their keepers here without touching the call site.
type HandlerOptions struct {
	AccountKeeper   ante.AccountKeeper
	BankKeeper      authtypes.BankKeeper
	FeegrantKeeper  ante.FeegrantKeeper
	SignModeHandler *txsigning.HandlerMap
	// ValidatorApprovals and the two codecs drive the permissioned validator set.
	ValidatorApprovals ValidatorApprovals
	AccountCodec       address.Codec
	ValidatorCodec     address.Codec
	// VerifiedTxCacheSize bounds the verified-signature cache (0: no cache).
	VerifiedTxCacheSize int
}

// NewAnteHandler returns the ante handler every transaction passes before its
// messages run: the permissioned validator set (only approved operators create
// or edit validators), then the SDK's standard chain (fees, with fee grants so
// providers can sponsor their patients' fees; signatures; sequences; gas for
// size and memo), behind the verified-signature cache (sigcache.go).
func NewAnteHandler(opts HandlerOptions) (sdk.AnteHandler, error) {
	if opts.AccountKeeper == nil || opts.BankKeeper == nil || opts.SignModeHandler == nil {
		return nil, errorsmod.Wrap(sdkerrors.ErrLogic, "account keeper, bank keeper and sign mode handler are required")
	}
	if opts.ValidatorApprovals == nil || opts.AccountCodec == nil || opts.ValidatorCodec == nil {
		return nil, errorsmod.Wrap(sdkerrors.ErrLogic, "the validator approvals and address codecs are required")
	}
	standard, err := ante.NewAnteHandler(ante.HandlerOptions{
		AccountKeeper:   opts.AccountKeeper,
		BankKeeper:      opts.BankKeeper,
		FeegrantKeeper:  opts.FeegrantKeeper,
		SignModeHandler: opts.SignModeHandler,
		SigGasConsumer:  ante.DefaultSigVerificationGasConsumer,
	})
	if err != nil {
		return nil, err
	}
	permissioned := NewPermissionedValidatorsDecorator(opts.ValidatorApprovals, opts.AccountCodec, opts.ValidatorCodec)
	handler := func(ctx sdk.Context, tx sdk.Tx, simulate bool) (sdk.Context, error) {
		return permissioned.AnteHandle(ctx, tx, simulate, standard)
	}
	if opts.VerifiedTxCacheSize > 0 {
		return withVerifiedTxCache(newVerifiedTxs(opts.VerifiedTxCacheSize), handler), nil
	}
	return handler, nil
}
