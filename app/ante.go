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
	handler := sdk.ChainAnteDecorators(anteDecorators(opts)...)
	if opts.VerifiedTxCacheSize > 0 {
		return withVerifiedTxCache(newVerifiedTxs(opts.VerifiedTxCacheSize), handler), nil
	}
	return handler, nil
}

// anteDecorators is the ante chain, in order: the permissioned validator set,
// then the SDK's standard decorators exactly as x/auth/ante.NewAnteHandler
// (v0.53.8) builds them with default options. They are spelled out here, not
// taken from that function, because the verified-signature cache
// (sigcache.go) is only sound for the decorators it was reviewed against, and
// TestAnteDecoratorsReviewedForSigCache pins this list: on an SDK upgrade,
// compare with its NewAnteHandler and re-review the cache.
func anteDecorators(opts HandlerOptions) []sdk.AnteDecorator {
	return []sdk.AnteDecorator{
		NewPermissionedValidatorsDecorator(opts.ValidatorApprovals, opts.AccountCodec, opts.ValidatorCodec),
		// the SDK's first: it sets the gas meter the others charge
		ante.NewSetUpContextDecorator(),
		ante.NewExtensionOptionsDecorator(nil), // nil: every extension option is refused
		ante.NewValidateBasicDecorator(),
		ante.NewTxTimeoutHeightDecorator(),
		ante.NewValidateMemoDecorator(opts.AccountKeeper),
		ante.NewConsumeGasForTxSizeDecorator(opts.AccountKeeper),
		// fee grants, so providers can sponsor their patients' fees; nil: the
		// node's minimum gas prices in CheckTx
		ante.NewDeductFeeDecorator(opts.AccountKeeper, opts.BankKeeper, opts.FeegrantKeeper, nil),
		ante.NewSetPubKeyDecorator(opts.AccountKeeper), // before every signature decorator
		ante.NewValidateSigCountDecorator(opts.AccountKeeper),
		ante.NewSigGasConsumeDecorator(opts.AccountKeeper, ante.DefaultSigVerificationGasConsumer),
		ante.NewSigVerificationDecorator(opts.AccountKeeper, opts.SignModeHandler),
		ante.NewIncrementSequenceDecorator(opts.AccountKeeper),
	}
}
